/**
 * The order routes over real HTTP, with a real Temporal server (time-skipping), PGlite, the local
 * payment provider and a worker running the real workflows over the scripted order world. Every
 * field is validated with a clear 4xx; a rejected order leaves nothing behind; cancel and address
 * change answer 409 once the order is at the printer; 404 without the right access token.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrderActivities } from '../../src/activities/orders.js';
import { AnimationRepository } from '../../src/animations/repository.js';
import { createApp } from '../../src/api/app.js';
import { orderRoutes } from '../../src/api/orders.js';
import { Customers } from '../../src/customers/customers.js';
import type { Database } from '../../src/db/database.js';
import type { CreditLedger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/logger.js';
import { PRINTER_LINK_SECONDS, PrintFileUrls, SHOPPER_LINK_SECONDS } from '../../src/orders/print-file-url.js';
import { orderKey, OrderRepository } from '../../src/orders/repository.js';
import { OrderAccessTokens } from '../../src/orders/access-token.js';
import { LocalPayments } from '../../src/payments/local.js';
import { SimPrintAdapter } from '../../src/print-adapters/sim/adapter.js';
import { PrinterSim } from '../../src/print-adapters/sim/printer.js';
import { printerSimRoutes } from '../../src/print-adapters/sim/routes.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { animationWorkflowId, ANIMATION_WORKFLOW_TYPE } from '../../src/workflows/animation/api.js';
import { DEFAULT_ORDER_TIMING, orderStatusQuery, orderWorkflowId, paymentReceivedSignal, printerEventSignal, type OrderInput } from '../../src/workflows/sticker-order/api.js';
import { defaultPayloadConverter } from '@temporalio/common';
import { openLedger, paidWorkActivities } from '../support/ledger.js';
import { gatedAnimation, OrderWorld, printerEvent, shipping } from '../support/orders.js';
import { freePort } from '../support/processes.js';
import { bundle, timeSkippingEnv } from '../support/temporal.js';

const workflowsPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/workflows/index.ts');
let env: TestWorkflowEnvironment;
let db: Database;
let ledger: CreditLedger;
let server: Server;
let base: string;
let workers: Worker[];
let running: Promise<void>;
let animations: AnimationRepository;
let orders: OrderRepository;
let payments: LocalPayments;
let blobs: LocalBlobStore;
let printFileUrls: PrintFileUrls;
let printerSim: PrinterSim;
const SIM_SECRET = 'sim-secret-orders-0123456789abcdef0123456789';
/** Enough of a PDF for a printer's download check. */
const PDF = Buffer.from('%PDF-1.4\n% the print file of an order in this test\n%%EOF\n');
const world = new OrderWorld();
const gate = { released: false };
const taskQueue = `orders-api-${randomUUID()}`;

beforeAll(async () => {
  [env, { db, ledger }] = await Promise.all([timeSkippingEnv(), openLedger()]);
  animations = new AnimationRepository(db);
  orders = new OrderRepository(db, new OrderAccessTokens('test-cookie-secret'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  payments = new LocalPayments(db, { publicUrl: base, webhookSecret: `whsec_${randomUUID()}` });
  blobs = new LocalBlobStore(await mkdtemp(path.join(os.tmpdir(), 'orders-api-')));
  printFileUrls = new PrintFileUrls({ secret: `cookie-secret-${randomUUID()}`, publicUrl: base });
  // The simulated printer, downloading print files from this app as a vendor would (its ticker is driven by hand).
  printerSim = new PrinterSim({ db, secret: SIM_SECRET, webhookUrl: 'http://127.0.0.1:9/webhooks/printers/sim', baseUrl: `${base}/printer-sim`, stepSeconds: 3600 });
  const app = createApp({
    logger: createLogger('error'),
    probes: [],
    routers: [
      orderRoutes({
        temporal: env.client,
        taskQueue,
        animations,
        orders,
        blobs,
        payments,
        printFileUrls,
        printerId: 'sim',
        publicUrl: base,
        checkoutMinutes: 1440,
      }),
      printerSimRoutes({ sim: printerSim, secret: SIM_SECRET, operator: 'absent' }),
    ],
  });
  server = app.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const bundled = await bundle(workflowsPath);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundled,
    activities: { ...world.activities(), ...paidWorkActivities(ledger, [world.alerts]), ...gatedAnimation(gate) },
  });
  // Finished animations run on workers of their own, so this file's gate does not hold them; they
  // keep running, as queries on closed workflows are answered by a worker.
  const finishers = await Promise.all(
    (['succeeded', 'failed'] as const).map((state) =>
      Worker.create({
        connection: env.nativeConnection,
        taskQueue: `${taskQueue}-${state}`,
        workflowBundle: bundled,
        activities: { ...paidWorkActivities(ledger, [world.alerts]), ...gatedAnimation({ released: true, fail: state === 'failed' }) },
      }),
    ),
  );
  workers = [worker, ...finishers];
  running = Promise.all(workers.map((w) => w.run())).then(() => undefined);
});
afterAll(async () => {
  for (const w of workers ?? []) w.shutdown();
  await running?.catch(() => undefined);
  server?.close();
  await env?.teardown();
  await db?.close();
});

