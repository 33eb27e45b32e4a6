/**
 * The paid-work wrapper end to end on the real Temporal CLI dev server, started by the same code
 * `npm start` uses, with the ledger on real PostgreSQL; and the dev server keeping workflows
 * across a restart on the same data folder.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAlertActivities } from '../../src/activities/alerts.js';
import { createLedgerActivities } from '../../src/activities/ledger.js';
import { openPostgres, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { CreditLedger } from '../../src/ledger/ledger.js';
import { startDevServer, type EmbeddedTemporal } from '../../src/temporal/dev-server.js';
import { paidFixtureWorkflow, paidStateQuery } from '../fixtures/workflows.js';
import { freePort } from '../support/processes.js';
import { RecordingAlertChannel } from '../support/recording-alerts.js';
import { bundle, temporalCliPath } from '../support/temporal.js';

let db: Database;
let ledger: CreditLedger;
let dataDir: string;
let ports: { port: number; uiPort: number };
let server: EmbeddedTemporal | undefined;

const start = () => startDevServer({ executable: temporalCliPath(), dataDir, ...ports, namespace: 'default' });

async function connect(address: string) {
  const connection = await Connection.connect({ address });
  return { client: new Client({ connection }), close: () => connection.close() };
}

beforeAll(async () => {
  db = await openPostgres(inject('postgresUrl'));
  await migrate(db);
  ledger = new CreditLedger(db);
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-dev-'));
  ports = { port: await freePort(), uiPort: await freePort() };
  server = await start();
});
afterAll(async () => {
  await server?.stop();
  await db?.close();
});

describe('on the real dev server', () => {
  it('serves the Web UI', async () => {
    const res = await fetch(`http://127.0.0.1:${ports.uiPort}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<html');
  });

  it('charges once, and on failure refunds once and alerts once', async () => {
    const accountId = `acct-${randomUUID()}`;
    await ledger.openAccount(accountId, 3);
    const alerts = new RecordingAlertChannel();
    const taskQueue = `it-${randomUUID()}`;
    const connection = await NativeConnection.connect({ address: server!.address });
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowBundle: await bundle(),
      activities: {
        ...createLedgerActivities({ ledger }),
        ...createAlertActivities({ channels: [alerts], temporalUiUrl: server!.uiUrl, namespace: 'default' }),
        performStep: async (name: string) => {
          if (name === 'segment') throw ApplicationFailure.nonRetryable('mask is empty', 'EmptyMask');
          return `${name} done`;
        },
      },
    });
    const { client, close } = await connect(server!.address);
    try {
      await worker.runUntil(async () => {
        const ok = await client.workflow.execute(paidFixtureWorkflow, {
          taskQueue,
          workflowId: `it-ok-${randomUUID()}`,
          args: [{ accountId, steps: ['moderate'] }],
        });
        expect(ok).toEqual(['moderate done']);
        const failed = await client.workflow
          .execute(paidFixtureWorkflow, { taskQueue, workflowId: `it-fail-${randomUUID()}`, args: [{ accountId, steps: ['moderate', 'segment'] }] })
          .catch((e: unknown) => e);
        expect(failed).toBeInstanceOf(WorkflowFailedError);
      });
    } finally {
      await close();
      await connection.close();
    }
    expect((await ledger.entries(accountId)).map((e) => e.kind)).toEqual(['grant', 'charge', 'charge', 'refund']);
    expect(await ledger.balance(accountId)).toBe(2);
    expect(alerts.sent).toHaveLength(1);
    expect(alerts.sent[0]).toMatchObject({ failedStep: 'segment', error: 'EmptyMask: mask is empty' });
    expect(alerts.sent[0]!.temporalUiUrl).toContain(`http://localhost:${ports.uiPort}/namespaces/default/workflows/it-fail-`);
  });

  it('keeps a running workflow across a restart on the same data folder, and still refunds it on cancel', async () => {
    const accountId = `acct-${randomUUID()}`;
    await ledger.openAccount(accountId, 3);
    const alerts = new RecordingAlertChannel();
    const taskQueue = `it-${randomUUID()}`;
    const workflowId = `it-restart-${randomUUID()}`;
    const activities = {
      ...createLedgerActivities({ ledger }),
      ...createAlertActivities({ channels: [alerts], temporalUiUrl: server!.uiUrl, namespace: 'default' }),
      performStep: async (name: string) => `${name} done`,
    };
    const runWorker = async <T>(fn: (client: Client) => Promise<T>) => {
      const connection = await NativeConnection.connect({ address: server!.address });
      const worker = await Worker.create({ connection, taskQueue, workflowBundle: await bundle(), activities });
      const { client, close } = await connect(server!.address);
      try {
        return await worker.runUntil(() => fn(client));
      } finally {
        await close();
        await connection.close();
      }
    };

    await runWorker(async (client) => {
      const handle = await client.workflow.start(paidFixtureWorkflow, { taskQueue, workflowId, args: [{ accountId, steps: ['moderate', 'sleep:7 days'] }] });
      while ((await handle.query(paidStateQuery)).step !== 'sleep:7 days') await new Promise((r) => setTimeout(r, 100));
    });

    await server!.stop();
    server = await start();

    await runWorker(async (client) => {
      const handle = client.workflow.getHandle(workflowId);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect((await handle.query(paidStateQuery)).charge?.amount).toBe(1);
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });
    expect((await ledger.entries(accountId)).map((e) => e.kind)).toEqual(['grant', 'charge', 'refund']);
    expect(alerts.sent.map((a) => a.failedStep)).toEqual(['cancelled during sleep:7 days']);
  });
});
