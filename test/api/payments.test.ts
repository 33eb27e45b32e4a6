/**
 * The local checkout page and the Stripe webhook route over real HTTP, with PGlite and a real
 * Temporal server (time-skipping, no worker: order workflows are started, never run, and the
 * signals they receive are read from their histories). Paying delivers a Stripe-signed event to
 * the app's own webhook route, which must turn it into exactly one signal, or a refund when the
 * order's workflow has closed; anything forged or stale changes nothing.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimationRepository } from '../../src/animations/repository.js';
import { createApp } from '../../src/api/app.js';
import { checkoutPageRoutes, stripeWebhookRoutes } from '../../src/api/payments.js';
import { openPGlite, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { createLogger } from '../../src/logger.js';
import { OrderRepository, WebhookEvents } from '../../src/orders/repository.js';
import { LocalPayments } from '../../src/payments/local.js';
import type { PaymentReceived } from '../../src/payments/port.js';
import { checkoutCompletedEvent, signPayload, type CheckoutCompletedEvent } from '../../src/payments/stripe-events.js';
import { orderWorkflowId, STICKER_ORDER_WORKFLOW_TYPE } from '../../src/workflows/sticker-order/api.js';
import { bundle, timeSkippingEnv } from '../support/temporal.js';

const SECRET = 'whsec_api_test_0123456789abcdef';
const TASK_QUEUE = 'payments-test-no-worker';
let env: TestWorkflowEnvironment;
let db: Database;
let server: Server;
let base: string;
let orders: OrderRepository;
let payments: LocalPayments;
/** Event bodies the checkout page sent; set `failDeliveries` to make them fail like a network error. */
const delivered: string[] = [];
let failDeliveries = false;

beforeAll(async () => {
  [env, db] = await Promise.all([timeSkippingEnv(), openPGlite()]);
  await migrate(db);
  server = createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  orders = new OrderRepository(db);
  payments = new LocalPayments(db, {
    publicUrl: base,
    webhookSecret: SECRET,
    sessionMinutes: 30,
    fetch: async (url, init) => {
      delivered.push(String(init?.body));
      if (failDeliveries) throw new TypeError('fetch failed: connection refused');
      return fetch(url, init);
    },
  });
  const app = createApp({
    logger: createLogger('error'),
    probes: [],
    routers: [
      stripeWebhookRoutes({ provider: payments, orders, events: new WebhookEvents(db), temporal: env.client, webhookSecret: SECRET }),
      checkoutPageRoutes({ payments, webhookSecret: SECRET }),
    ],
  });
  server.on('request', app.callback());
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await env?.teardown();
  await db?.close();
});

interface TestOrder {
  orderId: string;
  sessionId: string;
  url: string;
}

/** An order with its checkout session and its (never running) workflow. */
async function newOrder(opts: { amountCents?: number; description?: string } = {}): Promise<TestOrder> {
  const customerId = `cus_${randomUUID()}`;
  await db.query('INSERT INTO customers (id) VALUES ($1)', [customerId]);
  const { record: animation } = await new AnimationRepository(db).create(customerId);
  const amountCents = opts.amountCents ?? 2199;
  const { record } = await orders.create({ animationId: animation.id, email: 'buyer@example.com', printerId: 'sim', paymentProvider: 'local', amountCents, currency: 'usd' });
  const session = await payments.createCheckout({
    orderId: record.id,
    amountCents,
    currency: 'usd',
    description: opts.description ?? '10 × 3-inch die-cut stickers',
    email: 'buyer@example.com',
    successUrl: `${base}/orders/${record.id}?paid={CHECKOUT_SESSION_ID}`,
    cancelUrl: `${base}/orders/${record.id}`,
  });
  await orders.setCheckoutSession(record.id, session.sessionId);
  await env.client.workflow.start(STICKER_ORDER_WORKFLOW_TYPE, { workflowId: orderWorkflowId(record.id), taskQueue: TASK_QUEUE, args: [{ orderId: record.id }] });
  return { orderId: record.id, sessionId: session.sessionId, url: session.url };
}

/** The paymentReceived signals the order's workflow has received. */
async function signals(orderId: string): Promise<PaymentReceived[]> {
  const history = await env.client.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
  return (history.events ?? [])
    .map((e) => e.workflowExecutionSignaledEventAttributes)
    .filter((a) => a?.signalName === 'paymentReceived')
    .map((a) => defaultPayloadConverter.fromPayload<PaymentReceived>(a!.input!.payloads![0]!));
}

const tokenOf = (html: string) => /name="token" value="([^"]+)"/.exec(html)?.[1];

async function checkoutPage(order: TestOrder) {
  const res = await fetch(order.url);
  return { res, html: await res.text() };
}

async function pay(order: TestOrder, token?: string) {
  const form = new URLSearchParams({ token: token ?? tokenOf((await checkoutPage(order)).html) ?? '' });
  return fetch(order.url, { method: 'POST', body: form, redirect: 'manual' });
}