/** An animation record and its workflow, running until the gate opens (or already finished). */
async function animation(state: 'running' | 'succeeded' | 'failed') {
  const customerId = await new Customers(db, ledger, 3).create();
  const { record } = await animations.create(customerId);
  const handle = await env.client.workflow.start(ANIMATION_WORKFLOW_TYPE, {
    taskQueue: state === 'running' ? taskQueue : `${taskQueue}-${state}`,
    workflowId: animationWorkflowId(record.id),
    args: [{ animationId: record.id, customerId, photoKey: `animations/${record.id}/photo.png`, fullBody: false }],
  });
  if (state !== 'running') await handle.result().catch(() => undefined);
  return record;
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const request = (animationId: string, patch: Record<string, unknown> = {}) => ({
  animationId,
  product: { shape: 'circle', sizeInches: 2, quantity: 1 },
  shipping,
  email: 'ada@example.com',
  ...patch,
});
const error = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
const orderCount = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM orders'))[0]!.n);

describe('POST /api/orders', () => {
  let finished: string;
  beforeAll(async () => {
    finished = (await animation('succeeded')).id;
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['a shape we do not make', { product: { shape: 'star', sizeInches: 3, quantity: 1 } }, 'product.shape'],
    ['a size we do not make', { product: { shape: 'circle', sizeInches: 5, quantity: 1 } }, 'product.sizeInches'],
    ['a quantity of 0', { product: { shape: 'circle', sizeInches: 3, quantity: 0 } }, 'product.quantity'],
    ['a quantity over 500', { product: { shape: 'circle', sizeInches: 3, quantity: 501 } }, 'product.quantity'],
    ['a fractional quantity', { product: { shape: 'circle', sizeInches: 3, quantity: 1.5 } }, 'product.quantity'],
    ['a quantity as a string', { product: { shape: 'circle', sizeInches: 3, quantity: '10' } }, 'product.quantity'],
    ['no product', { product: undefined }, 'product'],
    ['an unknown product field', { product: { shape: 'circle', sizeInches: 3, quantity: 1, glitter: true } }, 'product'],
    ['no shipping name', { shipping: { ...shipping, name: '' } }, 'shipping.name'],
    ['a blank city', { shipping: { ...shipping, city: '   ' } }, 'shipping.city'],
    ['a country that is not ISO 3166', { shipping: { ...shipping, country: 'Britain' } }, 'shipping.country'],
    ['a postal code with symbols', { shipping: { ...shipping, postalCode: '<script>' } }, 'shipping.postalCode'],
    ['an overlong address line', { shipping: { ...shipping, line1: 'x'.repeat(201) } }, 'shipping.line1'],
    ['a US state that is not a code', { shipping: { ...shipping, country: 'US', postalCode: '22202', region: 'Virginia' } }, 'shipping.region'],
    ['a Canadian province spelt out', { shipping: { ...shipping, country: 'ca', region: 'Ontario' } }, 'shipping.region'],
    ['an overlong region', { shipping: { ...shipping, region: 'x'.repeat(101) } }, 'shipping.region'],
    ['a bad email', { email: 'ada-at-example' }, 'email'],
    ['a malformed animation id', { animationId: '../etc/passwd' }, 'animationId'],
    ['an unknown top-level field', { coupon: 'FREE' }, 'coupon'],
  ];
  it.each(invalid)('400 for %s, naming the field, and nothing is created', async (_label, patch, field) => {
    const before = await orderCount();
    const res = await post('/api/orders', request(finished, patch));
    expect(res.status).toBe(400);
    const e = await error(res);
    expect(e.code).toBe('invalid_request');
    expect(e.message).toContain(field);
    expect(await orderCount()).toBe(before);
  });

  it('415 for a body that is not JSON, 400 for JSON that is not an object, 413 past the size limit', async () => {
    const text = await fetch(`${base}/api/orders`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
    const broken = await fetch(`${base}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"animationId":' });
    expect(broken.status).toBe(400);
    expect((await error(broken)).code).toBe('invalid_json');
    expect((await post('/api/orders', [1, 2])).status).toBe(400);
    const huge = await post('/api/orders', request(finished, { shipping: { ...shipping, line2: 'x'.repeat(100_000) } }));
    expect(huge.status).toBe(413);
  });

  it('404 for an animation that does not exist; 409 for one that failed', async () => {
    expect((await post('/api/orders', request('an_AAAAAAAAAAAAAAAAAAAAAA'))).status).toBe(404);
    const failed = await animation('failed');
    const before = await orderCount();
    const res = await post('/api/orders', request(failed.id));
    expect(res.status).toBe(409);
    expect((await error(res)).code).toBe('animation_failed');
    expect(await orderCount()).toBe(before);
  });

  it('201 for a finished buddy: the order starts on its own with the art, priced, with a checkout', async () => {
    const res = await post('/api/orders', request(finished, { product: { shape: 'die-cut', sizeInches: 3, quantity: 10 } }));
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; status: string; accessToken: string; checkoutUrl: string; amount: { totalCents: number } };
    expect(body).toMatchObject({ status: 'awaiting_payment', amount: { totalCents: 10 * 360 + 499 } });
    expect(body.checkoutUrl).toMatch(new RegExp(`^${base}/checkout/cs_local_`));
    expect(res.headers.get('location')).toBe(`/api/orders/${body.id}`);
    const handle = env.client.workflow.getHandle(orderWorkflowId(body.id));
    expect((await handle.describe()).parentExecution).toBeUndefined();
    const view = await handle.query(orderStatusQuery);
    expect(view).toMatchObject({ status: 'awaiting_payment', product: { shape: 'die-cut', sizeInches: 3, quantity: 10 } });
    // Its whole timing is in its input, so a later change of a default never reaches it.
    const started = (await handle.fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
    const input = defaultPayloadConverter.fromPayload<OrderInput>(started.input!.payloads![0]!);
    expect(Object.keys(input.timing!).sort()).toEqual(Object.keys(DEFAULT_ORDER_TIMING).sort());
    expect(input.timing).toMatchObject({ ...DEFAULT_ORDER_TIMING, paymentDeadline: expect.any(String) });
    const record = await orders.get(body.id);
    expect(record).toMatchObject({ amountCents: 4099, currency: 'usd', printerId: 'sim' });
    // The checkout closes at the payment deadline, kept 5 minutes inside Stripe's 24-hour limit.
    const session = await payments.getCheckout(record!.checkoutSessionId!);
    const closesIn = Date.parse(session!.expiresAt) - Date.now();
    expect(closesIn).toBeGreaterThan((24 * 60 - 6) * 60_000);
    expect(closesIn).toBeLessThanOrEqual((24 * 60 - 5) * 60_000);
  });

  it('takes a US address without its state, as the API contract has it (the web form asks for it)', async () => {
    const res = await post('/api/orders', request(finished, { shipping: { ...shipping, country: 'US', postalCode: '22202' } }));
    expect(res.status).toBe(201);
  });

  it('keeps the state of a US address as its upper-case code, and a region elsewhere as written', async () => {
    const us = { name: 'Grace Hopper', line1: '1 Navy Way', city: 'Arlington', postalCode: '22202', region: ' va ', country: 'us' };
    const gb = { ...shipping, region: 'Greater London' };
    for (const [address, expected] of [[us, { region: 'VA', country: 'US' }], [gb, { region: 'Greater London', country: 'GB' }]] as const) {
      const res = await post('/api/orders', request(finished, { shipping: address }));
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      const view = await env.client.workflow.getHandle(orderWorkflowId(id)).query(orderStatusQuery);
      expect(view.shipping).toMatchObject(expected);
    }
  });
});

describe('the order cookie of the browser that placed it', () => {
  it('carries the access token for that order only: HttpOnly, SameSite=Strict, scoped to its API paths', async () => {
    const finished = (await animation('succeeded')).id;
    const placed = async () => {
      const res = await post('/api/orders', request(finished));
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      return { id, cookie: res.headers.get('set-cookie')! };
    };
    const a = await placed();
    const b = await placed();
    expect(a.cookie).toMatch(new RegExp(`^sf_order_token=ot_[A-Za-z0-9_-]+; path=/api/orders/${a.id}; expires=[^;]+; samesite=strict; httponly$`));
    const pair = a.cookie.split(';')[0]!;
    const got = await fetch(`${base}/api/orders/${a.id}`, { headers: { cookie: pair } });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { id: string }).id).toBe(a.id);
    // Not another order's key; not a made-up one; and an explicit Authorization header wins.
    expect((await fetch(`${base}/api/orders/${b.id}`, { headers: { cookie: pair } })).status).toBe(404);
    expect((await fetch(`${base}/api/orders/${a.id}`, { headers: { cookie: 'sf_order_token=ot_forged' } })).status).toBe(404);
    expect((await fetch(`${base}/api/orders/${a.id}`, { headers: { cookie: pair, authorization: 'Bearer wrong' } })).status).toBe(404);
    expect((await fetch(`${base}/api/orders/${a.id}`, { headers: { cookie: pair, authorization: `Basic x` } })).status).toBe(404);
    // It cancels too (the order page's cancel button works without a stored token), but only from
    // this site's own pages: a form posted from elsewhere (even a sibling subdomain) carries the
    // cookie and must not count.
    const cancel = (headers: Record<string, string>) => fetch(`${base}/api/orders/${a.id}/cancel`, { method: 'POST', headers: { cookie: pair, ...headers } });
    for (const elsewhere of [{}, { origin: 'https://shop.evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'same-site' }] as Record<string, string>[]) {
      expect((await cancel(elsewhere)).status, JSON.stringify(elsewhere)).toBe(404);
    }
    expect((await fetch(`${base}/api/orders/${a.id}`, { headers: { cookie: pair } })).status).toBe(200); // not cancelled
    expect((await cancel({ origin: base })).status).toBe(200);
  });
});

describe('an order placed while the buddy is made', () => {
  it('is the animation child, answers GET with its token only, and locks at the printer (409)', async () => {
    const buddy = await animation('running');
    const res = await post('/api/orders', request(buddy.id));
    expect(res.status).toBe(201);
    const { id, accessToken } = (await res.json()) as { id: string; accessToken: string };
    const handle = env.client.workflow.getHandle(orderWorkflowId(id));
    expect((await handle.describe()).parentExecution?.workflowId).toBe(animationWorkflowId(buddy.id));
    const auth = { authorization: `Bearer ${accessToken}` };

    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Basic ${accessToken}` }] as Record<string, string>[]) {
      expect((await fetch(`${base}/api/orders/${id}`, { headers })).status).toBe(404);
    }
    expect((await fetch(`${base}/api/orders/or_AAAAAAAAAAAAAAAAAAAAAA`, { headers: auth })).status).toBe(404);
    const got = await fetch(`${base}/api/orders/${id}`, { headers: auth });
    expect(got.status).toBe(200);
    expect(got.headers.get('cache-control')).toBe('no-store');
    expect(await got.json()).toMatchObject({ id, status: 'awaiting_payment', timeline: [{ status: 'awaiting_payment' }] });

    // Address change before submission: validated, then applied.
    const patch = (body: unknown) =>
      fetch(`${base}/api/orders/${id}/shipping`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await patch({ ...shipping, country: 'Narnia' })).status).toBe(400);
    const changed = await patch({ ...shipping, line1: '1 New Road' });
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as { shipping: { line1: string } }).shipping.line1).toBe('1 New Road');

    // Paid; the buddy finishes; the order goes to the printer. Now it is locked.
    const session = (await orders.get(id))!.checkoutSessionId!;
    await handle.signal(paymentReceivedSignal, {
      eventId: 'evt_1', orderId: id, sessionId: session, paymentIntentId: 'pi_1', amountCents: 799, currency: 'usd', paidAt: new Date().toISOString(),
    });
    gate.released = true;
    for (let i = 0; i < 200 && (await handle.query(orderStatusQuery)).status !== 'submitted'; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await handle.query(orderStatusQuery)).status).toBe('submitted');
    expect(world.printer.orders.get(id)?.shipping.line1).toBe('1 New Road');

    // Rendered: the status links to the print file by a signed link of the shopper's own, which opens it.
    await blobs.put(orderKey(id, 'print.pdf'), Readable.from([PDF]), { contentType: 'application/pdf' });
    const { printFileUrl } = (await (await fetch(`${base}/api/orders/${id}`, { headers: auth })).json()) as { printFileUrl: string };
    const link = new URL(printFileUrl);
    expect(`${link.origin}${link.pathname}`).toBe(`${base}/files/orders/${id}/print.pdf`);
    expect(Number(link.searchParams.get('expires')) - Date.now() / 1000).toBeGreaterThan(SHOPPER_LINK_SECONDS - 60);
    expect(Number(link.searchParams.get('expires')) - Date.now() / 1000).toBeLessThanOrEqual(SHOPPER_LINK_SECONDS);
    const file = await fetch(printFileUrl);
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer())).toEqual(PDF);

    const cancel = await fetch(`${base}/api/orders/${id}/cancel`, { method: 'POST', headers: auth });
    expect(cancel.status).toBe(409);
    expect((await error(cancel)).code).toBe('order_locked');
    expect((await patch(shipping)).status).toBe(409);

    await handle.signal(printerEventSignal, printerEvent(id, 'delivered'));
    await handle.result();
    expect((await (await fetch(`${base}/api/orders/${id}`, { headers: auth })).json()).status).toBe('delivered');
    expect((await fetch(`${base}/api/orders/${id}/cancel`, { method: 'POST', headers: auth })).status).toBe(409);
  });

  it('cancel takes an optional reason, validated', async () => {
    const buddy = await animation('succeeded');
    const { id, accessToken } = (await (await post('/api/orders', request(buddy.id))).json()) as { id: string; accessToken: string };
    const auth = { authorization: `Bearer ${accessToken}` };
    const tooLong = await post(`/api/orders/${id}/cancel`, { reason: 'x'.repeat(501) }, auth);
    expect(tooLong.status).toBe(400);
    const ok = await post(`/api/orders/${id}/cancel`, { reason: 'ordered the wrong size' }, auth);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'cancelled', error: 'ordered the wrong size', refund: { status: 'not_needed' } });
    expect(world.payments.expired).toContain((await orders.get(id))!.checkoutSessionId); // the checkout was closed
  });
});

