/**
 * The local checkout page, the Stripe webhook route and the customer's return from the checkout
 * (`GET /orders/:id/paid`) over real HTTP, with PGlite and a real Temporal server (time-skipping,
 * no worker: order workflows are started, never run, and the signals they receive are read from
 * their histories; one test runs the real order workflow on a worker with scripted activities).
 * Paying delivers a Stripe-signed event to the app's own webhook route, which must turn it into
 * exactly one signal, or a refund when the order's workflow has closed; anything forged or stale
 * changes nothing. Orders paid through Stripe use the real Stripe adapter against stripe-mock
 * (through the recording proxy; answers it substitutes are named in each test).
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AnimationRepository } from '../../src/animations/repository.js';
import { createApp } from '../../src/api/app.js';
import { checkoutPageRoutes, paymentRoutes } from '../../src/api/payments.js';
import { openPGlite, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { createLogger } from '../../src/logger.js';
import { OrderRepository, WebhookEvents } from '../../src/orders/repository.js';
import { OrderAccessTokens } from '../../src/orders/access-token.js';
import { LocalPayments } from '../../src/payments/local.js';
import type { PaymentProvider, PaymentReceived } from '../../src/payments/port.js';
import { StripePayments } from '../../src/payments/stripe.js';
import { checkoutCompletedEvent, signPayload, type CheckoutCompletedEvent } from '../../src/payments/stripe-events.js';
import { orderStatusQuery, orderWorkflowId, STICKER_ORDER_WORKFLOW_TYPE, type OrderView } from '../../src/workflows/sticker-order/api.js';
import { OrderWorld, orderInput } from '../support/orders.js';
import { startStripeMock, type Running } from '../support/processes.js';
import { stripeError, stripeProxy, type StripeProxy } from '../support/stripe-proxy.js';
import { bundle, timeSkippingEnv } from '../support/temporal.js';
import { CreditPurchases } from '../../src/credits/purchases.js';
import { createAlertActivities } from '../../src/activities/alerts.js';
import { createOrderActivities } from '../../src/activities/orders.js';
import { latePaymentWorkflowId } from '../../src/workflows/late-payment/api.js';
import { RecordingAlertChannel } from '../support/recording-alerts.js';

const SECRET = 'whsec_api_test_0123456789abcdef';
const STRIPE_KEY = 'sk_test_51PaymentsApiTest0123456789';
const TASK_QUEUE = 'payments-test-no-worker';
/** Where late payments' refunds run: a worker of the real LatePaymentWorkflow and its real refund activity. */
const LATE_QUEUE = `late-payments-${randomUUID()}`;
let lateWorker: Worker;
let lateRunning: Promise<void>;
const lateAlerts = new RecordingAlertChannel();
const orderWorkflowsPath = fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url));
let env: TestWorkflowEnvironment;
let db: Database;
let server: Server;
let base: string;
let orders: OrderRepository;
let payments: LocalPayments;
let stripeMock: Running;
let stripeApi: StripeProxy;
let stripe: StripePayments;
/** Sessions the return route asked the local provider about. */
const localPaidChecks: string[] = [];
/** What the app logged (info and up). */
const logged: string[] = [];
/** Event bodies the checkout page sent; set `failDeliveries` to make them fail like a network error. */
const delivered: string[] = [];
let failDeliveries = false;

