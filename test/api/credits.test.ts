/**
 * Credit packs and customers over real HTTP: a real app (customers, uploads, credit packs, the
 * Stripe webhook and the local checkout page, with the real LocalPayments on PGlite and the
 * shared rate limits in its `rate_limits` table) and a real worker running the real workflows
 * and credit activities on the Temporal dev server (runs started by signal-with-start after a
 * run closed are what the Java time-skipping server mishandles).
 *
 * A pack bought is credited once, whether the signed webhook or the shopper's return brings the
 * payment first, and however often either comes again; a refund takes the credits back, as many as
 * are left, once. A GET never makes a customer; past NEW_CUSTOMERS_PER_HOUR an address makes no
 * more (429, Retry-After), across every route that makes one, while known customers go on.
 *
 * The app trusts one proxy, so each shopper here is an address of its own (X-Forwarded-For); the
 * local checkout page's webhook deliveries come from the loopback address.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlertActivities } from '../../src/activities/alerts.js';
import { createCreditActivities } from '../../src/activities/credits.js';
import { AnimationRepository } from '../../src/animations/repository.js';
import { animationRoutes } from '../../src/api/animations.js';
import { createApp } from '../../src/api/app.js';
import { creditRoutes } from '../../src/api/credits.js';
import { customerRoutes } from '../../src/api/customers.js';
import { checkoutPageRoutes, paymentRoutes } from '../../src/api/payments.js';
import { rateLimit } from '../../src/api/rate-limit.js';
import { CREDIT_PACKS } from '../../src/credits/packs.js';
import { CreditPurchases } from '../../src/credits/purchases.js';
import { Customers } from '../../src/customers/customers.js';
import { openPGlite, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { CreditLedger } from '../../src/ledger/ledger.js';
import { apiLimits } from '../../src/limits/rate-limits.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_PHOTO_LIMITS } from '../../src/media/photo.js';
import { OrderRepository, WebhookEvents } from '../../src/orders/repository.js';
import { OrderAccessTokens } from '../../src/orders/access-token.js';
import { LocalPayments } from '../../src/payments/local.js';
import type { PaymentProvider } from '../../src/payments/port.js';
import { signPayload } from '../../src/payments/stripe-events.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { creditPurchaseWorkflowId, type CreditPurchaseView } from '../../src/workflows/credit-purchase/api.js';
import { RecordingAlertChannel } from '../support/recording-alerts.js';
import { bundle, devServerEnv } from '../support/temporal.js';

const SECRET = 'whsec_credits_test_0123456789abcdef';
const COOKIE_KEY = 'credits-test-cookie-key-0123456789abcdef';
const STARTER = 2;
const NEW_CUSTOMERS_PER_HOUR = 5;
const TASK_QUEUE = `credits-api-${randomUUID()}`;
const workflowsPath = fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url));
const photoPath = fileURLToPath(new URL('../fixtures/photos/astronaut.png', import.meta.url));

let env: TestWorkflowEnvironment;
let db: Database;
let ledger: CreditLedger;
let purchases: CreditPurchases;
let server: Server;
let base: string;
let worker: Worker;
let workerDone: Promise<void>;
const alerts = new RecordingAlertChannel();
/** Bodies the local checkout page delivered to the webhook; `holdDeliveries` fails them as a network error would. */
const delivered: string[] = [];
let holdDeliveries = false;

