/**
 * The operator's actions for real: the real order, refund and email workflows on the Temporal dev
 * server, their records and emails through the real activities into PGlite and the outbox, and
 * the printer and the payment provider as in-memory stand-ins behind the real activity names
 * (their adapters are tested against their fakes elsewhere), so each action's effect on them can
 * be counted: a reprint is exactly one new printer order and no charge, a refund is one refund,
 * a request repeated does nothing twice.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { createEmailActivities } from '../../src/activities/email.js';
import { createRecordActivities } from '../../src/activities/records.js';
import { AnimationRepository } from '../../src/animations/repository.js';
import { Customers } from '../../src/customers/customers.js';
import type { Database } from '../../src/db/database.js';
import { createEmailSender } from '../../src/email/index.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { OrderAccessTokens } from '../../src/orders/access-token.js';
import { OrderRepository } from '../../src/orders/repository.js';
import { TemporalOpsActions } from '../../src/ops/actions.js';
import { ensureOrderSearchAttributes } from '../../src/temporal/search-attributes.js';
import { OpsActionRefused, type OpsActionKind } from '../../src/ops/port.js';
import { operatorRefundWorkflowId } from '../../src/workflows/operator/api.js';
import {
  ORDER_STATUS_ATTRIBUTE,
  orderStatusQuery,
  orderWorkflowId,
  paymentReceivedSignal,
  printerEventSignal,
  STICKER_ORDER_WORKFLOW_TYPE,
  type OrderView,
} from '../../src/workflows/sticker-order/api.js';
import { openLedger } from '../support/ledger.js';
import { OrderWorld, orderInput, paid, printerEvent } from '../support/orders.js';
import { devServerEnv } from '../support/temporal.js';

const workflowsPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/workflows/index.ts');
const PUBLIC_URL = 'http://shop.test';
const tracking = { carrier: 'SIM Post', number: 'SIM123456', url: 'https://track.example/SIM123456' };

let env: TestWorkflowEnvironment;
let db: Database;
let orders: OrderRepository;
let animations: AnimationRepository;
let customers: Customers;
let actions: TemporalOpsActions;
let outboxDir: string;
let world: OrderWorld;
/** Set by a test to make submissions fail (a printer outage). */
let printerDown = false;
let submitAttempts = 0;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `ops-${randomUUID()}`;

beforeAll(async () => {
  let ledger;
  [env, { db, ledger }] = await Promise.all([devServerEnv(), openLedger()]);
  orders = new OrderRepository(db, new OrderAccessTokens('ops-test-secret'));
  animations = new AnimationRepository(db);
  customers = new Customers(db, ledger, 3);
  outboxDir = await mkdtemp(path.join(os.tmpdir(), 'ops-outbox-'));
  const config = loadConfig({ DATA_DIR: outboxDir, EMAIL_FROM: 'stickerflow <orders@shop.test>' });
  const email = createEmailSender(config, db, createLogger('error'));
  world = new OrderWorld();
  const scripted = world.activities();
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath,
    activities: {
      ...scripted,
      // Real records and real emails: the actions read the one and resend the other.
      ...createRecordActivities({ animations, orders }),
      ...createEmailActivities({ email, publicUrl: PUBLIC_URL, orders }),
      submitPrintOrder: async (i: Parameters<NonNullable<typeof scripted.submitPrintOrder>>[0]) => {
        submitAttempts++;
        if (printerDown) throw new Error('printer API answered 503');
        return scripted.submitPrintOrder!(i);
      },
    },
  });
  running = worker.run();
  actions = new TemporalOpsActions({ temporal: env.client, db, orders, animations, taskQueue, publicUrl: PUBLIC_URL, indexOrders: true });
}, 120_000);
afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running?.catch(() => undefined);
  await env?.teardown();
  await db?.close();
});
beforeEach(() => {
  printerDown = false;
  submitAttempts = 0;
});