beforeAll(async () => {
  [env, db, stripeMock] = await Promise.all([timeSkippingEnv(), openPGlite(), startStripeMock(inject('toolCacheDir'), () => undefined)]);
  stripeApi = await stripeProxy(stripeMock.url);
  stripe = new StripePayments({ secretKey: STRIPE_KEY, apiUrl: stripeApi.url, maxNetworkRetries: 0 });
  await migrate(db);
  server = createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  orders = new OrderRepository(db, new OrderAccessTokens('test-cookie-secret'));
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
  // The local provider as the routes see it, noting which sessions they ask about.
  const local: PaymentProvider = {
    id: 'local',
    createCheckout: (r) => payments.createCheckout(r),
    expireCheckout: (id) => payments.expireCheckout(id),
    refund: (r) => payments.refund(r),
    paidCheckout: (id) => (localPaidChecks.push(id), payments.paidCheckout(id)),
  };
  const logger = createLogger('info', (line) => logged.push(line));
  const app = createApp({
    logger,
    probes: [],
    routers: [
      paymentRoutes({
        providers: new Map<PaymentProvider['id'], PaymentProvider>([
          ['local', local],
          ['stripe', stripe],
        ]),
        orders,
        creditPurchases: new CreditPurchases(db),
        taskQueue: LATE_QUEUE,
        events: new WebhookEvents(db),
        temporal: env.client,
        webhookSecret: SECRET,
        logger,
      }),
      checkoutPageRoutes({ payments, webhookSecret: SECRET }),
    ],
  });
  server.on('request', app.callback());
  const providers = new Map<string, PaymentProvider>([
    ['local', payments],
    ['stripe', stripe],
  ]);
  lateWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: LATE_QUEUE,
    workflowBundle: await bundle(orderWorkflowsPath),
    activities: {
      refundPayment: createOrderActivities({ blobs: undefined as never, printers: new Map(), payments: providers, printFileUrls: undefined as never }).refundPayment,
      ...createAlertActivities({ channels: [lateAlerts], temporalUiUrl: 'http://ui', namespace: 'default' }),
    },
  });
  lateRunning = lateWorker.run();
});
afterAll(async () => {
  lateWorker?.shutdown();
  await lateRunning?.catch(() => undefined);
  await new Promise((r) => server?.close(r));
  await env?.teardown();
  await db?.close();
  await stripeApi?.close();
  await stripeMock?.stop();
});

interface TestOrder {
  orderId: string;
  sessionId: string;
  url: string;
}

/**
 * An order with its checkout session (the local provider's, or Stripe's through stripe-mock) and,
 * unless `start` is false, its (never running) workflow.
 */
