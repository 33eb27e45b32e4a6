/**
 * The workflows' records in the database, over real HTTP, on the real Temporal dev server: the
 * real animation and order workflows write their status through the real record activities into
 * PGlite as they move, and the routes answer from those records — when Temporal no longer knows
 * the workflow, and while the worker is down. A finished buddy can be reordered whatever
 * Temporal still remembers.
 *
 * "No longer knows": a second app whose Temporal client is on a namespace of its own, where none
 * of these workflows ever ran — what the API sees once retention has deleted them. (Deleting for
 * real was tried first: the dev server accepts DeleteWorkflowExecution, but still describes the
 * closed workflow half a minute later, so a test could not wait for it.)
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordActivities } from '../../src/activities/records.js';
import { AnimationRepository } from '../../src/animations/repository.js';
import { animationRoutes } from '../../src/api/animations.js';
import { createApp } from '../../src/api/app.js';
import { orderRoutes } from '../../src/api/orders.js';
import { Customers } from '../../src/customers/customers.js';
import type { Database } from '../../src/db/database.js';
import type { CreditLedger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_PHOTO_LIMITS } from '../../src/media/photo.js';
import { PrintFileUrls } from '../../src/orders/print-file-url.js';
import { OrderRepository } from '../../src/orders/repository.js';
import { OrderAccessTokens } from '../../src/orders/access-token.js';
import { LocalPayments } from '../../src/payments/local.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { animationWorkflowId, ANIMATION_WORKFLOW_TYPE } from '../../src/workflows/animation/api.js';
import { orderWorkflowId, paymentReceivedSignal, printerEventSignal } from '../../src/workflows/sticker-order/api.js';
import { openLedger, paidWorkActivities } from '../support/ledger.js';
import { testLimiter } from '../support/limits.js';
import { gatedAnimation, OrderWorld, printerEvent, shipping } from '../support/orders.js';
import { eventually, freePort } from '../support/processes.js';
import { bundle, devServerEnv } from '../support/temporal.js';

const workflowsPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/workflows/index.ts');
let env: TestWorkflowEnvironment;
let db: Database;
let ledger: CreditLedger;
let server: Server;
let base: string;
let forgetful: Server;
let other: Client;
/** The app whose Temporal has forgotten every workflow of this test. */
let forgotten: string;
let animations: AnimationRepository;
let orders: OrderRepository;
let customers: Customers;
const world = new OrderWorld();
const taskQueue = `records-${randomUUID()}`;

/** A worker of the real workflows, with the real record activities over this test's database. */
async function worker(queue: string, gate = { released: true }) {
  return Worker.create({
    connection: env.nativeConnection,
    taskQueue: queue,
    workflowBundle: await bundle(workflowsPath),
    activities: {
      ...world.activities(),
      ...paidWorkActivities(ledger, [world.alerts]),
      ...gatedAnimation(gate),
      ...createRecordActivities({ animations, orders }),
    },
  });
}

let main: Worker;
let mainRunning: Promise<void>;

beforeAll(async () => {
  [env, { db, ledger }] = await Promise.all([devServerEnv(), openLedger()]);
  animations = new AnimationRepository(db);
  orders = new OrderRepository(db, new OrderAccessTokens('test-cookie-secret'));
  customers = new Customers(db, ledger, 3);
  const blobs = new LocalBlobStore(await mkdtemp(path.join(os.tmpdir(), 'records-')));
  const payments = new LocalPayments(db, { publicUrl: 'http://shop.test', webhookSecret: `whsec_${randomUUID()}` });
  const serve = async (temporal: Client) => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const app = createApp({
    logger: createLogger('error'),
    probes: [],
    routers: [
      animationRoutes({
        temporal,
        taskQueue,
        customers,
        ledger,
        animations,
        blobs,
        publicUrl: base,
        maxUploadBytes: 1_000_000,
        photoLimits: DEFAULT_PHOTO_LIMITS,
        newCustomers: testLimiter(),
      }),
      orderRoutes({
        temporal,
        taskQueue,
        animations,
        orders,
        blobs,
        payments,
        printFileUrls: new PrintFileUrls({ secret: `secret-${randomUUID()}`, publicUrl: base }),
        printerId: 'sim',
        publicUrl: base,
      }),
    ],
  });
  const listening = app.listen(port, '127.0.0.1');
  await new Promise((r) => listening.once('listening', r));
  return { base, server: listening };
  };
  ({ base, server } = await serve(env.client));
  await env.client.workflowService.registerNamespace({ namespace: 'forgotten', workflowExecutionRetentionPeriod: { seconds: 86_400 } as never }); // protobufjs takes a number for its Long
  other = new Client({ connection: env.client.connection, namespace: 'forgotten' });
  // A new namespace is usable once the server's namespace cache has it.
  expect(await eventually(async () => (await other.workflow.count(), true), 60_000)).toBe(true);
  ({ base: forgotten, server: forgetful } = await serve(other));
  main = await worker(taskQueue);
  mainRunning = main.run();
}, 120_000);
afterAll(async () => {
  if (main.getState() === 'RUNNING') main.shutdown();
  await mainRunning?.catch(() => undefined);
  server?.close();
  forgetful?.close();
  await env?.teardown();
  await db?.close();
});