beforeAll(async () => {
  [env, db] = await Promise.all([devServerEnv(), openPGlite()]);
  await migrate(db);
  ledger = new CreditLedger(db);
  purchases = new CreditPurchases(db);
  const customers = new Customers(db, ledger, STARTER);
  server = createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const payments = new LocalPayments(db, {
    publicUrl: base,
    webhookSecret: SECRET,
    fetch: async (url, init) => {
      delivered.push(String(init?.body));
      if (holdDeliveries) throw new TypeError('fetch failed: connection refused');
      return fetch(url, init);
    },
  });
  const providers = new Map<PaymentProvider['id'], PaymentProvider>([['local', payments]]);
  // The limits the API runs with (wired as startApi wires them), on the app's database: here 5
  // new customers an hour.
  const limits = apiLimits(db, { uploadsPerMinute: 1000, newCustomersPerHour: NEW_CUSTOMERS_PER_HOUR });
  const limitReturns = rateLimit(limits.checkoutReturns, { whenLimited: 'mark' });
  const logger = createLogger('error');
  const app = createApp({
    logger,
    probes: [],
    keys: [COOKIE_KEY],
    trustProxy: true,
    routers: [
      customerRoutes({ customers, ledger, newCustomers: limits.newCustomers, starterCredits: STARTER }),
      creditRoutes({
        temporal: env.client,
        taskQueue: TASK_QUEUE,
        customers,
        creditPurchases: purchases,
        payments,
        providers,
        publicUrl: base,
        newCustomers: limits.newCustomers,
        onSale: true,
        limitReturns,
        logger,
      }),
      animationRoutes({
        temporal: env.client,
        // Animations are started, never run: no worker serves their queue.
        taskQueue: `credits-api-animations-${randomUUID()}`,
        customers,
        ledger,
        animations: new AnimationRepository(db),
        blobs: new LocalBlobStore(await mkdtemp(path.join(os.tmpdir(), 'credits-api-blobs-'))),
        publicUrl: base,
        maxUploadBytes: 2 * 1024 * 1024,
        photoLimits: { ...DEFAULT_PHOTO_LIMITS, maxPixels: 16_000_000 },
        limitUploads: rateLimit(limits.uploads),
        newCustomers: limits.newCustomers,
        packsOnSale: true,
      }),
      paymentRoutes({
        providers,
        orders: new OrderRepository(db, new OrderAccessTokens('test-cookie-secret')),
        creditPurchases: purchases,
        taskQueue: TASK_QUEUE,
        events: new WebhookEvents(db),
        temporal: env.client,
        webhookSecret: SECRET,
        logger,
        limitReturns,
        limitWebhooks: rateLimit(limits.webhooks),
      }),
      checkoutPageRoutes({ payments, webhookSecret: SECRET }),
    ],
  });
  server.on('request', app.callback());
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await bundle(workflowsPath),
    activities: {
      ...createCreditActivities({ ledger, creditPurchases: purchases, payments: providers }),
      ...createAlertActivities({ channels: [alerts], temporalUiUrl: 'http://ui.test', namespace: 'default' }),
    },
  });
  workerDone = worker.run();
});
afterAll(async () => {
  if (worker) {
    worker.shutdown();
    await workerDone;
  }
  await new Promise((r) => server?.close(r));
  await env?.teardown();
  await db?.close();
});

let addresses = 0;
/** A fresh client address (one shopper, or one household making several). */
const newAddress = () => `198.51.100.${++addresses}`;

/** A browser: its address, and the cookies the app set. */
class Shopper {
  readonly cookies = new Map<string, string>();
  constructor(readonly ip: string = newAddress()) {}

