/**
 * The production shape: worker and API as separate processes against a Temporal server and
 * PostgreSQL. The API is ready, the worker polls the task queue, both stop cleanly on SIGTERM.
 */
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { EmbeddedTemporal } from '../../src/temporal/dev-server.js';
import { eventually, freePort, launchEntry } from '../support/processes.js';
import { startTestDevServer } from '../support/temporal.js';

let server: EmbeddedTemporal;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startTestDevServer();
  env = {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? os.homedir(),
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_TASK_QUEUE: 'prod-shape',
    DATABASE_URL: inject('postgresUrl'),
    PORT: String(await freePort()),
    DATA_DIR: await mkdtemp(path.join(os.tmpdir(), 'stickerflow-prod-data-')),
    LOG_LEVEL: 'info',
  };
});
afterAll(() => server?.stop());

const launch = (entry: string, extra: Record<string, string> = {}) => launchEntry(entry, { ...env, ...extra });

async function until(check: () => Promise<boolean>, what: string) {
  if (!(await eventually(check, 60_000))) throw new Error(`timed out waiting for ${what}`);
}

describe('worker and API as separate processes', () => {
  it('the API is ready and the worker polls; both stop on SIGTERM', async () => {
    const worker = launch('worker');
    const api = launch('api');
    try {
      await until(async () => (await fetch(`http://127.0.0.1:${env.PORT}/readyz`)).status === 200, `api ready\n${api.output()}`);
      const connection = await Connection.connect({ address: server.address });
      const client = new Client({ connection });
      await until(async () => {
        const res = await client.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: 'prod-shape' },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        });
        return (res.pollers ?? []).length > 0;
      }, `worker polling\n${worker.output()}`);
      await connection.close();
    } finally {
      worker.child.kill('SIGTERM');
      api.child.kill('SIGTERM');
    }
    expect(await worker.exited).toBe(0);
    expect(await api.exited).toBe(0);
  });

  it('refuse to run on the embedded database, which belongs to one process', async () => {
    const worker = launch('worker', { DATABASE_URL: '' });
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toContain('needs PostgreSQL: set DATABASE_URL');
  });
});
