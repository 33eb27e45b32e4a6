/**
 * POST /webhooks/printers/:printerId over real HTTP, with a real Temporal server (time-skipping,
 * no worker: the order workflows are started, not run, and the signals they receive are read
 * back from their histories) and PGlite. A good event signals the order's workflow once; a
 * duplicate, a forgery or an event about someone else's order changes nothing.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { printerEventSource, printerWebhookRoutes } from '../../src/api/printer-webhooks.js';
import { openPGlite, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { createLogger } from '../../src/logger.js';
import { OrderRepository, WebhookEvents } from '../../src/orders/repository.js';
import { OrderAccessTokens } from '../../src/orders/access-token.js';
import type { PrintAdapter } from '../../src/print-adapters/port.js';
import { PrintfulPrintAdapter } from '../../src/print-adapters/printful/adapter.js';
import { prodigiCallbackToken, ProdigiPrintAdapter } from '../../src/print-adapters/prodigi/adapter.js';
import { SimPrintAdapter } from '../../src/print-adapters/sim/adapter.js';
import { signSimWebhook, type SimWebhookBody } from '../../src/print-adapters/sim/protocol.js';
import { orderWorkflowId, STICKER_ORDER_WORKFLOW_TYPE } from '../../src/workflows/sticker-order/api.js';
import { FakeProdigi } from '../fakes/prodigi.js';
import { timeSkippingEnv } from '../support/temporal.js';

const SECRET = 'sim-secret-0123456789abcdef0123456789abcdef';
const PRODIGI_KEY = 'prodigi-key-webhooks';
const PRODIGI_CALLBACK_SECRET = 'prodigi-callback-secret-0123456789abcdef';
let prodigiVendor: FakeProdigi;
let prodigi: ProdigiPrintAdapter;
let env: TestWorkflowEnvironment;
let db: Database;
let orders: OrderRepository;
let server: Server;
let base: string;
let animationId: string;
let adapters: Map<string, PrintAdapter>;

beforeAll(async () => {
  [env, db, prodigiVendor] = await Promise.all([timeSkippingEnv(), openPGlite(), new FakeProdigi({ apiKey: PRODIGI_KEY }).start()]);
  await migrate(db);
  orders = new OrderRepository(db, new OrderAccessTokens('test-cookie-secret'));
  await db.query(`INSERT INTO customers (id) VALUES ('cus_webhooks')`);
  animationId = 'an_webhooks';
  await db.query(`INSERT INTO animations (id, customer_id, viewer_token) VALUES ($1, 'cus_webhooks', 'v_webhooks')`, [animationId]);
  adapters = new Map<string, PrintAdapter>([
    ['sim', new SimPrintAdapter({ baseUrl: 'http://127.0.0.1:9/printer-sim', secret: SECRET })],
    ['printful', new PrintfulPrintAdapter({ token: 't', webhookSecret: 'ab'.repeat(32), baseUrl: 'http://127.0.0.1:9' })],
  ]);
  const app = createApp({
    logger: createLogger('error'),
    probes: [],
    routers: [printerWebhookRoutes({ adapters, orders, events: new WebhookEvents(db), temporal: env.client })],
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Prodigi calls back on the URL each order was given, so its adapter needs the route's address.
  prodigi = new ProdigiPrintAdapter({ apiKey: PRODIGI_KEY, callbackSecret: PRODIGI_CALLBACK_SECRET, baseUrl: prodigiVendor.url, callbackUrl: `${base}/webhooks/printers/prodigi` });
  adapters.set('prodigi', prodigi);
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await prodigiVendor?.stop();
  await env?.teardown();
  await db?.close();
});

/** An order of `printerId` with its workflow started (on a queue no worker serves). */
async function newOrder(printerId = 'sim', withWorkflow = true) {
  const { record } = await orders.create({ animationId, email: 'a@example.com', printerId, paymentProvider: 'local', amountCents: 999, currency: 'usd' });
  if (withWorkflow) {
    await env.client.workflow.start(STICKER_ORDER_WORKFLOW_TYPE, { workflowId: orderWorkflowId(record.id), taskQueue: 'printer-webhooks-no-worker', args: [] });
  }
  return record.id;
}

function event(orderId: string, status: 'accepted' | 'shipped' = 'accepted', id = `evt_${Math.random().toString(36).slice(2)}`): string {
  const body: SimWebhookBody = {
    id,
    type: `order.${status}`,
    created_at: new Date().toISOString(),
    order: { id: 'sim_x', external_id: orderId, status, pdf_bytes: 1000, tracking: null, failure_reason: null, created_at: new Date().toISOString(), updated_at: new Date().toISOString() },
  };
  return JSON.stringify(body);
}

