/**
 * Chaos: the worker process is SIGKILLed in the middle of an animation — while the animation job
 * is being made (local back end), while polling a slow job at fal (the fal fake holds it), and
 * while transcoding — and a new worker takes over. The workflow must finish with one charge, no
 * refund and the animation job submitted once (at fal: one video request and one matting
 * request). Production shape: API and worker as separate processes on the real dev server and
 * PostgreSQL.
 */
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/database.js';
import type { EmbeddedTemporal } from '../../src/temporal/dev-server.js';
import { ANIMATE, MATTE_VIDEO } from '../../src/models/fal/endpoints.js';
import { animationWorkflowId } from '../../src/workflows/animation/api.js';
import { FakeFal } from '../fakes/fal.js';
import { eventually, freePort, launchEntry, type Launched } from '../support/processes.js';
import { startTestDevServer } from '../support/temporal.js';

const photos = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/photos');
let server: EmbeddedTemporal;
let db: Database;
let client: Client;
let env: Record<string, string>;
let api: Launched;
let base: string;
let fal: FakeFal;

beforeAll(async () => {
  server = await startTestDevServer();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  env = {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? os.homedir(),
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_TASK_QUEUE: `chaos-${randomUUID()}`,
    DATABASE_URL: inject('postgresUrl'),
    DATA_DIR: await mkdtemp(path.join(os.tmpdir(), 'chaos-data-')), // blobs shared by API and workers
    PORT: String(port),
    LOG_LEVEL: 'warn',
    // Every customer here comes from 127.0.0.1, on a database other test files share.
    NEW_CUSTOMERS_PER_HOUR: '100000',
  };
  api = launchEntry('api', env);
  if (!(await eventually(async () => (await fetch(`${base}/readyz`)).status === 200, 60_000))) throw new Error(api.output());
  db = await openPostgres(inject('postgresUrl'));
  client = new Client({ connection: await Connection.connect({ address: server.address }) });
  fal = await new FakeFal({ key: 'chaos:key', jobMs: 500 }).start();
}, 120_000);
afterAll(async () => {
  await fal?.stop();
  api?.child.kill('SIGTERM');
  await api?.exited;
  await client?.connection.close();
  await db?.close();
  await server?.stop();
});

type Backend = 'local' | 'fal';
const startWorker = (backend: Backend) =>
  launchEntry('worker', backend === 'fal' ? { ...env, MODEL_BACKEND: 'fal', FAL_KEY: 'chaos:key', FAL_BASE_URL: fal.url } : env);

async function killDuring(step: 'animate' | 'poll' | 'transcode', backend: Backend = 'local') {
  const { apiKey, customerId } = (await (await fetch(`${base}/api/customers/api-keys`, { method: 'POST' })).json()) as { apiKey: string; customerId: string };
  const form = new FormData();
  form.append('photo', new Blob([new Uint8Array(await readFile(path.join(photos, 'astronaut.png')))]), 'astronaut.png');
  const created = await fetch(`${base}/api/animations`, { method: 'POST', body: form, headers: { authorization: `Bearer ${apiKey}` } });
  const { id } = (await created.json()) as { id: string };
  const status = async () => (await (await fetch(`${base}/api/animations/${id}`)).json()) as { status: string };

  const videosBefore = fal.submissionsTo(ANIMATE).length;
  if (step === 'poll') fal.hold(ANIMATE); // the video job stays in progress until the new worker is up
  let worker = startWorker(backend);
  // Kill while one of the step's activities is running, as the server sees it.
  // (The local back end's job is done when submitted, so its poll is over at once: the frames
  // being drawn, seconds long, are what a kill can reliably land in.)
  const target = { animate: ['fetchAnimationFrames'], poll: ['pollAnimation'], transcode: ['transcodeAnimation'] }[step];
  const handle = client.workflow.getHandle(animationWorkflowId(id));
  const running = async () =>
    ((await handle.describe()).raw.pendingActivities ?? []).some(
      (a) => target.includes(a.activityType?.name ?? '') && a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
    );
  const reached = await eventually(running, 120_000);
  expect(reached, worker.output()).toBe(true);
  worker.child.kill('SIGKILL');
  await worker.exited;

  worker = startWorker(backend);
  fal.release();
  try {
    const finished = await eventually(async () => (await status()).status !== 'running', 180_000);
    expect(finished, worker.output()).toBe(true);
    expect((await status()).status).toBe('succeeded');
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }

  const kinds = (await db.query<{ kind: string }>('SELECT kind FROM ledger_entries WHERE account_id = $1 ORDER BY id', [customerId])).map((r) => r.kind);
  expect(kinds).toEqual(['grant', 'charge']); // charged once, never refunded

  const history = await client.workflow.getHandle(animationWorkflowId(id)).fetchHistory();
  const scheduled = new Map<string, string>(); // event id → activity type
  const starts: { type: string; attempt: number }[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType!.name!);
    const st = e.activityTaskStartedEventAttributes;
    if (st) starts.push({ type: scheduled.get(String(st.scheduledEventId))!, attempt: st.attempt ?? 1 });
  }
  const types = [...scheduled.values()];
  expect(types.filter((t) => t === 'chargeCredits')).toHaveLength(1);
  expect(types.filter((t) => t === 'submitAnimation')).toHaveLength(1);
  expect(starts.filter((s) => s.type === 'submitAnimation').map((s) => s.attempt)).toEqual([1]);
  if (backend === 'fal') {
    expect(fal.submissionsTo(ANIMATE).length - videosBefore).toBe(1);
    expect(fal.submissionsTo(MATTE_VIDEO).filter((s) => s.at >= fal.submissionsTo(ANIMATE).at(-1)!.at)).toHaveLength(1);
  }
  // The step the worker died in ran again on the new worker.
  const retried = starts.filter((s) => s.attempt > 1).map((s) => s.type);
  expect(retried.length).toBeGreaterThan(0);
  return retried;
}

describe('a worker killed mid-animation', () => {
  it('while the animation is being made: resumes the same job, one charge, one submission', async () => {
    const retried = await killDuring('animate');
    expect(retried).toContain('fetchAnimationFrames');
  }, 400_000);

  it('while polling a slow fal job: the new worker polls the same job, one video and one matting request', async () => {
    const retried = await killDuring('poll', 'fal');
    expect(retried).toContain('pollAnimation');
  }, 400_000);

  it('while transcoding: the transcode restarts elsewhere, one charge, one submission', async () => {
    const retried = await killDuring('transcode');
    expect(retried.some((t) => t === 'transcodeAnimation' || t === 'renderPoster')).toBe(true);
  }, 400_000);
});