  get cookie(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async fetch(target: string, { apiKey, ...init }: RequestInit & { apiKey?: string } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.ip);
    if (this.cookies.size) headers.set('cookie', this.cookie);
    if (apiKey) headers.set('authorization', `Bearer ${apiKey}`);
    const res = await fetch(target.startsWith('http') ? target : `${base}${target}`, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  }

  async me(): Promise<{ customerId: string | null; credits: number; newCustomer?: boolean }> {
    const res = await this.fetch('/api/me');
    expect(res.status).toBe(200);
    return (await res.json()) as { customerId: string | null; credits: number };
  }

  async credits(): Promise<number> {
    return (await this.me()).credits;
  }

  upload(opts: { apiKey?: string } = {}): Promise<Response> {
    return readFile(photoPath).then((photo) => {
      const form = new FormData();
      form.append('photo', new Blob([new Uint8Array(photo)], { type: 'image/png' }), 'photo.png');
      return this.fetch('/api/animations', { method: 'POST', body: form, apiKey: opts.apiKey });
    });
  }

  apiKey(opts: { apiKey?: string } = {}): Promise<Response> {
    return this.fetch('/api/customers/api-keys', { method: 'POST', apiKey: opts.apiKey });
  }

  checkout(body: unknown): Promise<Response> {
    return this.fetch('/api/credits/checkout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }
}

interface Checkout {
  purchaseId: string;
  pack: string;
  credits: number;
  amount: { totalCents: number; currency: string };
  checkoutUrl: string;
  expiresAt: string;
}

/** A shopper who has a customer (from a first upload's worth of starter credits) and a pack's open checkout. */
async function buyer(pack = 'pack-5') {
  const shopper = new Shopper();
  const res = await shopper.checkout({ pack });
  expect(res.status).toBe(201);
  const checkout = (await res.json()) as Checkout;
  const me = await shopper.me();
  return { shopper, checkout, customerId: me.customerId! };
}

const tokenOf = (html: string) => /name="token" value="([^"]+)"/.exec(html)?.[1];

/** Presses "Pay" on the local checkout page, as the shopper's browser does. */
async function pay(shopper: Shopper, checkoutUrl: string): Promise<Response> {
  const page = await shopper.fetch(checkoutUrl);
  const token = tokenOf(await page.text());
  expect(token).toBeDefined();
  return shopper.fetch(checkoutUrl, { method: 'POST', body: new URLSearchParams({ token: token! }) });
}

/** Delivers `body` to the webhook route, signed now as Stripe would sign it. */
function postEvent(body: string, secret = SECRET): Promise<Response> {
  return fetch(`${base}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signPayload(body, secret) },
    body,
  });
}

/** Stripe's `charge.refunded` event: a Charge object carrying the running refunded total. */
function chargeRefunded(paymentIntentId: string, amount: number, amountRefunded: number, eventId = `evt_${randomUUID().replace(/-/g, '')}`) {
  return JSON.stringify({
    id: eventId,
    object: 'event',
    api_version: '2025-01-27.acacia',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'charge.refunded',
    data: {
      object: {
        id: `ch_${randomUUID().replace(/-/g, '')}`,
        object: 'charge',
        amount,
        amount_captured: amount,
        amount_refunded: amountRefunded,
        currency: 'usd',
        payment_intent: paymentIntentId,
        paid: true,
        refunded: amountRefunded >= amount,
        status: 'succeeded',
      },
    },
  });
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The purchase's latest run, once it has ended. */
const latestRun = (purchaseId: string) => env.client.workflow.getHandle(creditPurchaseWorkflowId(purchaseId)).result() as Promise<CreditPurchaseView>;

const count = async (table: string) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;

/** The grants of purchased credits on the customer's account. */
const packGrants = async (customerId: string) =>
  (await ledger.entries(customerId)).filter((e) => e.kind === 'grant' && e.idempotency_key.startsWith('credits:payment:'));

const revokes = async (customerId: string) => (await ledger.entries(customerId)).filter((e) => e.kind === 'revoke');

/** A paid pack: bought, paid on the checkout page, credited through the webhook, its run ended. */
async function paidPack(pack = 'pack-5') {
  const b = await buyer(pack);
  expect((await pay(b.shopper, b.checkout.checkoutUrl)).status).toBe(303);
  await latestRun(b.checkout.purchaseId);
  const paymentIntentId = (await purchases.get(b.checkout.purchaseId))!.paymentIntentId!;
  expect(paymentIntentId).toMatch(/^pi_local_/);
  return { ...b, paymentIntentId };
}

describe('GET /api/credit-packs and POST /api/credits/checkout', () => {
  it('lists the packs, with prices', async () => {
    const res = await fetch(`${base}/api/credit-packs`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { packs: { id: string; credits: number; priceCents: number; price: string }[]; checkout: string };
    expect(body.checkout).toBe('/api/credits/checkout');
    expect(body.packs.map((p) => p.id)).toEqual(CREDIT_PACKS.map((p) => p.id));
    expect(body.packs[0]).toEqual({ id: 'pack-5', credits: 5, priceCents: 499, currency: 'usd', price: '$4.99', description: '5 buddy credits' });
  });

  it('an unknown pack or a bad body: 400, and no customer, no purchase', async () => {
    const [customersBefore, purchasesBefore] = [await count('customers'), await count('credit_purchases')];
    const shopper = new Shopper();
    for (const [body, code] of [
      [{ pack: 'pack-1000' }, 'unknown_pack'],
      [{}, 'invalid_request'],
      [{ pack: 'pack-5', credits: 1000 }, 'invalid_request'],
    ] as const) {
      const res = await shopper.checkout(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    expect(shopper.cookies.size).toBe(0);
    expect(await count('customers')).toBe(customersBefore);
    expect(await count('credit_purchases')).toBe(purchasesBefore);
  });

  it('a pack: 201 with a checkoutUrl on the local checkout page, which shows the pack and its price', async () => {
    const { shopper, checkout, customerId } = await buyer('pack-20');
    expect(checkout).toMatchObject({ pack: 'pack-20', credits: 20, amount: { totalCents: 1499, currency: 'usd' } });
    expect(checkout.purchaseId).toMatch(/^cp_[A-Za-z0-9_-]{22}$/);
    expect(checkout.checkoutUrl).toMatch(new RegExp(`^${base}/checkout/cs_local_[A-Za-z0-9_-]{32}$`));
    expect(await purchases.get(checkout.purchaseId)).toMatchObject({ customerId, pack: 'pack-20', credits: 20, fulfilledAt: null });
    const page = await shopper.fetch(checkout.checkoutUrl);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('20 buddy credits');
    expect(html).toContain('$14.99');
    // The purchase's workflow waits for the payment.
    const description = await env.client.workflow.getHandle(creditPurchaseWorkflowId(checkout.purchaseId)).describe();
    expect(description.status.name).toBe('RUNNING');
  });
});

describe('buying a pack, end to end', () => {
  it('webhook first: the credits land once; the return and a redelivered webhook add nothing', async () => {
    const { shopper, checkout, customerId } = await buyer('pack-5');
    expect(await shopper.credits()).toBe(STARTER);
    const sent = delivered.length;
    const paid = await pay(shopper, checkout.checkoutUrl);
    expect(paid.status).toBe(303);
    const successUrl = paid.headers.get('location')!;
    const sessionId = checkout.checkoutUrl.split('/').pop()!;
    expect(successUrl).toBe(`${base}/credits/${checkout.purchaseId}/paid?session_id=${sessionId}`);
    expect(delivered).toHaveLength(sent + 1);
    await until(async () => (await shopper.credits()) === STARTER + 5, 'the credits');
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'fulfilled', credits: 5, balanceAfter: STARTER + 5 });

    // The shopper's browser follows the success URL: back to the upload page, nothing more added.
    const back = await shopper.fetch(successUrl);
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe(`/?purchase=${checkout.purchaseId}`);
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'fulfilled' });
    expect(await shopper.credits()).toBe(STARTER + 5);

    // Stripe redelivers the event (same body, signed anew).
    const redelivery = await postEvent(delivered[sent]!);
    expect(redelivery.status).toBe(200);
    expect(await redelivery.json()).toEqual({ received: true, duplicate: true });
    expect(await shopper.credits()).toBe(STARTER + 5);

    const { paymentIntentId } = (await purchases.get(checkout.purchaseId))!;
    expect(paymentIntentId).toMatch(/^pi_local_/);
    const grants = await packGrants(customerId);
    expect(grants.map((g) => [g.idempotency_key, g.amount])).toEqual([[`credits:payment:${paymentIntentId}`, 5]]);
    expect(await purchases.get(checkout.purchaseId)).toMatchObject({ fulfilledAt: expect.any(String) });
  });

  it('return first (the webhook delayed), then the webhook: the credits land once', async () => {
    const { shopper, checkout, customerId } = await buyer('pack-20');
    const sent = delivered.length;
    holdDeliveries = true;
    let paid: Response;
    try {
      paid = await pay(shopper, checkout.checkoutUrl);
    } finally {
      holdDeliveries = false;
    }
    // Paid, but the event did not get through: the page offers to try again.
    expect(paid.status).toBe(502);
    const retryToken = tokenOf(await paid.text());
    const sessionId = checkout.checkoutUrl.split('/').pop()!;

    const back = await shopper.fetch(`/credits/${checkout.purchaseId}/paid?session_id=${sessionId}`);
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe(`/?purchase=${checkout.purchaseId}`);
    await until(async () => (await shopper.credits()) === STARTER + 20, 'the credits from the return');
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'fulfilled', balanceAfter: STARTER + 20 });

    // Now the webhook: the page's retry delivers the same event, and it changes nothing.
    const retried = await shopper.fetch(checkout.checkoutUrl, { method: 'POST', body: new URLSearchParams({ token: retryToken! }) });
    expect(retried.status).toBe(303);
    expect(delivered.slice(sent).map((b) => (JSON.parse(b) as { id: string }).id)).toEqual([
      (JSON.parse(delivered[sent]!) as { id: string }).id,
      (JSON.parse(delivered[sent]!) as { id: string }).id,
    ]);
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'fulfilled' });
    // ...and a redelivery of it by the provider neither.
    expect(await (await postEvent(delivered[sent]!)).json()).toEqual({ received: true, duplicate: true });
    expect(await shopper.credits()).toBe(STARTER + 20);
    expect(await packGrants(customerId)).toHaveLength(1);
  });

  it('the return and the webhook at the same moment: the credits land once', async () => {
    const { shopper, checkout, customerId } = await buyer('pack-5');
    const sent = delivered.length;
    holdDeliveries = true;
    try {
      expect((await pay(shopper, checkout.checkoutUrl)).status).toBe(502);
    } finally {
      holdDeliveries = false;
    }
    const sessionId = checkout.checkoutUrl.split('/').pop()!;
    const [hook, back, again] = await Promise.all([
      postEvent(delivered[sent]!),
      shopper.fetch(`/credits/${checkout.purchaseId}/paid?session_id=${sessionId}`),
      shopper.fetch(`/credits/${checkout.purchaseId}/paid?session_id=${sessionId}`),
    ]);
    expect([hook.status, back.status, again.status]).toEqual([200, 303, 303]);
    await until(async () => (await shopper.credits()) === STARTER + 5, 'the credits');
    // Every hand-over has reached the workflow (the routes answer after it); the last run ended.
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'fulfilled' });
    expect(await shopper.credits()).toBe(STARTER + 5);
    expect(await packGrants(customerId)).toHaveLength(1);
  });

  it('a return that is not the purchase\'s session, or before paying, adds nothing and reveals nothing', async () => {
    const { shopper, checkout } = await buyer('pack-5');
    const sessionId = checkout.checkoutUrl.split('/').pop()!;
    for (const target of [
      `/credits/${checkout.purchaseId}/paid?session_id=${sessionId}`, // not paid yet
      `/credits/${checkout.purchaseId}/paid?session_id=cs_local_${'x'.repeat(32)}`,
      `/credits/${checkout.purchaseId}/paid`,
      `/credits/cp_${'y'.repeat(22)}/paid?session_id=${sessionId}`,
    ]) {
      const res = await shopper.fetch(target);
      expect(res.status, target).toBe(303);
      expect(res.headers.get('location')).toMatch(/^\/\?purchase=cp_/);
    }
    const description = await env.client.workflow.getHandle(creditPurchaseWorkflowId(checkout.purchaseId)).describe();
    expect(description.status.name).toBe('RUNNING');
    expect(await shopper.credits()).toBe(STARTER);
  });

  it('past 30 returns a minute from one address a return no longer asks the provider; the webhook still adds the credits', async () => {
    const { shopper, checkout } = await buyer('pack-5');
    const sessionId = checkout.checkoutUrl.split('/').pop()!;
    const returnUrl = `/credits/${checkout.purchaseId}/paid?session_id=${sessionId}`;
    for (let i = 0; i < 30; i++) expect((await shopper.fetch(returnUrl)).status).toBe(303); // not paid yet
    const sent = delivered.length;
    holdDeliveries = true;
    let paid: Response;
    try {
      paid = await pay(shopper, checkout.checkoutUrl);
    } finally {
      holdDeliveries = false;
    }
    expect(paid.status).toBe(502);
    const back = await shopper.fetch(returnUrl);
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe(`/?purchase=${checkout.purchaseId}`);
    const description = await env.client.workflow.getHandle(creditPurchaseWorkflowId(checkout.purchaseId)).describe();
    expect(description.status.name).toBe('RUNNING');
    expect(await shopper.credits()).toBe(STARTER);
    expect((await postEvent(delivered[sent]!)).status).toBe(200);
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'fulfilled' });
    expect(await shopper.credits()).toBe(STARTER + 5);
  });

  it('a paid event for a purchase that does not match it (another amount, an unknown purchase): acknowledged, nothing added', async () => {
    const { shopper, checkout } = await buyer('pack-5');
    const sessionId = checkout.checkoutUrl.split('/').pop()!;
    const paidEvent = (purchaseId: string, amount: number) =>
      JSON.stringify({
        id: `evt_${randomUUID().replace(/-/g, '')}`,
        object: 'event',
        created: Math.floor(Date.now() / 1000),
        type: 'checkout.session.completed',
        data: {
          object: {
            id: sessionId,
            object: 'checkout.session',
            amount_total: amount,
            currency: 'usd',
            client_reference_id: purchaseId,
            payment_intent: `pi_${randomUUID().replace(/-/g, '')}`,
            payment_status: 'paid',
            status: 'complete',
          },
        },
      });
    const cheap = await postEvent(paidEvent(checkout.purchaseId, 1));
    expect(cheap.status).toBe(200);
    expect(await cheap.json()).toMatchObject({ received: true, ignored: true });
    const unknown = await postEvent(paidEvent(`cp_${'z'.repeat(22)}`, 499));
    expect(await unknown.json()).toMatchObject({ received: true, ignored: true, reason: 'no such credit purchase' });
    const description = await env.client.workflow.getHandle(creditPurchaseWorkflowId(checkout.purchaseId)).describe();
    expect(description.status.name).toBe('RUNNING');
    expect(await shopper.credits()).toBe(STARTER);
  });
});

describe('a refunded pack', () => {
  it('takes the credits back once: the event redelivered, or a new event with the same total, takes nothing more', async () => {
    const { shopper, checkout, customerId, paymentIntentId } = await paidPack('pack-5');
    expect(await shopper.credits()).toBe(STARTER + 5);
    const refund = chargeRefunded(paymentIntentId, 499, 499);
    const res = await postEvent(refund);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true });
    await until(async () => (await shopper.credits()) === STARTER, 'the credits taken back');
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'refunded', revoked: { taken: 5, shortfall: 0 } });

    expect(await (await postEvent(refund)).json()).toEqual({ received: true, duplicate: true });
    // Another notice of the same refund (a new event id, the same running total).
    expect(await (await postEvent(chargeRefunded(paymentIntentId, 499, 499))).json()).toEqual({ received: true });
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'refunded', revoked: { taken: 5, shortfall: 0 } });
    expect(await shopper.credits()).toBe(STARTER);
    expect((await revokes(customerId)).map((r) => r.amount)).toEqual([5]);
    expect(alerts.sent.filter((a) => a.workflowId === creditPurchaseWorkflowId(checkout.purchaseId))).toEqual([]);
  });

  it('after some were spent: takes what is left, and tells the operator about the rest', async () => {
    const { shopper, checkout, customerId, paymentIntentId } = await paidPack('pack-20');
    // Spends all but 4 of its 22 credits.
    await ledger.charge({ accountId: customerId, amount: STARTER + 20 - 4, idempotencyKey: `spend:${customerId}`, reason: 'buddies' });
    expect(await shopper.credits()).toBe(4);
    expect((await postEvent(chargeRefunded(paymentIntentId, 1499, 1499))).status).toBe(200);
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'refunded', revoked: { taken: 4, shortfall: 16 } });
    expect(await shopper.credits()).toBe(0);
    const alert = alerts.sent.find((a) => a.workflowId === creditPurchaseWorkflowId(checkout.purchaseId));
    expect(alert?.title).toContain('refunded after 16 of its credits were spent');
  });

  it('a partial refund takes back its share; the rest of the refund takes the rest', async () => {
    const { shopper, checkout, paymentIntentId } = await paidPack('pack-5');
    expect((await postEvent(chargeRefunded(paymentIntentId, 499, 250))).status).toBe(200);
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'refunded', revoked: { taken: 3, shortfall: 0 } });
    expect(await shopper.credits()).toBe(STARTER + 2);
    expect((await postEvent(chargeRefunded(paymentIntentId, 499, 499))).status).toBe(200);
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'refunded', revoked: { taken: 2, shortfall: 0 } });
    expect(await shopper.credits()).toBe(STARTER);
  });

  it('a refund of a payment that is no credit purchase: 200, ignored, nothing changes', async () => {
    const { shopper, customerId } = await paidPack('pack-5');
    const [entries, events] = [(await ledger.entries(customerId)).length, await count('webhook_events')];
    const res = await postEvent(chargeRefunded(`pi_${randomUUID().replace(/-/g, '')}`, 499, 499));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, ignored: true });
    expect(await shopper.credits()).toBe(STARTER + 5);
    expect(await ledger.entries(customerId)).toHaveLength(entries);
    expect(await count('webhook_events')).toBe(events + 1); // acknowledged once: a redelivery is a duplicate
  });

  it('a forged or malformed refund: 400, nothing changes', async () => {
    const { shopper, checkout, customerId, paymentIntentId } = await paidPack('pack-5');
    const [entries, events] = [(await ledger.entries(customerId)).length, await count('webhook_events')];
    const forged = await postEvent(chargeRefunded(paymentIntentId, 499, 499), 'whsec_forged_0123456789');
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('invalid_signature');
    const unsigned = await fetch(`${base}/webhooks/stripe`, { method: 'POST', body: chargeRefunded(paymentIntentId, 499, 499) });
    expect(unsigned.status).toBe(400);
    // Signed, but not a Charge (no payment intent).
    const malformed = JSON.parse(chargeRefunded(paymentIntentId, 499, 499)) as { data: { object: Record<string, unknown> } };
    delete malformed.data.object.payment_intent;
    const bad = await postEvent(JSON.stringify(malformed));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_event');
    expect(await latestRun(checkout.purchaseId)).toMatchObject({ status: 'fulfilled' });
    expect(await shopper.credits()).toBe(STARTER + 5);
    expect(await ledger.entries(customerId)).toHaveLength(entries);
    expect(await count('webhook_events')).toBe(events);
  });
});

/** A cookie value signed with the app's key, as the cookies package (Keygrip, SHA-1) signs it. */
const signedCookie = (name: string, value: string) =>
  `${name}=${value}; ${name}.sig=${createHmac('sha1', COOKIE_KEY).update(`${name}=${value}`).digest('base64').replace(/\/|\+|=/g, (c) => ({ '/': '_', '+': '-', '=': '' })[c]!)}`;

describe('customers and free credits', () => {
  it('GET /api/me without a cookie makes no customer', async () => {
    const before = await count('customers');
    for (let i = 0; i < 3; i++) {
      const shopper = new Shopper();
      expect(await shopper.me()).toEqual({ customerId: null, credits: STARTER, newCustomer: true });
      expect(shopper.cookies.size).toBe(0);
    }
    expect(await count('customers')).toBe(before);
  });

  it('GET /api/me with a forged cookie, or a signed one of no customer, makes none either', async () => {
    const before = await count('customers');
    for (const cookie of ['sf_customer=cus_someone_else; sf_customer.sig=forged', 'sf_customer=cus_unsigned', signedCookie('sf_customer', 'cus_nobody')]) {
      const res = await fetch(`${base}/api/me`, { headers: { cookie, 'x-forwarded-for': newAddress() } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { customerId: string | null }).customerId, cookie).toBeNull();
      // (A bad signature's cookie is cleared, by the cookies package; no customer's is set.)
      expect(res.headers.getSetCookie().filter((c) => /^sf_customer=./.test(c))).toEqual([]);
    }
    expect(await count('customers')).toBe(before);
    // The signature scheme is the app's: a customer's own cookie, signed so, is recognised.
    const { customerId } = await buyer();
    const res = await fetch(`${base}/api/me`, { headers: { cookie: signedCookie('sf_customer', customerId) } });
    expect(((await res.json()) as { customerId: string }).customerId).toBe(customerId);
  });

  const expectLimited = async (res: Response) => {
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(await res.json()).toEqual({
      error: {
        code: 'rate_limited',
        message: `too many new customers from your address: at most ${NEW_CUSTOMERS_PER_HOUR} an hour; try again in ${retryAfter} s`,
      },
    });
  };

  it('uploads: the 6th new customer from one address is 429 with Retry-After and no row; known customers go on', async () => {
    const ip = newAddress();
    const made: Shopper[] = [];
    const before = await count('customers');
    for (let i = 0; i < NEW_CUSTOMERS_PER_HOUR; i++) {
      const shopper = new Shopper(ip);
      expect((await shopper.upload()).status).toBe(202);
      made.push(shopper);
    }
    expect(await count('customers')).toBe(before + NEW_CUSTOMERS_PER_HOUR);
    const sixth = new Shopper(ip);
    await expectLimited(await sixth.upload());
    expect(await count('customers')).toBe(before + NEW_CUSTOMERS_PER_HOUR);
    expect(await sixth.me()).toMatchObject({ customerId: null });

    // A customer from that address, by cookie and by API key, is not a new one: never limited.
    expect((await made[0]!.upload()).status).toBe(202);
    const issued = await made[1]!.apiKey();
    expect(issued.status).toBe(201);
    const { apiKey, customerId } = (await issued.json()) as { apiKey: string; customerId: string };
    expect(customerId).toBe((await made[1]!.me()).customerId);
    const cli = new Shopper(ip); // no cookie: the API key alone
    expect((await cli.upload({ apiKey })).status).toBe(202);
    expect((await cli.apiKey({ apiKey })).status).toBe(201);
    expect(cli.cookies.size).toBe(0);
    expect(await count('customers')).toBe(before + NEW_CUSTOMERS_PER_HOUR);

    // Another address is counted on its own.
    expect((await new Shopper().upload()).status).toBe(202);
  });

  it('API keys: the 6th new customer from one address is 429 with Retry-After and no row; a known customer goes on', async () => {
    const ip = newAddress();
    const before = await count('customers');
    const keys: string[] = [];
    for (let i = 0; i < NEW_CUSTOMERS_PER_HOUR; i++) {
      const res = await new Shopper(ip).apiKey();
      expect(res.status).toBe(201);
      keys.push(((await res.json()) as { apiKey: string }).apiKey);
    }
    await expectLimited(await new Shopper(ip).apiKey());
    expect(await count('customers')).toBe(before + NEW_CUSTOMERS_PER_HOUR);
    expect((await new Shopper(ip).apiKey({ apiKey: keys[0] })).status).toBe(201);
    // A wrong key is refused as such, never taken for a new customer.
    expect((await new Shopper(ip).apiKey({ apiKey: 'sf_key_not-a-real-key' })).status).toBe(401);
    expect(await count('customers')).toBe(before + NEW_CUSTOMERS_PER_HOUR);
  });

  it('one limit across every route that makes a customer: uploads, API keys and credit checkouts', async () => {
    const ip = newAddress();
    const before = { customers: await count('customers'), purchases: await count('credit_purchases') };
    expect((await new Shopper(ip).upload()).status).toBe(202);
    expect((await new Shopper(ip).upload()).status).toBe(202);
    expect((await new Shopper(ip).apiKey()).status).toBe(201);
    expect((await new Shopper(ip).apiKey()).status).toBe(201);
    expect((await new Shopper(ip).checkout({ pack: 'pack-5' })).status).toBe(201);
    await expectLimited(await new Shopper(ip).upload());
    await expectLimited(await new Shopper(ip).apiKey());
    await expectLimited(await new Shopper(ip).checkout({ pack: 'pack-5' }));
    expect(await count('customers')).toBe(before.customers + 5);
    expect(await count('credit_purchases')).toBe(before.purchases + 1);
    // Counted in the database, where every API process counts.
    expect(await db.query('SELECT points FROM rate_limits WHERE key = $1', [`new-customers:${ip}`])).toEqual([{ points: 8 }]);
    // GETs never count: the address reads as much as it likes.
    expect((await new Shopper(ip).fetch('/api/credit-packs')).status).toBe(200);
    expect((await new Shopper(ip).me()).customerId).toBeNull();
  });

  it('402 from an upload with no credit offers the packs', async () => {
    const shopper = new Shopper();
    const res = await shopper.apiKey();
    const { apiKey, customerId } = (await res.json()) as { apiKey: string; customerId: string };
    await ledger.charge({ accountId: customerId, amount: STARTER, idempotencyKey: `drain:${customerId}`, reason: 'test' });
    const refused = await shopper.upload({ apiKey });
    expect(refused.status).toBe(402);
    const body = (await refused.json()) as { error: { code: string; message: string; packs: { id: string; price: string }[]; checkout: string } };
    expect(body.error.code).toBe('insufficient_credit');
    expect(body.error.message).toContain('POST /api/credits/checkout');
    expect(body.error.checkout).toBe('/api/credits/checkout');
    expect(body.error.packs.map((p) => [p.id, p.price])).toEqual([
      ['pack-5', '$4.99'],
      ['pack-20', '$14.99'],
      ['pack-50', '$29.99'],
    ]);
    // ...and a pack bought with that key's customer makes uploads work again.
    const bought = await shopper.fetch('/api/credits/checkout', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pack: 'pack-5' }),
      apiKey,
    });
    expect(bought.status).toBe(201);
    const { checkoutUrl, purchaseId } = (await bought.json()) as Checkout;
    expect((await purchases.get(purchaseId))?.customerId).toBe(customerId);
    expect((await pay(shopper, checkoutUrl)).status).toBe(303);
    await latestRun(purchaseId);
    expect(await ledger.balance(customerId)).toBe(5);
    expect((await shopper.upload({ apiKey })).status).toBe(202);
  });
});

describe('packs not on sale (local payments with a back end that costs money)', () => {
  it('lists no packs, refuses a checkout with 503, and makes no customer', async () => {
    const customers = new Customers(db, ledger, STARTER);
    const app = createApp({
      logger: createLogger('error'),
      probes: [],
      keys: [COOKIE_KEY],
      routers: [
        creditRoutes({
          temporal: env.client,
          taskQueue: TASK_QUEUE,
          customers,
          creditPurchases: purchases,
          payments: { id: 'local' } as PaymentProvider,
          providers: new Map(),
          publicUrl: 'http://shop.test',
          newCustomers: apiLimits(db, { uploadsPerMinute: 1, newCustomersPerHour: 1000 }).newCustomers,
          onSale: false,
        }),
      ],
    });
    const other = app.listen(0, '127.0.0.1');
    await new Promise((r) => other.once('listening', r));
    try {
      const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      expect(await (await fetch(`${url}/api/credit-packs`)).json()).toEqual({ packs: [] });
      const before = await count('customers');
      const res = await fetch(`${url}/api/credits/checkout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"pack":"pack-5"}' });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        error: { code: 'credit_packs_unavailable', message: 'credit packs are not on sale here: they need PAYMENT_PROVIDER=stripe with this model back end' },
      });
      expect(await count('customers')).toBe(before);
    } finally {
      await new Promise((r) => other.close(r));
    }
  });
});
