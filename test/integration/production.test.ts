/**
 * The production shape: worker and API as separate processes against a Temporal server and
 * PostgreSQL. The API is ready, the worker polls the task queue, both stop cleanly on SIGTERM;
 * with AI and media work on task queues of their own, served by workers of their own, an
 * animation runs each step where it belongs; two API processes on one PostgreSQL share one
 * limit of new customers.
 */
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
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
    // Every test file's processes on the shared database make customers from 127.0.0.1, and the
    // limit is counted in that database across them all.
    NEW_CUSTOMERS_PER_HOUR: '100000',
  };
});
afterAll(() => server?.stop());

const launch = (entry: string, extra: Record<string, string> = {}) => launchEntry(entry, { ...env, ...extra });

/** Start-up includes bundling the workflows and loading the models: slow when the machine is busy. */
async function until(check: () => Promise<boolean>, what: string) {
  if (!(await eventually(check, 120_000))) throw new Error(`timed out waiting for ${what}`);
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
  }, 180_000);

  it('AI and media on queues of their own: each step runs on its queue, served by its own worker', async () => {
    const queues = { TEMPORAL_TASK_QUEUE: 'split-main', TEMPORAL_AI_TASK_QUEUE: 'split-ai', TEMPORAL_MEDIA_TASK_QUEUE: 'split-media' };
    const api = launch('api', queues);
    const workers = (['workflows', 'ai', 'media'] as const).map((role) => launch('worker', { ...queues, WORKER_ROLES: role }));
    const base = `http://127.0.0.1:${env.PORT}`;
    const connection = await Connection.connect({ address: server.address });
    try {
      await until(async () => (await fetch(`${base}/readyz`)).status === 200, `api ready\n${api.output()}`);
      const { apiKey } = (await (await fetch(`${base}/api/customers/api-keys`, { method: 'POST' })).json()) as { apiKey: string };
      const form = new FormData();
      const photo = await readFile(path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/photos/astronaut.png'));
      form.append('photo', new Blob([new Uint8Array(photo)]), 'astronaut.png');
      const created = await fetch(`${base}/api/animations`, { method: 'POST', body: form, headers: { authorization: `Bearer ${apiKey}` } });
      const { id } = (await created.json()) as { id: string };
      let status = '';
      const finished = await eventually(async () => {
        status = ((await (await fetch(`${base}/api/animations/${id}`)).json()) as { status: string }).status;
        return status !== 'running';
      }, 180_000);
      expect(finished && status, workers.map((w) => w.output()).join('\n')).toBe('succeeded');

      const history = await new Client({ connection }).workflow.getHandle(`animation:${id}`).fetchHistory();
      const queueOf = new Map<string, string>();
      for (const e of history.events ?? []) {
        const a = e.activityTaskScheduledEventAttributes;
        if (a) queueOf.set(a.activityType!.name!, a.taskQueue!.name!);
      }
      expect(Object.fromEntries(queueOf)).toMatchObject({
        chargeCredits: 'split-main',
        moderatePhoto: 'split-ai',
        segmentImage: 'split-ai',
        pollAnimation: 'split-ai',
        fetchAnimationFrames: 'split-ai',
        transcodeAnimation: 'split-media',
        renderPoster: 'split-media',
      });
    } finally {
      await connection.close();
      for (const p of [api, ...workers]) p.child.kill('SIGTERM');
    }
    for (const p of [api, ...workers]) expect(await p.exited).toBe(0);
  }, 240_000);

  it('two API processes on one PostgreSQL share one limit per address: new customers, and uploads', async () => {
    // A database of its own: the limit's counters for 127.0.0.1 start at nothing.
    const name = `limits_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: inject('postgresUrl') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(inject('postgresUrl'));
    url.pathname = `/${name}`;
    const ports = [await freePort(), await freePort()];
    const apis = ports.map((port) =>
      launch('api', { DATABASE_URL: url.href, PORT: String(port), NEW_CUSTOMERS_PER_HOUR: '3', UPLOADS_PER_MINUTE: '2', TEMPORAL_TASK_QUEUE: 'limits' }),
    );
    const db = new pg.Client({ connectionString: url.href });
    try {
      for (const [i, port] of ports.entries()) {
        await until(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, `api ${i} ready\n${apis[i]!.output()}`);
      }
      const answers: { port: number; status: number; retryAfter: string | null; body: unknown }[] = [];
      for (let i = 0; i < 8; i++) {
        const port = ports[i % 2]!;
        const res = await fetch(`http://127.0.0.1:${port}/api/customers/api-keys`, { method: 'POST' });
        answers.push({ port, status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() });
      }
      expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 429, 429, 429, 429, 429]);
      for (const a of answers.filter((a) => a.status === 429)) {
        expect(Number(a.retryAfter)).toBeGreaterThan(0);
        expect(a.body).toMatchObject({ error: { code: 'rate_limited', message: expect.stringContaining('at most 3 an hour') } });
      }
      // Both processes refused: neither counts for itself.
      expect(new Set(answers.filter((a) => a.status === 429).map((a) => a.port))).toEqual(new Set(ports));
      await db.connect();
      expect((await db.query('SELECT count(*)::int AS n FROM customers')).rows[0]).toEqual({ n: 3 });
      expect((await db.query('SELECT count(*)::int AS n FROM api_keys')).rows[0]).toEqual({ n: 3 });

      // Uploads too: 2 a minute from this address, whichever process takes them.
      const { apiKey } = answers[0]!.body as { apiKey: string };
      const photo = await readFile(path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/photos/astronaut.png'));
      const uploads: number[] = [];
      for (let i = 0; i < 4; i++) {
        const form = new FormData();
        form.append('photo', new Blob([new Uint8Array(photo)]), 'astronaut.png');
        const res = await fetch(`http://127.0.0.1:${ports[i % 2]}/api/animations`, { method: 'POST', body: form, headers: { authorization: `Bearer ${apiKey}` } });
        uploads.push(res.status);
        await res.body?.cancel();
      }
      expect(uploads).toEqual([202, 202, 429, 429]);
    } finally {
      for (const p of apis) p.child.kill('SIGTERM');
      await Promise.all(apis.map((p) => p.exited));
      await db.end().catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${name}`).catch(() => undefined);
      await admin.end();
    }
    for (const p of apis) expect(await p.exited).toBe(0);
  }, 180_000);

  it('refuse to run on the embedded database, which belongs to one process', async () => {
    const worker = launch('worker', { DATABASE_URL: '' });
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toContain('needs PostgreSQL: set DATABASE_URL');
  });
});