function postEvent(event: object | string, opts: { secret?: string; timestamp?: number; tamper?: (body: string) => string } = {}) {
  const body = typeof event === 'string' ? event : JSON.stringify(event);
  const signature = signPayload(body, opts.secret ?? SECRET, opts.timestamp);
  return fetch(`${base}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signature },
    body: opts.tamper ? opts.tamper(body) : body,
  });
}

/** The event the checkout page would deliver for the order, without delivering it. */
async function completedEvent(order: TestOrder): Promise<CheckoutCompletedEvent> {
  const done = await payments.completeCheckout(order.sessionId);
  if (done?.status !== 'complete') throw new Error('not paid');
  return done.event;
}

const refunds = (orderId: string) =>
  db.query<{ idempotency_key: string }>(
    'SELECT r.* FROM local_payment_refunds r JOIN local_payment_sessions s USING (payment_intent_id) WHERE s.order_id = $1',
    [orderId],
  );

describe('GET /checkout/:sessionId', () => {
  it('shows the order, the amount, a pay form and a cancel link, every value escaped', async () => {
    const order = await newOrder({ description: '10 × <b>3-inch</b> "die-cut" & co' });
    const { res, html } = await checkoutPage(order);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(html).toContain('10 × &lt;b&gt;3-inch&lt;/b&gt; &quot;die-cut&quot; &amp; co');
    expect(html).not.toContain('<b>3-inch');
    expect(html).toContain('$21.99');
    expect(html).toContain(`<form method="post" action="/checkout/${order.sessionId}">`);
    expect(tokenOf(html)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(html).toContain(`href="${base}/orders/${order.orderId}"`);
    expect(html).not.toMatch(/<(script|link|img)\b/);
  });

  it('answers 404 for an unknown session', async () => {
    const res = await fetch(`${base}/checkout/cs_local_${'x'.repeat(32)}`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('No such checkout');
    expect((await fetch(`${base}/checkout/%3Cscript%3E`)).status).toBe(404);
  });
});

describe('paying on the checkout page', () => {
  it('delivers one signed event that becomes exactly one signal, then sends the customer back', async () => {
    const order = await newOrder();
    const res = await pay(order);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${base}/orders/${order.orderId}?paid=${order.sessionId}`);
    const event = await completedEvent(order);
    expect(await signals(order.orderId)).toEqual([
      {
        eventId: event.id,
        orderId: order.orderId,
        sessionId: order.sessionId,
        paymentIntentId: event.data.object.payment_intent,
        amountCents: 2199,
        currency: 'usd',
        paidAt: new Date(event.created * 1000).toISOString(),
      },
    ]);
    expect(await new WebhookEvents(db).seen('stripe', event.id)).toBe(true);
  });

  it('paying twice delivers the same event again, and the order still gets one signal', async () => {
    const order = await newOrder();
    const before = delivered.length;
    expect((await pay(order)).status).toBe(303);
    const { res, html } = await checkoutPage(order);
    expect(res.status).toBe(200);
    expect(html).toContain('already paid');
    expect((await pay(order, tokenOf(html))).status).toBe(303);
    const ids = delivered.slice(before).map((b) => (JSON.parse(b) as { id: string }).id);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(ids[0]);
    expect(await signals(order.orderId)).toHaveLength(1);
  });

  it('shows a retry page when the event cannot be delivered; retrying delivers the same event', async () => {
    const order = await newOrder();
    const before = delivered.length;
    failDeliveries = true;
    let res: Response;
    try {
      res = await pay(order);
    } finally {
      failDeliveries = false;
    }
    expect(res.status).toBe(502);
    const html = await res.text();
    expect(html).toContain('Try again');
    expect(await signals(order.orderId)).toHaveLength(0);
    expect((await pay(order, tokenOf(html))).status).toBe(303);
    const ids = delivered.slice(before).map((b) => (JSON.parse(b) as { id: string }).id);
    expect(ids).toEqual([ids[0], ids[0]]);
    expect((await signals(order.orderId)).map((s) => s.eventId)).toEqual([ids[0]]);
  });

  it('refuses a form without the right token: 403, nothing paid', async () => {
    const order = await newOrder();
    const other = await newOrder();
    const otherToken = tokenOf((await checkoutPage(other)).html);
    for (const token of ['', 'forged', otherToken]) {
      const res = await pay(order, token);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toContain('text/html');
    }
    expect((await payments.getCheckout(order.sessionId))?.status).toBe('open');
    expect(await signals(order.orderId)).toHaveLength(0);
  });

  it('an expired session cannot be paid: 410', async () => {
    const order = await newOrder();
    const token = tokenOf((await checkoutPage(order)).html);
    expect(await payments.expireCheckout(order.sessionId)).toBe('expired');
    const res = await pay(order, token);
    expect(res.status).toBe(410);
    expect(await res.text()).toContain('expired');
    expect((await checkoutPage(order)).res.status).toBe(410);
    expect(await signals(order.orderId)).toHaveLength(0);
  });
});