function post(raw: string, opts: { printer?: string; signature?: string } = {}) {
  return fetch(`${base}/webhooks/printers/${opts.printer ?? 'sim'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'sim-signature': opts.signature ?? signSimWebhook(SECRET, raw, Math.floor(Date.now() / 1000)) },
    body: raw,
  });
}

async function signals(orderId: string) {
  const history = await env.client.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).map((e) => e.workflowExecutionSignaledEventAttributes!.signalName);
}

const recorded = async (eventId: string, printerId = 'sim') => new WebhookEvents(db).seen(printerEventSource(printerId), eventId);
const eventIdOf = (raw: string) => (JSON.parse(raw) as SimWebhookBody).id;

describe('POST /webhooks/printers/:printerId', () => {
  it('a good event signals the order workflow once, and is recorded', async () => {
    const orderId = await newOrder();
    const raw = event(orderId);
    const res = await post(raw);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 1, signalled: 1 });
    expect(await signals(orderId)).toEqual(['printerEvent']);
    expect(await recorded(eventIdOf(raw))).toBe(true);
  });

  it('a duplicate delivery is acknowledged without a second signal', async () => {
    const orderId = await newOrder();
    const raw = event(orderId);
    expect((await post(raw)).status).toBe(200);
    const again = await post(raw);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: 1, signalled: 0 });
    expect(await signals(orderId)).toEqual(['printerEvent']);
  });

  it('forged or tampered: 401, no signal, nothing recorded', async () => {
    const orderId = await newOrder();
    const raw = event(orderId);
    const forged = await post(raw, { signature: `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: { code: 'invalid_signature' } });
    const signature = signSimWebhook(SECRET, raw, Math.floor(Date.now() / 1000));
    expect((await post(raw.replace('accepted', 'shipped'), { signature })).status).toBe(401);
    expect((await post(raw, { signature: signSimWebhook(SECRET, raw, Math.floor(Date.now() / 1000) - 3600) })).status).toBe(401);
    expect(await signals(orderId)).toEqual([]);
    expect(await recorded(eventIdOf(raw))).toBe(false);
  });

  it('an unknown order, or another printer\'s order: 404, no signal, nothing recorded', async () => {
    const unknown = event('or_AAAAAAAAAAAAAAAAAAAAAA');
    const res = await post(unknown);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'order_not_found' } });
    expect(await recorded(eventIdOf(unknown))).toBe(false);

    const printfulOrder = await newOrder('printful');
    const raw = event(printfulOrder);
    expect((await post(raw)).status).toBe(404);
    expect(await signals(printfulOrder)).toEqual([]);
    expect(await recorded(eventIdOf(raw))).toBe(false);
  });

  it('an unknown printer: 404', async () => {
    const res = await post(event(await newOrder()), { printer: 'gelato' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'unknown_printer' } });
  });

  it('a signed body that is not a webhook: 400', async () => {
    for (const raw of ['not json', '{"id":"evt_1"}']) {
      const res = await post(raw);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'malformed_webhook' } });
    }
  });

  it('a body over the limit: 413', async () => {
    const raw = JSON.stringify({ padding: 'x'.repeat(70 * 1024) });
    const res = await post(raw);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'body_too_large' } });
  });

  it('an order whose workflow has closed: acknowledged and recorded, nothing to move', async () => {
    const orderId = await newOrder();
    await env.client.workflow.getHandle(orderWorkflowId(orderId)).terminate('done for the test');
    const raw = event(orderId, 'shipped');
    const res = await post(raw);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 1, signalled: 0 });
    expect(await recorded(eventIdOf(raw))).toBe(true);
  });
});

describe("Prodigi callbacks: each order's URL speaks for that order alone", () => {
  /** A Prodigi order of ours, placed at the fake vendor (which keeps the callback URL it was given) and accepted there. */
  async function prodigiOrder() {
    const orderId = await newOrder('prodigi');
    await prodigi.submit({
      orderId,
      printFileUrl: 'https://files.example/print.pdf',
      product: { shape: 'die-cut', sizeInches: 3, quantity: 1 },
      shipping: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
      email: 'a@example.com',
    });
    prodigiVendor.advance(orderId, 'downloaded');
    return { orderId, callbackUrl: prodigiVendor.order(orderId).callbackUrl! };
  }
  const withToken = (url: string, token: string) => {
    const u = new URL(url);
    u.searchParams.set('token', token);
    return u.toString();
  };

  it("another order's URL, a forged token or the callback secret itself: 401, nothing signalled or recorded", async () => {
    const [a, b] = [await prodigiOrder(), await prodigiOrder()];
    // A's URL leaked: B's news posted to it.
    const crossed = await prodigiVendor.callback(b.orderId, { url: a.callbackUrl, id: 'evt_crossed' });
    expect(crossed.status).toBe(401);
    expect(await crossed.json()).toMatchObject({ error: { code: 'invalid_signature' } });
    const forgeries = {
      'the callback secret itself': PRODIGI_CALLBACK_SECRET,
      'a made-up token': 'A'.repeat(43),
      "B's id under another secret": prodigiCallbackToken('another-secret-0123456789abcdef0123456789', b.orderId),
      'no token': '',
    };
    for (const [i, [what, token]] of Object.entries(forgeries).entries()) {
      const res = await prodigiVendor.callback(b.orderId, { url: withToken(b.callbackUrl, token), id: `evt_forged_${i}` });
      expect(res.status, what).toBe(401);
      expect(await recorded(`evt_forged_${i}`, 'prodigi'), what).toBe(false);
    }
    expect(await signals(a.orderId)).toEqual([]);
    expect(await signals(b.orderId)).toEqual([]);
    expect(await recorded('evt_crossed', 'prodigi')).toBe(false);

    // Each order's own URL still works for that order.
    const own = await prodigiVendor.callback(b.orderId, { id: 'evt_b_own' });
    expect(own.status).toBe(200);
    expect(await own.json()).toEqual({ received: 1, signalled: 1 });
    expect(await signals(b.orderId)).toEqual(['printerEvent']);
    expect(await signals(a.orderId)).toEqual([]);
    expect(await recorded('evt_b_own', 'prodigi')).toBe(true);
  });
});