async function eventually<T>(fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A finished buddy, and an order of it as the API would place it. */
async function placeOrder(opts: { artComing?: boolean } = {}): Promise<{ orderId: string; art: string; handle: WorkflowHandle }> {
  const customerId = await customers.create();
  const { record: buddy } = await animations.create(customerId);
  const art = `animations/${buddy.id}/cutout.png`;
  await animations.saveStatus(buddy.id, 1, {
    animationId: buddy.id,
    status: 'succeeded',
    steps: [],
    assets: { webm: 'a.webm', webp: 'a.webp', gif: 'a.gif', poster: 'poster.png', art },
  });
  const { record } = await orders.create({ animationId: buddy.id, email: 'ada@example.com', printerId: 'sim', paymentProvider: 'local', amountCents: 4099, currency: 'usd' });
  const handle = await env.client.workflow.start(STICKER_ORDER_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: orderWorkflowId(record.id),
    // artComing: placed while the buddy is still being made (it waits for the art before the printer).
    args: [orderInput(record.id, { animationId: buddy.id, artKey: opts.artComing ? undefined : art, viewerUrl: `${PUBLIC_URL}/a/${buddy.viewerToken}`, indexed: true })],
  });
  return { orderId: record.id, art, handle };
}

async function deliveredOrder(): Promise<{ orderId: string; art: string }> {
  const { orderId, art, handle } = await placeOrder();
  await handle.signal(paymentReceivedSignal, paid(orderId));
  await eventually(async () => (await handle.query(orderStatusQuery)).status === 'submitted');
  await handle.signal(printerEventSignal, printerEvent(orderId, 'shipped', { tracking }));
  await handle.signal(printerEventSignal, printerEvent(orderId, 'delivered'));
  await handle.result();
  await eventually(async () => (await orders.get(orderId))?.view?.status === 'delivered');
  return { orderId, art };
}

const recorded = async (orderId: string) => (await orders.get(orderId))!.view!;
const availability = async (orderId: string) =>
  Object.fromEntries((await actions.available(orderId))!.map((a) => [a.action, a.available])) as Record<OpsActionKind, boolean>;
const request = (orderId: string, extra: { reason?: string } = {}) => ({ orderId, requestId: `req_${randomUUID()}`, actor: 'test operator', ...extra });
const emailKeys = async (orderId: string) =>
  (await db.query<{ idempotency_key: string }>(`SELECT idempotency_key FROM emails_sent WHERE reference = $1 AND status = 'sent' ORDER BY created_at`, [orderId])).map(
    (r) => r.idempotency_key,
  );