describe('GET /files/orders/:id/print.pdf: by signed, expiring link only', () => {
  /** An order with its print file stored, as the render step leaves it. */
  async function orderWithPrintFile() {
    const customerId = await new Customers(db, ledger, 3).create();
    const { record: buddy } = await animations.create(customerId);
    const { record } = await orders.create({ animationId: buddy.id, email: 'ada@example.com', printerId: 'sim', paymentProvider: 'local', amountCents: 799, currency: 'usd' });
    await blobs.put(orderKey(record.id, 'print.pdf'), Readable.from([PDF]), { contentType: 'application/pdf' });
    return record.id;
  }
  const refusal = async (url: string) => {
    const res = await fetch(url);
    return { status: res.status, cacheControl: res.headers.get('cache-control'), ...(await error(res)) };
  };
  const withQuery = (url: string, change: (q: URLSearchParams) => void) => {
    const u = new URL(url);
    change(u.searchParams);
    return u.toString();
  };

  it("a printer's link opens the file for 30 days; the bare order id, a missing, tampered or borrowed signature do not (403)", async () => {
    const id = await orderWithPrintFile();
    const other = await orderWithPrintFile();
    const signed = printFileUrls.sign(id, PRINTER_LINK_SECONDS);
    const expires = Number(new URL(signed).searchParams.get('expires'));
    expect(expires - Date.now() / 1000).toBeGreaterThan(30 * 86_400 - 60);

    const res = await fetch(signed);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(PDF);

    const unsigned = { code: 'forbidden', message: 'this print file opens only by its signed link (with expires and sig)' };
    const forged = { code: 'forbidden', message: 'the signature of this print-file link does not match' };
    const bare = `${base}/files/orders/${id}/print.pdf`;
    expect(await refusal(bare)).toEqual({ status: 403, cacheControl: 'no-store', ...unsigned });
    expect(await refusal(withQuery(signed, (q) => q.delete('sig')))).toMatchObject({ status: 403, ...unsigned });
    expect(await refusal(withQuery(signed, (q) => q.delete('expires')))).toMatchObject({ status: 403, ...unsigned });
    const sig = new URL(signed).searchParams.get('sig')!;
    const tampered = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    expect(await refusal(withQuery(signed, (q) => q.set('sig', tampered)))).toMatchObject({ status: 403, ...forged });
    expect(await refusal(withQuery(signed, (q) => q.set('sig', sig.slice(0, 20))))).toMatchObject({ status: 403, ...forged });
    // A later expiry under the same signature, the signature of another order, or a link signed with another key.
    expect(await refusal(withQuery(signed, (q) => q.set('expires', String(expires + 86_400))))).toMatchObject({ status: 403, ...forged });
    expect(await refusal(withQuery(signed, (q) => q.set('expires', `${expires}.5`)))).toMatchObject({ status: 403, ...forged });
    const borrowed = new URL(printFileUrls.sign(other, PRINTER_LINK_SECONDS)).search;
    expect(await refusal(`${bare}${borrowed}`)).toMatchObject({ status: 403, ...forged });
    const foreign = new PrintFileUrls({ secret: 'another-cookie-secret-0123456789abcdef', publicUrl: base });
    expect(await refusal(foreign.sign(id, PRINTER_LINK_SECONDS))).toMatchObject({ status: 403, ...forged });
    // Repeated parameters are not a way around the check.
    expect(await refusal(`${signed}&sig=${tampered}`)).toMatchObject({ status: 403, ...unsigned });
  });

  it('an expired link: 403 saying so; a good link to an order without a file: 404', async () => {
    const id = await orderWithPrintFile();
    const lapsed = printFileUrls.sign(id, PRINTER_LINK_SECONDS, Date.now() - (PRINTER_LINK_SECONDS + 60) * 1000);
    expect(await refusal(lapsed)).toMatchObject({ status: 403, code: 'forbidden', message: 'this print-file link has expired' });
    expect((await fetch(printFileUrls.sign('or_AAAAAAAAAAAAAAAAAAAAAA', PRINTER_LINK_SECONDS))).status).toBe(404);
  });

  it('submitPrintOrder hands the printer a signed link, and the simulated printer downloads the file by it', async () => {
    const id = await orderWithPrintFile();
    const activities = createOrderActivities({
      blobs,
      printers: new Map([['sim', new SimPrintAdapter({ baseUrl: `${base}/printer-sim`, secret: SIM_SECRET })]]),
      payments: new Map(),
      printFileUrls,
    });
    await activities.submitPrintOrder({ printerId: 'sim', orderId: id, printFileKey: orderKey(id, 'print.pdf'), product: { shape: 'circle', sizeInches: 2, quantity: 1 }, shipping, email: 'ada@example.com' });
    const [row] = await db.query<{ request: { file_url: string } }>('SELECT request FROM printer_sim_orders WHERE external_id = $1', [id]);
    const link = new URL(row!.request.file_url);
    expect(`${link.origin}${link.pathname}`).toBe(`${base}/files/orders/${id}/print.pdf`);
    expect(Number(link.searchParams.get('expires')) - Date.now() / 1000).toBeGreaterThan(PRINTER_LINK_SECONDS - 60);
    expect(link.searchParams.get('sig')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    await printerSim.tick(); // the printer fetches the file
    expect(await printerSim.get(id)).toMatchObject({ status: 'accepted', pdf_bytes: PDF.length });
  });
});