describe('POST /webhooks/stripe', () => {
  it('rejects a forged signature, a tampered body and a stale or future timestamp: 400, no signal, nothing recorded', async () => {
    const order = await newOrder();
    const event = await completedEvent(order);
    const now = Math.floor(Date.now() / 1000);
    for (const res of [
      await postEvent(event, { secret: 'whsec_forged' }),
      await postEvent(event, { tamper: (b) => b.replace('"amount_total":2199', '"amount_total":1') }),
      await postEvent(event, { timestamp: now - 301 }),
      await postEvent(event, { timestamp: now + 301 }),
      await fetch(`${base}/webhooks/stripe`, { method: 'POST', body: JSON.stringify(event) }),
    ]) {
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_signature');
    }
    expect(await signals(order.orderId)).toHaveLength(0);
    // Nothing was recorded: the genuine delivery still goes through.
    expect(await (await postEvent(event)).json()).toEqual({ received: true });
    expect(await signals(order.orderId)).toHaveLength(1);
    expect(await (await postEvent(event)).json()).toEqual({ received: true, duplicate: true });
    expect(await signals(order.orderId)).toHaveLength(1);
  });

  it('answers 404 for a payment of an unknown order', async () => {
    const order = await newOrder();
    const event = await completedEvent(order);
    const unknown = 'or_' + 'Z'.repeat(22);
    const res = await postEvent({ ...event, id: `evt_${randomUUID()}`, data: { object: { ...event.data.object, client_reference_id: unknown, metadata: { orderId: unknown } } } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('order_not_found');
  });

  it('refuses a payment whose amount or currency differs from the order: 400, no signal', async () => {
    const order = await newOrder();
    const event = await completedEvent(order);
    for (const over of [{ amount_total: 100 }, { currency: 'eur' }]) {
      const res = await postEvent({ ...event, data: { object: { ...event.data.object, ...over } } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('amount_mismatch');
    }
    expect(await signals(order.orderId)).toHaveLength(0);
  });

  it('refuses a paid session whose fields contradict each other: 400 invalid_event', async () => {
    const order = await newOrder();
    const event = await completedEvent(order);
    const res = await postEvent({ ...event, data: { object: { ...event.data.object, metadata: { orderId: 'or_' + 'Q'.repeat(22) } } } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_event');
    expect(await signals(order.orderId)).toHaveLength(0);
  });

  it('acknowledges and ignores other events', async () => {
    const event = checkoutCompletedEvent({
      sessionId: 'cs_x', orderId: 'or_' + 'Y'.repeat(22), paymentIntentId: 'pi_x', eventId: `evt_${randomUUID()}`, amountCents: 1, currency: 'usd',
      email: 'a@b.c', successUrl: 'http://x', cancelUrl: 'http://x', createdAt: new Date(), expiresAt: new Date(), completedAt: new Date(),
    });
    const res = await postEvent({ ...event, type: 'charge.refunded' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, ignored: true });
  });

  it('refunds nothing for a payment redelivered after its order closed with it', async () => {
    const order = await newOrder();
    const event = await completedEvent(order);
    // The order ran to its end with this payment (a stand-in workflow finishing with such a view).
    await env.client.workflow.getHandle(orderWorkflowId(order.orderId)).terminate('replaced by a finished run');
    const taskQueue = `finished-${randomUUID()}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await bundle(), activities: {} });
    await worker.runUntil(
      env.client.workflow.execute('finishedOrderFixture', {
        taskQueue,
        workflowId: orderWorkflowId(order.orderId),
        args: [{ status: 'delivered', payment: { paymentIntentId: event.data.object.payment_intent } }],
      }),
    );
    const res = await postEvent({ ...event, id: `evt_${randomUUID()}` });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true });
    expect(await refunds(order.orderId)).toHaveLength(0);
  });

  it("refunds at once when the order's workflow has closed, and only once", async () => {
    const order = await newOrder();
    await env.client.workflow.getHandle(orderWorkflowId(order.orderId)).terminate('payment deadline passed');
    const before = delivered.length;
    expect((await pay(order)).status).toBe(303);
    expect(await refunds(order.orderId)).toMatchObject([{ idempotency_key: `refund:order:${order.orderId}` }]);

    const event = JSON.parse(delivered[before]!) as CheckoutCompletedEvent;
    expect(await (await postEvent(event)).json()).toEqual({ received: true, duplicate: true });
    // Even another event for the same payment (say, the workflow refunding too) refunds nothing more.
    const again = await postEvent({ ...event, id: `evt_${randomUUID()}` });
    expect(await again.json()).toEqual({ received: true, refunded: true });
    expect(await refunds(order.orderId)).toHaveLength(1);
    expect(await signals(order.orderId)).toHaveLength(0);
  });
});