async function finishedBuddy() {
  const customerId = await customers.create();
  const { record } = await animations.create(customerId);
  const handle = await env.client.workflow.start(ANIMATION_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: animationWorkflowId(record.id),
    args: [{ animationId: record.id, customerId, photoKey: `animations/${record.id}/photo.png`, fullBody: false }],
  });
  await handle.result();
  return record;
}

const getJson = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url.startsWith('http') ? url : `${base}${url}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('records outlive their workflows', () => {
  it('a finished buddy still shows when Temporal no longer knows its workflow, and can be reordered', async () => {
    const buddy = await finishedBuddy();
    expect((await animations.get(buddy.id))?.status).toMatchObject({ status: 'succeeded', assets: { art: `animations/${buddy.id}/cutout.png` } });
    const shown = await getJson(`${forgotten}/api/animations/${buddy.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ status: 'succeeded', assets: { webm: `${forgotten}/a/${buddy.viewerToken}/buddy.webm` } });
    expect((shown.body.steps as { status: string }[]).every((s) => ['succeeded', 'skipped'].includes(s.status))).toBe(true);
    // Its progress stream ends at once, with the end the record tells (no polling of a workflow that is gone).
    const events = await (await fetch(`${forgotten}/api/animations/${buddy.id}/events`)).text();
    expect(events).toMatch(/event: finished\ndata: \{[^\n]*"status":"succeeded"/);

    const reorder = await fetch(`${forgotten}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ animationId: buddy.id, product: { shape: 'circle', sizeInches: 3, quantity: 5 }, shipping, email: 'ada@example.com' }),
    });
    expect(reorder.status).toBe(201);
    const { id } = (await reorder.json()) as { id: string };
    // Started on its own, with the art the record names (in the namespace that app uses; no
    // worker polls there, which is all this test needs).
    expect((await orders.get(id))?.animationId).toBe(buddy.id);
    const { status } = await other.workflow.getHandle(orderWorkflowId(id)).describe();
    expect(status.name).toBe('RUNNING');
    await other.workflow.getHandle(orderWorkflowId(id)).terminate('test over');
  });

  it('a delivered order still shows to its token when Temporal no longer knows its workflow', async () => {
    const buddy = await finishedBuddy();
    const placed = await fetch(`${base}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ animationId: buddy.id, product: { shape: 'die-cut', sizeInches: 3, quantity: 10 }, shipping, email: 'ada@example.com' }),
    });
    const { id, accessToken, amount } = (await placed.json()) as { id: string; accessToken: string; amount: { totalCents: number } };
    const handle = env.client.workflow.getHandle(orderWorkflowId(id));
    await handle.signal(paymentReceivedSignal, {
      eventId: `evt_${id}`,
      orderId: id,
      sessionId: (await orders.get(id))!.checkoutSessionId!,
      paymentIntentId: `pi_${id}`,
      amountCents: amount.totalCents,
      currency: 'usd',
      paidAt: new Date().toISOString(),
    });
    expect(await eventually(async () => (await orders.get(id))?.view?.status === 'submitted')).toBe(true);
    await handle.signal(printerEventSignal, printerEvent(id, 'shipped', { tracking: { carrier: 'SIM Post', number: 'SIM123', url: 'https://track.test/SIM123' } }));
    await handle.signal(printerEventSignal, printerEvent(id, 'delivered'));
    await handle.result();
    expect(await eventually(async () => (await orders.get(id))?.view?.status === 'delivered')).toBe(true);

    const shown = await getJson(`${forgotten}/api/orders/${id}`, { authorization: `Bearer ${accessToken}` });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ id, status: 'delivered', tracking: { number: 'SIM123' }, payment: { paymentIntentId: `pi_${id}` } });
    expect((shown.body.timeline as { status: string }[]).map((t) => t.status)).toEqual(expect.arrayContaining(['awaiting_payment', 'paid', 'submitted', 'shipped', 'delivered']));
    // The record answers only to the order's token, as the workflow did.
    expect((await getJson(`${forgotten}/api/orders/${id}`, { authorization: 'Bearer ot_wrong' })).status).toBe(404);
  });

  it('with the worker down, a running buddy answers from its record', async () => {
    const gate = { released: false };
    const queue = `${taskQueue}-gated`;
    const gated = await worker(queue, gate);
    const running = gated.run();
    const customerId = await customers.create();
    const { record } = await animations.create(customerId);
    await env.client.workflow.start(ANIMATION_WORKFLOW_TYPE, {
      taskQueue: queue,
      workflowId: animationWorkflowId(record.id),
      args: [{ animationId: record.id, customerId, photoKey: `animations/${record.id}/photo.png`, fullBody: false }],
    });
    expect(await eventually(async () => (await animations.get(record.id))?.status?.step === 'animate')).toBe(true);
    gated.shutdown();
    gate.released = true; // the poll in flight returns (to no one: the worker has stopped polling)
    await running.catch(() => undefined);

    const shown = await getJson(`/api/animations/${record.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ status: 'running', step: 'animate' });
    await env.client.workflow.getHandle(animationWorkflowId(record.id)).terminate('test over');
  });
});