describe('operator actions, carried out by Temporal', () => {
  it('refunds a delivered order once, under the order’s own refund key; the record and the shopper hear of it; a repeated request does nothing', async () => {
    const { orderId } = await deliveredOrder();
    expect(await availability(orderId)).toMatchObject({ refund: true, cancel: false, retry_submission: false, reprint: true, resend_email: true });

    const ask = request(orderId, { reason: 'the colours came out wrong' });
    const result = await actions.refund(ask);
    expect(result).toMatchObject({ action: 'refund', outcome: 'started', orderId });
    await env.client.workflow.getHandle(operatorRefundWorkflowId(orderId)).result();
    const view = await recorded(orderId);
    expect(view.refund).toMatchObject({ status: 'refunded', amountCents: 4099 });
    expect(view.timeline.at(-1)).toMatchObject({ note: 'refunded by an operator: the colours came out wrong' });
    expect(world.payments.refundCalls).toEqual([`refund:order:${orderId}`]);
    expect(await emailKeys(orderId)).toContain(`email:order:${orderId}:refunded`);

    expect(await actions.refund(ask)).toMatchObject({ ...result, repeated: true });
    await expect(actions.refund(request(orderId))).rejects.toThrow(new OpsActionRefused('the order has been refunded already'));
    expect(world.payments.refundCalls).toEqual([`refund:order:${orderId}`]);
    expect((await availability(orderId)).refund).toBe(false);
  });

  it('reprints a delivered order: exactly one new printer order of the same art and address, for no payment; repeated, the same reprint', async () => {
    const { orderId, art } = await deliveredOrder();
    const refundsBefore = world.payments.refundCalls.length;
    const ask = request(orderId, { reason: 'arrived creased' });
    const result = await actions.reprint(ask);
    const reprintId = result.newOrderId!;
    expect(reprintId).toMatch(/^or_/);
    expect(await actions.reprint(ask)).toMatchObject({ newOrderId: reprintId, repeated: true });

    const handle = env.client.workflow.getHandle(orderWorkflowId(reprintId));
    await eventually(async () => (await handle.query(orderStatusQuery)).status === 'submitted');
    const reprint = (await orders.get(reprintId))!;
    expect(reprint).toMatchObject({ reprintOf: orderId, amountCents: 0 });
    expect(world.printer.orders.get(reprintId)).toMatchObject({ submissions: 1, shipping: (await recorded(orderId)).shipping });
    expect(world.renderedArt.filter((a) => a === art)).toHaveLength(2); // the original's print file, and the reprint's
    const rows = await db.query<{ id: string }>('SELECT id FROM orders WHERE reprint_of = $1', [orderId]);
    expect(rows.map((r) => r.id)).toEqual([reprintId]);
    // No charge: no checkout closed, no payment on the order, nothing refunded.
    const live: OrderView = await handle.query(orderStatusQuery);
    expect(live.payment).toBeUndefined();
    expect(live.reprintOf).toBe(orderId);
    expect(world.payments.expired).not.toContain('none');
    expect(world.payments.refundCalls).toHaveLength(refundsBefore);
    await handle.signal(printerEventSignal, printerEvent(reprintId, 'delivered'));
    await handle.result();

    // In the Temporal UI too, by status and printer (the search attributes; nothing personal in them).
    const found = async (query: string) => {
      const ids: string[] = [];
      for await (const w of env.client.workflow.list({ query })) ids.push(w.workflowId);
      return ids;
    };
    await eventually(async () => (await found(`StickerflowOrderStatus = "delivered" AND StickerflowPrinter = "sim"`)).includes(orderWorkflowId(reprintId)));
    const described = await handle.describe();
    expect(described.typedSearchAttributes.get(ORDER_STATUS_ATTRIBUTE)).toBe('delivered');
    expect(JSON.stringify(described.raw.workflowExecutionInfo?.searchAttributes)).not.toMatch(/Lovelace|example\.com|SW1Y/);
  });

  it('cancels an open order: before the printer through its own cancel (refunded, with the reason); at the printer by cancelling the workflow', async () => {
    // Paid while the buddy is still being made: before the printer.
    const early = await placeOrder({ artComing: true });
    await early.handle.signal(paymentReceivedSignal, paid(early.orderId));
    await eventually(async () => (await early.handle.query(orderStatusQuery)).status === 'paid');
    const result = await actions.cancel(request(early.orderId, { reason: 'the shopper asked by phone' }));
    expect(result).toMatchObject({ outcome: 'done' });
    expect(result.message).toMatch(/^cancelled: /);
    const view: OrderView = await early.handle.result();
    expect(view).toMatchObject({ status: 'cancelled', error: 'the shopper asked by phone' });

    const late = await placeOrder();
    await late.handle.signal(paymentReceivedSignal, paid(late.orderId));
    await eventually(async () => (await late.handle.query(orderStatusQuery)).status === 'submitted');
    expect((await availability(late.orderId)).cancel).toBe(true);
    expect(await actions.cancel(request(late.orderId))).toMatchObject({ outcome: 'started' });
    const ended: OrderView = await late.handle.result();
    expect(ended).toMatchObject({ status: 'cancelled', refund: { status: 'refunded' } });
    expect(world.calls).toContain('cancelPrintOrder');
    await expect(actions.cancel(request(late.orderId))).rejects.toThrow(new OpsActionRefused('the order has ended'));
  });

  it('retries a submission waiting out a printer outage now, once the printer is back', async () => {
    printerDown = true;
    const { orderId, handle } = await placeOrder();
    await handle.signal(paymentReceivedSignal, paid(orderId));
    expect((await availability(orderId)).retry_submission).toBe(false);
    await eventually(async () => submitAttempts >= 2 && (await availability(orderId)).retry_submission);
    printerDown = false;
    const result = await actions.retrySubmission(request(orderId));
    expect(result.message).toMatch(/submitting again now \(it had tried \d+ times\)/);
    // The next scheduled attempt is 20 s away: the fresh one goes at once.
    await eventually(async () => (await handle.query(orderStatusQuery)).status === 'submitted', 10_000);
    const view = await handle.query(orderStatusQuery);
    expect(view.timeline.map((t) => t.note)).toContain('submission retried now, as an operator asked');
    expect(world.printer.orders.get(orderId)?.submissions).toBe(1);
    expect((await availability(orderId)).retry_submission).toBe(false);
    await handle.signal(printerEventSignal, printerEvent(orderId, 'delivered'));
    await handle.result();
  });

  it('resends an email that went out as a copy of its own, marked; a kind never sent, an unknown order and a request id reused for another action are refused', async () => {
    const { orderId } = await deliveredOrder();
    expect(await emailKeys(orderId)).toEqual([
      `email:order:${orderId}:confirmation`,
      `email:order:${orderId}:shipped`,
      `email:order:${orderId}:delivered`,
    ]);
    const ask = { ...request(orderId), kind: 'order_shipped' as const };
    expect(await actions.resendEmail(ask)).toMatchObject({ outcome: 'started', email: { kind: 'order_shipped', resend: 1 } });
    expect(await actions.resendEmail(ask)).toMatchObject({ repeated: true, email: { resend: 1 } });
    await eventually(async () => (await emailKeys(orderId)).includes(`email:order:${orderId}:shipped:resend-1`));
    expect(await actions.resendEmail({ ...request(orderId), kind: 'order_shipped' })).toMatchObject({ email: { resend: 2 } });
    await eventually(async () => (await emailKeys(orderId)).includes(`email:order:${orderId}:shipped:resend-2`));

    const [row] = await db.query<{ outbox_file: string }>('SELECT outbox_file FROM emails_sent WHERE idempotency_key = $1', [`email:order:${orderId}:shipped:resend-1`]);
    const mail = await simpleParser(await readFile(path.join(outboxDir, 'outbox', row!.outbox_file)));
    expect(mail.text).toContain('We’re sending you this message again.');
    expect(mail.text).toContain(tracking.url);
    expect(mail.text).toMatch(new RegExp(`${PUBLIC_URL}/orders/${orderId}#token=ot_`));
    expect((await readdir(path.join(outboxDir, 'outbox'))).filter((f) => f.includes(orderId)).length).toBe(5);

    await expect(actions.resendEmail({ ...request(orderId), kind: 'order_refunded' })).rejects.toThrow(/no refunded email was sent/);
    await expect(actions.refund({ ...ask, kind: undefined } as never)).rejects.toThrow(/another action/);
    await expect(actions.reprint(request('or_nosuchorder00000000000'))).rejects.toThrow(OpsActionRefused);
    expect(await actions.available('or_nosuchorder00000000000')).toBeUndefined();
  });
});

describe('the order search attributes on a namespace', () => {
  it('are added to a namespace that lacks them, and a namespace that has them is left as it is', async () => {
    const namespace = `bare-${randomUUID().slice(0, 8)}`;
    await env.client.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: { seconds: 86_400 } as never });
    const list = async () => {
      const { customAttributes } = await env.client.connection.operatorService.listSearchAttributes({ namespace });
      return Object.keys(customAttributes ?? {});
    };
    await eventually(async () => (await list(), true), 60_000);
    expect(await list()).not.toContain('StickerflowOrderStatus');
    const logger = createLogger('error');
    expect(await eventually(() => ensureOrderSearchAttributes(env.client, namespace, logger), 60_000)).toBe(true);
    expect(await list()).toEqual(expect.arrayContaining(['StickerflowOrderStatus', 'StickerflowPrinter']));
    expect(await ensureOrderSearchAttributes(env.client, 'default', logger)).toBe(true);
    // A namespace that does not exist: reported, and orders run unindexed rather than failing.
    expect(await ensureOrderSearchAttributes(env.client, 'no-such-namespace', logger)).toBe(false);
  });
});