/** Replaces the order's workflow by one that has ended delivered, paid with `paymentIntentId`. */
async function finishOrder(orderId: string, paymentIntentId: string) {
  await env.client.workflow.getHandle(orderWorkflowId(orderId)).terminate('replaced by a finished run');
  const taskQueue = `finished-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await bundle(), activities: {} });
  await worker.runUntil(
    env.client.workflow.execute('finishedOrderFixture', {
      taskQueue,
      workflowId: orderWorkflowId(orderId),
      args: [{ status: 'delivered', payment: { paymentIntentId } }],
    }),
  );
}

async function newOrder(opts: { amountCents?: number; description?: string; provider?: 'local' | 'stripe'; start?: boolean } = {}): Promise<TestOrder> {
  const customerId = `cus_${randomUUID()}`;
  await db.query('INSERT INTO customers (id) VALUES ($1)', [customerId]);
  const { record: animation } = await new AnimationRepository(db).create(customerId);
  const amountCents = opts.amountCents ?? 2199;
  const provider = opts.provider === 'stripe' ? stripe : payments;
  const { record } = await orders.create({ animationId: animation.id, email: 'buyer@example.com', printerId: 'sim', paymentProvider: provider.id, amountCents, currency: 'usd' });
  const session = await provider.createCheckout({
    orderId: record.id,
    amountCents,
    currency: 'usd',
    description: opts.description ?? '10 × 3-inch die-cut stickers',
    email: 'buyer@example.com',
    successUrl: `${base}/orders/${record.id}?paid={CHECKOUT_SESSION_ID}`,
    cancelUrl: `${base}/orders/${record.id}`,
  });
  await orders.setCheckoutSession(record.id, session.sessionId);
  if (opts.start !== false) {
    await env.client.workflow.start(STICKER_ORDER_WORKFLOW_TYPE, { workflowId: orderWorkflowId(record.id), taskQueue: TASK_QUEUE, args: [{ orderId: record.id }] });
  }
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

/** Waits for the late payment's workflow to finish its refund (the time-skipping server skips its retries). */
const lateRefund = (paymentIntentId: string) => env.client.workflow.getHandle(latePaymentWorkflowId(paymentIntentId)).result();

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

  it('acknowledges a payment of an unknown order (a redelivery would not help) and tells the operator', async () => {
    const order = await newOrder();
    const event = await completedEvent(order);
    const unknown = 'or_' + 'Z'.repeat(22);
    const stray = { ...event, id: `evt_${randomUUID()}`, data: { object: { ...event.data.object, client_reference_id: unknown, metadata: { orderId: unknown } } } };
    const res = await postEvent(stray);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, ignored: true, reason: 'unknown order' });
    expect(logged.some((l) => l.includes('ERROR') && l.includes('names no order of ours') && l.includes(unknown))).toBe(true);
    expect(await (await postEvent(stray)).json()).toEqual({ received: true, duplicate: true });
    expect(await signals(order.orderId)).toHaveLength(0);
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
    const res = await postEvent({ ...event, type: 'payment_intent.created' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, ignored: true });
  });

  it('refunds nothing for a payment redelivered after its order closed with it', async () => {
    const order = await newOrder();
    const event = await completedEvent(order);
    // The order ran to its end with this payment (a stand-in workflow finishing with such a view).
    await finishOrder(order.orderId, event.data.object.payment_intent);
    const res = await postEvent({ ...event, id: `evt_${randomUUID()}` });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true });
    expect(await refunds(order.orderId)).toHaveLength(0);
  });

  it("hands a payment for an order whose workflow has closed to a refund workflow of its own: refunded once, the operator told", async () => {
    const order = await newOrder();
    await env.client.workflow.getHandle(orderWorkflowId(order.orderId)).terminate('payment deadline passed');
    const before = delivered.length;
    const alertsBefore = lateAlerts.sent.length;
    expect((await pay(order)).status).toBe(303);
    const event = JSON.parse(delivered[before]!) as CheckoutCompletedEvent;
    const pi = event.data.object.payment_intent;
    expect(await lateRefund(pi)).toMatchObject({ status: 'succeeded', amountCents: 2199 });
    expect(await refunds(order.orderId)).toMatchObject([{ idempotency_key: `refund:order:${order.orderId}` }]);
    expect(lateAlerts.sent.slice(alertsBefore).map((a) => a.title)).toEqual([`Sticker order ${order.orderId}: paid after it had ended, refunded`]);

    expect(await (await postEvent(event)).json()).toEqual({ received: true, duplicate: true });
    // Even another event for the same payment finds its refund workflow: nothing more is refunded.
    const again = await postEvent({ ...event, id: `evt_${randomUUID()}` });
    expect(await again.json()).toEqual({ received: true, refunding: true });
    expect(await refunds(order.orderId)).toHaveLength(1);
    expect(await signals(order.orderId)).toHaveLength(0);
  });

  it('an order Temporal no longer has: how it ended is read from its record (refunded once); without a record, acknowledged and logged', async () => {
    // Ended unpaid, as its record says; Temporal has deleted the workflow (here: never had it).
    const recorded = await newOrder({ start: false });
    await orders.saveView(recorded.orderId, 9, { ...(await endedView(recorded.orderId)), status: 'cancelled' });
    const late = await completedEvent(recorded);
    const paidLate = await postEvent(late);
    expect(paidLate.status).toBe(200);
    expect(await paidLate.json()).toEqual({ received: true, refunding: true });
    await lateRefund(late.data.object.payment_intent);
    expect(await refunds(recorded.orderId)).toMatchObject([{ idempotency_key: `refund:order:${recorded.orderId}` }]);

    // Ended with this very payment, as its record says: nothing to refund.
    const fulfilled = await newOrder({ start: false });
    const event = await completedEvent(fulfilled);
    const pi = event.data.object.payment_intent;
    await orders.saveView(fulfilled.orderId, 9, {
      ...(await endedView(fulfilled.orderId)),
      status: 'delivered',
      payment: { paymentIntentId: pi, amountCents: 2199, currency: 'usd', paidAt: new Date().toISOString() },
    });
    expect(await (await postEvent(event)).json()).toEqual({ received: true });
    expect(await refunds(fulfilled.orderId)).toHaveLength(0);

    // No workflow and no record (an order from before records): nobody can say; the operator is told.
    const unknown = await newOrder({ start: false });
    const before = logged.length;
    const answer = await postEvent(await completedEvent(unknown));
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ received: true, unknown: true });
    expect(await refunds(unknown.orderId)).toHaveLength(0);
    expect(logged.slice(before).join('\n')).toContain('check it and refund by hand');
  });
});

/** An order's view as a workflow would have recorded it, for orders made without one. */
async function endedView(orderId: string): Promise<OrderView> {
  const order = (await orders.get(orderId))!;
  return {
    orderId,
    animationId: order.animationId,
    status: 'cancelled',
    timeline: [{ at: new Date().toISOString(), status: 'cancelled', note: 'payment deadline passed' }],
    product: { shape: 'die-cut', sizeInches: 3, quantity: 10 },
    shipping: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
    printerId: 'sim',
  };
}

/** A paid `checkout.session.completed` event of a Stripe order, as Stripe would send it. */
function stripePaidEvent(order: TestOrder, over: { amountCents?: number } = {}) {
  const now = new Date();
  return checkoutCompletedEvent({
    sessionId: order.sessionId,
    orderId: order.orderId,
    paymentIntentId: `pi_test_${randomUUID().replaceAll('-', '')}`,
    eventId: `evt_test_${randomUUID().replaceAll('-', '')}`,
    amountCents: over.amountCents ?? 2199,
    currency: 'usd',
    email: 'buyer@example.com',
    successUrl: `${base}/orders/${order.orderId}/paid?session_id={CHECKOUT_SESSION_ID}`,
    cancelUrl: `${base}/animations/an_x`,
    createdAt: now,
    expiresAt: new Date(now.getTime() + 86_400_000),
    completedAt: now,
  });
}

/** stripe-mock's own session fixture, made complete and paid for the order (the answer a test substitutes). */
async function paidStripeSession(order: TestOrder, paymentIntentId: string, amountTotal = 2199) {
  const fixture = (await (await fetch(`${stripeMock.url}/v1/checkout/sessions/${order.sessionId}`, { headers: { authorization: `Bearer ${STRIPE_KEY}` } })).json()) as object;
  return {
    status: 200,
    body: {
      ...fixture,
      id: order.sessionId,
      status: 'complete',
      payment_status: 'paid',
      client_reference_id: order.orderId,
      metadata: { orderId: order.orderId },
      amount_total: amountTotal,
      currency: 'usd',
      payment_intent: paymentIntentId,
    },
  };
}

/** A paid payment intent of 21.99 (substituted: stripe-mock's are never paid). */
async function paidIntent(paymentIntentId: string) {
  const fixture = (await (await fetch(`${stripeMock.url}/v1/payment_intents/${paymentIntentId}`, { headers: { authorization: `Bearer ${STRIPE_KEY}` } })).json()) as object;
  return { status: 200, body: { ...fixture, id: paymentIntentId, status: 'succeeded', amount: 2199, amount_received: 2199, currency: 'usd' } };
}

/** The customer coming back from the checkout page. */
const returnFrom = (orderId: string, sessionId?: string) =>
  fetch(`${base}/orders/${orderId}/paid${sessionId === undefined ? '' : `?session_id=${encodeURIComponent(sessionId)}`}`, { redirect: 'manual' });

function expectSentToOrderPage(res: Response, orderId: string) {
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe(`/orders/${encodeURIComponent(orderId)}`);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
}

describe('POST /webhooks/stripe: delayed payments and providers', () => {
  it('a delayed payment that succeeds (async_payment_succeeded) is handed over like a completed checkout', async () => {
    const order = await newOrder();
    const event = await completedEvent(order);
    const late = { ...event, id: `evt_${randomUUID()}`, type: 'checkout.session.async_payment_succeeded' };
    expect(await (await postEvent(late)).json()).toEqual({ received: true });
    expect(await signals(order.orderId)).toMatchObject([{ eventId: late.id, paymentIntentId: event.data.object.payment_intent, amountCents: 2199 }]);
    expect(await (await postEvent(late)).json()).toEqual({ received: true, duplicate: true });
    expect(await signals(order.orderId)).toHaveLength(1);
  });

  it('a delayed payment that failed (async_payment_failed) is acknowledged once and logged; no signal, the order keeps waiting', async () => {
    const order = await newOrder();
    const event = await completedEvent(order);
    const failed = {
      ...event,
      id: `evt_${randomUUID()}`,
      type: 'checkout.session.async_payment_failed',
      data: { object: { ...event.data.object, payment_status: 'unpaid' } },
    };
    const res = await postEvent(failed);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true });
    expect(await signals(order.orderId)).toHaveLength(0);
    expect(logged.filter((l) => l.includes('WARN') && l.includes('delayed payment failed') && l.includes(order.orderId))).toHaveLength(1);
    expect(await new WebhookEvents(db).seen('stripe', failed.id)).toBe(true);
    expect(await (await postEvent(failed)).json()).toEqual({ received: true, duplicate: true });
    expect(logged.filter((l) => l.includes('delayed payment failed') && l.includes(order.orderId))).toHaveLength(1);
  });

  it("refunds a late payment of a Stripe order through Stripe, the order's own provider (its retries through an outage: test/workflows/late-payment.test.ts)", async () => {
    const order = await newOrder({ provider: 'stripe' });
    await env.client.workflow.getHandle(orderWorkflowId(order.orderId)).terminate('payment deadline passed');
    const event = stripePaidEvent(order);
    const intentId = event.data.object.payment_intent;
    stripeApi.reset();
    // substituted: GET payment intent → paid 21.99. The rest is stripe-mock's.
    stripeApi.substitute(`GET /v1/payment_intents/${intentId}`, await paidIntent(intentId));
    // The webhook only hands over; the refund is the late payment workflow's.
    const res = await postEvent(event);
    expect(await res.json()).toEqual({ received: true, refunding: true });
    expect(await new WebhookEvents(db).seen('stripe', event.id)).toBe(true);
    expect(await lateRefund(intentId)).toMatchObject({ status: 'succeeded', amountCents: 2199 });
    const refundPosts = stripeApi.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    expect(refundPosts).toHaveLength(1);
    expect(refundPosts[0]!.headers['idempotency-key']).toBe(`refund:order:${order.orderId}`);
    expect(refundPosts[0]!.params.get('payment_intent')).toBe(intentId);
    expect(refundPosts[0]!.params.get('amount')).toBe('2199');
    expect(await refunds(order.orderId)).toHaveLength(0); // nothing went to the local provider
    expect(stripeApi.reset()).toBe(0);
  });

  it('refunds a second payment for an order that ended with another one under that payment\'s own key', async () => {
    const order = await newOrder({ provider: 'stripe' });
    await finishOrder(order.orderId, 'pi_the_first_payment');
    const event = stripePaidEvent(order);
    const intentId = event.data.object.payment_intent;
    stripeApi.reset();
    // substituted: GET payment intent → paid 21.99. The rest is stripe-mock's.
    stripeApi.substitute(`GET /v1/payment_intents/${intentId}`, await paidIntent(intentId));
    expect(await (await postEvent(event)).json()).toEqual({ received: true, refunding: true });
    await lateRefund(intentId);
    const refundPosts = stripeApi.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    expect(refundPosts.map((r) => r.headers['idempotency-key'])).toEqual([`refund:order:${order.orderId}:${intentId}`]);
    expect(stripeApi.reset()).toBe(0);
  });
});

describe('GET /orders/:id/paid (the return from the checkout)', () => {
  it('hands a paid local session over before any webhook; the webhook after it, and a second return, name the same payment', async () => {
    const order = await newOrder();
    const event = await completedEvent(order); // paid, event not delivered yet
    const res = await returnFrom(order.orderId, order.sessionId);
    expectSentToOrderPage(res, order.orderId);
    expect(await res.text()).not.toContain(order.sessionId);
    const [first] = await signals(order.orderId);
    expect(first).toEqual({
      eventId: `checkout:${order.sessionId}`,
      orderId: order.orderId,
      sessionId: order.sessionId,
      paymentIntentId: event.data.object.payment_intent,
      amountCents: 2199,
      currency: 'usd',
      paidAt: new Date(event.created * 1000).toISOString(),
    });
    expect(await (await postEvent(event)).json()).toEqual({ received: true });
    expectSentToOrderPage(await returnFrom(order.orderId, order.sessionId), order.orderId);
    const all = await signals(order.orderId);
    expect(all).toHaveLength(3);
    expect(new Set(all.map((s) => s.paymentIntentId))).toEqual(new Set([event.data.object.payment_intent]));
  });

  it('with the real order workflow: the return and the webhook together make one payment, and nothing is refunded', async () => {
    const order = await newOrder({ start: false });
    const world = new OrderWorld();
    const taskQueue = `order-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await bundle(orderWorkflowsPath),
      activities: world.activities(),
    });
    const view = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(STICKER_ORDER_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: orderWorkflowId(order.orderId),
        args: [orderInput(order.orderId, { payment: { provider: 'local', sessionId: order.sessionId, amountCents: 2199, currency: 'usd' } })],
      });
      const event = await completedEvent(order);
      expectSentToOrderPage(await returnFrom(order.orderId, order.sessionId), order.orderId);
      expect(await (await postEvent(event)).json()).toEqual({ received: true });
      let v: OrderView = await handle.query(orderStatusQuery);
      for (let i = 0; i < 200 && v.status !== 'submitted'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        v = await handle.query(orderStatusQuery);
      }
      await handle.terminate('test over');
      return { ...v, intent: event.data.object.payment_intent };
    });
    expect(view.status).toBe('submitted');
    expect(view.timeline.filter((t) => t.status === 'paid')).toHaveLength(1);
    expect(view.payment).toMatchObject({ paymentIntentId: view.intent, amountCents: 2199 });
    expect(world.payments.refundCalls).toEqual([]);
    expect(world.calls.filter((c) => c === 'submitPrintOrder')).toHaveLength(1);
  });

  it('an unpaid session: 303 to the order page, nothing handed over', async () => {
    const order = await newOrder();
    expectSentToOrderPage(await returnFrom(order.orderId, order.sessionId), order.orderId);
    expect(localPaidChecks).toContain(order.sessionId);
    expect(await signals(order.orderId)).toHaveLength(0);
  });

  it("a session id that is not the order's (or none): 303 and nothing done, the provider not even asked", async () => {
    const order = await newOrder();
    const other = await newOrder();
    await completedEvent(other); // the other order is paid: its session must not pay for this one
    const before = localPaidChecks.length;
    for (const sessionId of [other.sessionId, undefined, '', `cs_local_${'x'.repeat(32)}`]) {
      expectSentToOrderPage(await returnFrom(order.orderId, sessionId), order.orderId);
    }
    expect(localPaidChecks.length).toBe(before);
    expect(await signals(order.orderId)).toHaveLength(0);
    expect(await signals(other.orderId)).toHaveLength(0);
  });

  it('an unknown order: 303 to its (not found) page, nothing revealed', async () => {
    const unknown = 'or_' + 'U'.repeat(22);
    const res = await returnFrom(unknown, `cs_local_${'y'.repeat(32)}`);
    expectSentToOrderPage(res, unknown);
    const odd = await returnFrom('%2F%2Fevil.example', 'cs_x');
    expect(odd.status).toBe(303);
    expect(odd.headers.get('location')).toBe('/orders/%2F%2Fevil.example');
  });

  it('a paid Stripe session is read from Stripe and handed over; with Stripe down the customer still gets the order page', async () => {
    const order = await newOrder({ provider: 'stripe' });
    stripeApi.reset();
    // substituted: GET session → complete and paid for this order (stripe-mock's own are open and unpaid).
    stripeApi.substitute(`GET /v1/checkout/sessions/${order.sessionId}`, await paidStripeSession(order, 'pi_test_returned'));
    expectSentToOrderPage(await returnFrom(order.orderId, order.sessionId), order.orderId);
    expect(stripeApi.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/checkout/sessions/${order.sessionId}`]);
    expect(await signals(order.orderId)).toMatchObject([{ eventId: `checkout:${order.sessionId}`, paymentIntentId: 'pi_test_returned', amountCents: 2199 }]);

    const other = await newOrder({ provider: 'stripe' });
    // substituted: GET session → 500.
    stripeApi.substitute(`GET /v1/checkout/sessions/${other.sessionId}`, stripeError(500, { type: 'api_error', message: 'An unknown error occurred' }));
    expectSentToOrderPage(await returnFrom(other.orderId, other.sessionId), other.orderId);
    expect(await signals(other.orderId)).toHaveLength(0);
    expect(logged.some((l) => l.includes('could not confirm the payment') && l.includes(other.orderId))).toBe(true);
    expect(logged.join('')).not.toContain(STRIPE_KEY);
    expect(stripeApi.reset()).toBe(0);
  });

  it('a paid session for another amount than the order: 303, not handed over, logged', async () => {
    const order = await newOrder({ provider: 'stripe' });
    stripeApi.reset();
    // substituted: GET session → complete and paid, for 1.00 instead of 21.99.
    stripeApi.substitute(`GET /v1/checkout/sessions/${order.sessionId}`, await paidStripeSession(order, 'pi_test_cheap', 100));
    expectSentToOrderPage(await returnFrom(order.orderId, order.sessionId), order.orderId);
    expect(await signals(order.orderId)).toHaveLength(0);
    expect(logged.some((l) => l.includes('ERROR') && l.includes('does not match its order') && l.includes(order.orderId))).toBe(true);
    expect(stripeApi.reset()).toBe(0);
  });

  it("a return after the order closed unpaid refunds the payment through the order's provider, once", async () => {
    const order = await newOrder();
    await completedEvent(order);
    await env.client.workflow.getHandle(orderWorkflowId(order.orderId)).terminate('payment deadline passed');
    expectSentToOrderPage(await returnFrom(order.orderId, order.sessionId), order.orderId);
    expectSentToOrderPage(await returnFrom(order.orderId, order.sessionId), order.orderId);
    await lateRefund((await payments.paidCheckout(order.sessionId))!.paymentIntentId);
    expect(await refunds(order.orderId)).toMatchObject([{ idempotency_key: `refund:order:${order.orderId}` }]);
  });
});
