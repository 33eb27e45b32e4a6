/**
 * Each print adapter against its vendor over real HTTP: the printer simulator (the real thing,
 * on PGlite, with its ticker and signed webhooks) and local fakes of Printful v2 and Prodigi v4.
 * Submission is idempotent (again, after a lost answer, after 5xx), refusals are PrintRejected,
 * status and cancel map to our stages, and webhooks verify and parse to normalized events.
 */
import Koa from 'koa';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import PDFDocument from 'pdfkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { errorMiddleware } from '../../src/api/errors.js';
import { openPGlite, openPostgres, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { createLogger } from '../../src/logger.js';
import type { Product, ShippingAddress } from '../../src/orders/product.js';
import { createPrintAdapters, embeddedPrinterSim } from '../../src/print-adapters/index.js';
import { MalformedWebhook, PrinterUnavailable, PrintRejected, type PrintAdapter, type PrintOrderRequest, type WebhookRequest } from '../../src/print-adapters/port.js';
import { PrintfulPrintAdapter } from '../../src/print-adapters/printful/adapter.js';
import { prodigiCallbackToken, ProdigiPrintAdapter } from '../../src/print-adapters/prodigi/adapter.js';
import { SimPrintAdapter } from '../../src/print-adapters/sim/adapter.js';
import { PrinterSim } from '../../src/print-adapters/sim/printer.js';
import { signSimWebhook, simApiKey, type SimWebhookBody } from '../../src/print-adapters/sim/protocol.js';
import { printerSimRoutes } from '../../src/print-adapters/sim/routes.js';
import { FakePrintful } from '../fakes/printful.js';
import { FakeProdigi } from '../fakes/prodigi.js';

const STEP_SECONDS = 0.2;
const SIM_SECRET = 'sim-secret-0123456789abcdef0123456789abcdef';
const shipping: ShippingAddress = { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' };
const product: Product = { shape: 'die-cut', sizeInches: 3, quantity: 10 };
let seq = 0;
const orderId = () => `or_test${String(++seq).padStart(4, '0')}${Math.random().toString(36).slice(2, 17).padEnd(15, 'x')}`;
const request = (over: Partial<PrintOrderRequest> = {}): PrintOrderRequest => ({
  orderId: orderId(),
  printFileUrl: `${files.url}/print.pdf`,
  product,
  shipping,
  email: 'ada@example.com',
  ...over,
});
const rejection = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as Error);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
const webhookRequest = (r: Received): WebhookRequest => ({ rawBody: r.body, headers: r.headers, query: Object.fromEntries(new URL(r.url, 'http://x').searchParams) });

// --- local HTTP helpers: a file server for print files, a webhook receiver -------------------

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const files = { url: '', server: undefined as Server | undefined, pdf: Buffer.alloc(0) as Buffer, flakyHits: 0 };
const receiver = {
  url: '',
  server: undefined as Server | undefined,
  received: [] as Received[],
  /** Answer 500 to the next n deliveries about an order. */
  failing: new Map<string, number>(),
  forOrder(id: string) {
    return this.received.filter((r) => (JSON.parse(r.body.toString()) as SimWebhookBody).order?.external_id === id);
  },
};

beforeAll(async () => {
  files.pdf = await new Promise<Buffer>((resolve) => {
    const doc = new PDFDocument({ size: [216, 216] });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.circle(108, 108, 90).stroke();
    doc.end();
  });
  files.server = createServer((req, res) => {
    if (req.url === '/print.pdf') return res.writeHead(200, { 'content-type': 'application/pdf' }).end(files.pdf);
    if (req.url === '/flaky.pdf') {
      // Down for the first two tries (the shop restarting), then up.
      files.flakyHits++;
      return files.flakyHits <= 2 ? res.writeHead(503).end('restarting') : res.writeHead(200, { 'content-type': 'application/pdf' }).end(files.pdf);
    }
    if (req.url === '/not-a-pdf.png') return res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from('\x89PNG\r\n\x1a\nrest'));
    res.writeHead(404).end('no such file');
  });
  files.url = await listen(files.server);
  receiver.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const about = (JSON.parse(body.toString()) as Partial<SimWebhookBody>).order?.external_id ?? '';
      const failing = receiver.failing.get(about) ?? 0;
      if (failing > 0) {
        receiver.failing.set(about, failing - 1);
        return res.writeHead(500).end('down');
      }
      receiver.received.push({ url: req.url ?? '/', headers: req.headers, body, at: Date.now() });
      res.writeHead(200).end('{}');
    });
  });
  receiver.url = await listen(receiver.server);
});
afterAll(async () => {
  for (const s of [files.server, receiver.server]) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
});

// --- the printer simulator --------------------------------------------------------------------

describe('printer simulator', () => {
  let db: Database;
  let server: Server;
  let base: string;
  let sim: PrinterSim;
  let routes: Koa.Middleware;
  let adapter: SimPrintAdapter;
  /** Test-only faults in front of the simulator's API: answer `status` next, or lose the next answer. */
  const fault: { status?: number; drop?: boolean } = {};

  const makeSim = () => {
    sim = new PrinterSim({ db, secret: SIM_SECRET, webhookUrl: `${receiver.url}/webhooks/printers/sim`, baseUrl: `${base}/printer-sim`, stepSeconds: STEP_SECONDS, tickMs: 20, retryBaseMs: 100, retryMaxMs: 300, logger: createLogger('error') });
    routes = printerSimRoutes({ sim, secret: SIM_SECRET, operator: 'open' }).routes() as unknown as Koa.Middleware;
    sim.start();
  };
  const stage = async (id: string) => (await db.query<{ stage: string }>('SELECT stage FROM printer_sim_orders WHERE external_id = $1', [id]))[0]?.stage;
  const types = (id: string) => receiver.forOrder(id).map((r) => (JSON.parse(r.body.toString()) as SimWebhookBody).type);

  beforeAll(async () => {
    db = await openPGlite();
    await migrate(db);
    const app = new Koa();
    app.use(errorMiddleware(createLogger('error')));
    app.use(async (ctx, next) => {
      if (fault.status && ctx.path.startsWith('/printer-sim/v1/')) {
        ctx.status = fault.status;
        ctx.body = { error: { code: 'unavailable', message: 'scripted' } };
        fault.status = undefined;
        return;
      }
      await next();
      if (fault.drop && ctx.method === 'POST') {
        fault.drop = false;
        ctx.req.socket.destroy();
      }
    });
    app.use((ctx, next) => routes(ctx, next));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    makeSim();
    adapter = createPrintAdapters(
      { id: 'sim', sim: { stepSeconds: STEP_SECONDS, url: `${base}/printer-sim` } },
      { publicUrl: base, simSecret: SIM_SECRET },
    ).get('sim') as SimPrintAdapter;
  });
  afterAll(async () => {
    await sim?.stop();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await db?.close();
  });

  it('takes the order, fetches the PDF and reports each step by signed webhook at the configured pace', async () => {
    const order = request();
    const snap = await adapter.submit(order);
    expect(snap).toMatchObject({ orderId: order.orderId, vendorOrderId: expect.stringMatching(/^sim_/) });

    const hooks = await waitFor('four webhooks', () => (receiver.forOrder(order.orderId).length >= 4 ? receiver.forOrder(order.orderId) : undefined));
    expect(types(order.orderId)).toEqual(['order.accepted', 'order.in_production', 'order.shipped', 'order.delivered']);
    // One step apart (give or take a tick): each step is scheduled a full step after the last.
    for (let i = 1; i < hooks.length; i++) expect(hooks[i]!.at - hooks[i - 1]!.at).toBeGreaterThanOrEqual(STEP_SECONDS * 1000 * 0.5);
    expect(hooks[3]!.at - hooks[0]!.at).toBeGreaterThanOrEqual(STEP_SECONDS * 1000 * 2.7);
    expect(hooks.every((h) => adapter.verifyWebhook(webhookRequest(h)))).toBe(true);
    expect(hooks[0]!.url).toBe('/webhooks/printers/sim');

    const events = hooks.flatMap((h) => adapter.parseWebhook(webhookRequest(h)));
    expect(events.map((e) => e.type)).toEqual(['accepted', 'in_production', 'shipped', 'delivered']);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(4);
    expect(events.every((e) => e.orderId === order.orderId)).toBe(true);
    expect(events[2]!.tracking).toEqual({ carrier: 'SimPost', number: expect.stringMatching(/^SIM\d{15}$/), url: `${base}/printer-sim/tracking/${events[2]!.tracking!.number}` });
    expect((await fetch(events[2]!.tracking!.url!)).status).toBe(200);

    const [row] = await db.query<{ pdf_bytes: number }>('SELECT pdf_bytes FROM printer_sim_orders WHERE external_id = $1', [order.orderId]);
    expect(row!.pdf_bytes).toBe(files.pdf.length);
    expect(await adapter.status(order.orderId)).toMatchObject({ type: 'delivered', tracking: events[2]!.tracking });
  });

  it('the same order submitted again is the same order (200), never a second one', async () => {
    const order = request();
    const first = await adapter.submit(order);
    const again = await adapter.submit(order);
    expect(again.vendorOrderId).toBe(first.vendorOrderId);
    const res = await fetch(`${base}/printer-sim/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${simApiKey(SIM_SECRET)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external_id: order.orderId, file_url: order.printFileUrl, product: { shape: 'die-cut', size_inches: 3, quantity: 10 }, recipient: { name: 'A', address1: 'B', city: 'C', zip: '12345', country_code: 'GB' }, email: 'a@example.com' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }).id).toBe(first.vendorOrderId);
    expect(await db.query('SELECT 1 FROM printer_sim_orders WHERE external_id = $1', [order.orderId])).toHaveLength(1);
  });

  it('an answer lost after the order was made: the lookup finds it, one order at the printer', async () => {
    const order = request();
    fault.drop = true;
    const snap = await adapter.submit(order);
    expect(fault.drop).toBe(false);
    expect(snap.orderId).toBe(order.orderId);
    expect(await db.query('SELECT 1 FROM printer_sim_orders WHERE external_id = $1', [order.orderId])).toHaveLength(1);
  });

  it('5xx is PrinterUnavailable (retry later); refusals are PrintRejected; a wrong key is neither', async () => {
    fault.status = 503;
    const order = request();
    expect(await rejection(adapter.submit(order))).toBeInstanceOf(PrinterUnavailable);
    expect((await adapter.submit(order)).orderId).toBe(order.orderId);

    const bad = await rejection(adapter.submit(request({ product: { shape: 'die-cut', sizeInches: 5 as 3, quantity: 1 } })));
    expect(bad).toBeInstanceOf(PrintRejected);
    expect(bad.message).toMatch(/size_inches/);

    const wrongKey = new SimPrintAdapter({ baseUrl: `${base}/printer-sim`, secret: 'another-secret-0123456789abcdef0123456789' });
    const err = await rejection(wrongKey.submit(request()));
    expect(err).not.toBeInstanceOf(PrintRejected);
    expect(err.message).toMatch(/refused our credentials \(401\)/);
  });

  it('status of an unknown order is undefined', async () => {
    expect(await adapter.status('or_nobody')).toBeUndefined();
  });

  it('cancels before production (webhook "cancelled"), not after (false)', async () => {
    const early = request();
    await adapter.submit(early);
    expect(await adapter.cancel(early.orderId)).toBe(true);
    expect(await adapter.cancel(early.orderId)).toBe(true);
    await waitFor('cancelled webhook', () => types(early.orderId).includes('order.cancelled'));
    await sleep(STEP_SECONDS * 1500);
    expect(await stage(early.orderId)).toBe('cancelled');

    const late = request();
    await adapter.submit(late);
    await waitFor('in production', async () => ['in_production', 'shipped', 'delivered'].includes((await stage(late.orderId)) ?? ''));
    expect(await adapter.cancel(late.orderId)).toBe(false);
  });

  it('the operator fails an order: a failed webhook with the reason; 404 unknown, 409 once shipped', async () => {
    const order = request();
    await adapter.submit(order);
    await waitFor('accepted', () => types(order.orderId).includes('order.accepted'));
    const res = await fetch(`${base}/printer-sim/orders/${order.orderId}/fail`, { method: 'POST', body: JSON.stringify({ reason: 'ink ran out' }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ external_id: order.orderId, status: 'failed', failure_reason: 'ink ran out' });
    const hook = await waitFor('failed webhook', () => receiver.forOrder(order.orderId).find((r) => r.body.includes('order.failed')));
    expect(adapter.parseWebhook(webhookRequest(hook))).toEqual([expect.objectContaining({ type: 'failed', reason: 'ink ran out', orderId: order.orderId })]);
    await sleep(STEP_SECONDS * 1500);
    expect(types(order.orderId).at(-1)).toBe('order.failed');

    expect((await fetch(`${base}/printer-sim/orders/or_nobody/fail`, { method: 'POST' })).status).toBe(404);
    const shipped = request();
    await adapter.submit(shipped);
    await waitFor('shipped', () => types(shipped.orderId).includes('order.shipped'));
    const tooLate = await fetch(`${base}/printer-sim/orders/${shipped.orderId}/fail`, { method: 'POST' });
    expect(tooLate.status).toBe(409);
    expect(await tooLate.json()).toMatchObject({ error: { code: 'too_late' } });
  });

  it('a print file that cannot be fetched, or is not a PDF, fails the order with a clear reason', async () => {
    for (const [file, reason] of [['missing.pdf', /could not download the print file: HTTP 404/], ['not-a-pdf.png', /not a PDF/]] as const) {
      const order = request({ printFileUrl: `${files.url}/${file}` });
      await adapter.submit(order);
      const hook = await waitFor('failed webhook', () => receiver.forOrder(order.orderId)[0]);
      const [event] = adapter.parseWebhook(webhookRequest(hook));
      expect(event).toMatchObject({ type: 'failed' });
      expect(event!.reason).toMatch(reason);
      expect(await adapter.status(order.orderId)).toMatchObject({ type: 'failed', reason: event!.reason });
    }
  });

  it('tries a print file download again when the shop answers 503, and accepts the order once it downloads', async () => {
    const order = request({ printFileUrl: `${files.url}/flaky.pdf` });
    await adapter.submit(order);
    await waitFor('accepted', () => types(order.orderId).includes('order.accepted'));
    expect(files.flakyHits).toBe(3);
    expect(types(order.orderId)).not.toContain('order.failed');
  });

  it('retries a webhook the receiver refused, with backoff, and keeps each order in order', async () => {
    const order = request();
    receiver.failing.set(order.orderId, 2);
    await adapter.submit(order);
    await waitFor('four webhooks', () => receiver.forOrder(order.orderId).length >= 4);
    expect(types(order.orderId)).toEqual(['order.accepted', 'order.in_production', 'order.shipped', 'order.delivered']);
    const rows = await db.query<{ attempts: number; delivered_at: Date | null }>(
      'SELECT attempts, delivered_at FROM printer_sim_webhooks WHERE external_id = $1 ORDER BY seq',
      [order.orderId],
    );
    expect(rows[0]!.attempts).toBe(3);
    expect(rows.every((r) => r.delivered_at)).toBe(true);
  });

  it('survives a restart: a new simulator over the same database carries on', async () => {
    const order = request();
    await adapter.submit(order);
    await waitFor('accepted', () => types(order.orderId).includes('order.accepted'));
    await sim.stop();
    const before = types(order.orderId).length;
    await sleep(STEP_SECONDS * 2000);
    expect(types(order.orderId)).toHaveLength(before); // stopped: nothing moves
    makeSim();
    await waitFor('delivered after restart', () => types(order.orderId).includes('order.delivered'));
    expect(types(order.orderId)).toEqual(['order.accepted', 'order.in_production', 'order.shipped', 'order.delivered']);
  });

  it('10,000 resting orders cost the ticker nothing', async () => {
    await db.query(
      `INSERT INTO printer_sim_orders (external_id, sim_id, request, stage, next_at)
       SELECT 'or_parked' || g, 'sim_parked' || g, '{}'::jsonb, 'delivered', NULL FROM generate_series(1, 10000) g`,
    );
    const parked = new PrinterSim({ db, secret: SIM_SECRET, webhookUrl: receiver.url, baseUrl: base, stepSeconds: STEP_SECONDS });
    await parked.tick();
    const started = performance.now();
    for (let i = 0; i < 10; i++) await parked.tick();
    expect((performance.now() - started) / 10).toBeLessThan(50);
  });

  it('runs on PostgreSQL too', async () => {
    const pg = await openPostgres(inject('postgresUrl'));
    try {
      await migrate(pg);
      const onPg = new PrinterSim({ db: pg, secret: SIM_SECRET, webhookUrl: `${receiver.url}/webhooks/printers/sim`, baseUrl: base, stepSeconds: 0.05 });
      const [kept, cancelled] = [request(), request()];
      const body = (o: PrintOrderRequest) => ({ external_id: o.orderId, file_url: o.printFileUrl, product: { shape: 'die-cut', size_inches: 3, quantity: 1 }, recipient: { name: 'A', address1: 'B', city: 'C', zip: '1', country_code: 'GB' }, email: 'a@example.com' });
      expect((await onPg.create(body(kept))).created).toBe(true);
      expect((await onPg.create(body(kept))).created).toBe(false);
      await onPg.create(body(cancelled));
      expect(await onPg.cancel(cancelled.orderId)).toMatchObject({ ok: true });
      await waitFor('delivered on PostgreSQL', async () => {
        await onPg.tick();
        return types(kept.orderId).includes('order.delivered');
      });
      expect(types(kept.orderId)).toEqual(['order.accepted', 'order.in_production', 'order.shipped', 'order.delivered']);
      expect(types(cancelled.orderId)).toEqual(['order.cancelled']);
      expect(await onPg.fail(kept.orderId, 'late')).toEqual({ ok: false, reason: 'too_late' });
    } finally {
      await pg.close();
    }
  });

  it('webhook checks: good, forged, tampered, wrong secret, stale', () => {
    const body = JSON.stringify({ id: 'evt_1', type: 'order.accepted', created_at: new Date().toISOString(), order: { id: 'sim_1', external_id: 'or_1', status: 'accepted', tracking: null, failure_reason: null } });
    const now = Math.floor(Date.now() / 1000);
    const req = (signature: string, raw = body): WebhookRequest => ({ rawBody: Buffer.from(raw), headers: { 'sim-signature': signature }, query: {} });
    expect(adapter.verifyWebhook(req(signSimWebhook(SIM_SECRET, body, now)))).toBe(true);
    expect(adapter.verifyWebhook(req(`t=${now},v1=${'0'.repeat(64)}`))).toBe(false);
    expect(adapter.verifyWebhook(req(signSimWebhook(SIM_SECRET, body, now), body.replace('accepted', 'delivered')))).toBe(false);
    expect(adapter.verifyWebhook(req(signSimWebhook('wrong-secret-0123456789abcdef0123456789', body, now)))).toBe(false);
    expect(adapter.verifyWebhook(req(signSimWebhook(SIM_SECRET, body, now - 3600)))).toBe(false);
    expect(adapter.verifyWebhook({ rawBody: Buffer.from(body), headers: {}, query: {} })).toBe(false);
    expect(adapter.parseWebhook(req(''))).toEqual([{ eventId: 'evt_1', orderId: 'or_1', type: 'accepted', at: expect.any(String) }]);
    expect(() => adapter.parseWebhook(req('', '{"id": 1}'))).toThrow(MalformedWebhook);
    expect(() => adapter.parseWebhook(req('', 'not json'))).toThrow(MalformedWebhook);
  });
});

// --- the simulator's fail switch, as the app mounts it ------------------------------------------

describe("the simulator's fail switch: open only with local payments, otherwise OPS_TOKEN's or absent", () => {
  const OPS_TOKEN = 'ops-token-0123456789abcdef0123456789abcdef';
  let db: Database;
  const servers: Server[] = [];

  beforeAll(async () => {
    db = await openPGlite();
    await migrate(db);
  });
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await db?.close();
  });

  /** The simulator's routes exactly as startApi mounts them for these settings, and an order waiting at it. */
  async function mounted(paymentProvider: 'local' | 'stripe', opsToken?: string) {
    const { sim, routes } = embeddedPrinterSim(
      { id: 'sim', sim: { stepSeconds: 60 } },
      { db, publicUrl: 'http://127.0.0.1:9', secret: SIM_SECRET, paymentProvider, opsToken, logger: createLogger('error') },
    );
    const app = new Koa();
    app.use(errorMiddleware(createLogger('error')));
    app.use(routes.routes());
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const order = request();
    await sim.create({
      external_id: order.orderId,
      file_url: order.printFileUrl,
      product: { shape: 'die-cut', size_inches: 3, quantity: 1 },
      recipient: { name: 'A', address1: 'B', city: 'C', zip: '1', country_code: 'GB' },
      email: 'a@example.com',
    });
    return {
      fail: (headers: Record<string, string> = {}) =>
        fetch(`${base}/printer-sim/orders/${order.orderId}/fail`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ reason: 'failed by a stranger' }),
        }),
      status: async () => (await sim.get(order.orderId))!.status,
      queuedWebhooks: async () => (await db.query('SELECT 1 FROM printer_sim_webhooks WHERE external_id = $1', [order.orderId])).length,
    };
  }

  it('with Stripe and no OPS_TOKEN the route does not exist: 404, the order untouched', async () => {
    const { fail, status, queuedWebhooks } = await mounted('stripe');
    const res = await fail();
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await fail({ authorization: `Bearer ${simApiKey(SIM_SECRET)}` })).status).toBe(404);
    expect(await status()).toBe('received');
    expect(await queuedWebhooks()).toBe(0);
  });

  it('with OPS_TOKEN, only its bearer fails an order: missing, wrong or the simulator API key → 401 and nothing changes', async () => {
    for (const payments of ['stripe', 'local'] as const) {
      const { fail, status, queuedWebhooks } = await mounted(payments, OPS_TOKEN);
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${OPS_TOKEN}x` }, { authorization: OPS_TOKEN }, { authorization: `Bearer ${simApiKey(SIM_SECRET)}` }] as Record<string, string>[]) {
        const res = await fail(headers);
        expect(res.status, `${payments} ${JSON.stringify(headers)}`).toBe(401);
        const { error } = (await res.json()) as { error: { code: string; message: string } };
        expect(error).toEqual({ code: 'unauthorized', message: 'send the operator token as Authorization: Bearer <OPS_TOKEN>' });
      }
      expect(await status()).toBe('received');
      expect(await queuedWebhooks()).toBe(0);
      const ok = await fail({ authorization: `Bearer ${OPS_TOKEN}` });
      expect(ok.status).toBe(202);
      expect(await ok.json()).toMatchObject({ status: 'failed', failure_reason: 'failed by a stranger' });
      expect(await queuedWebhooks()).toBe(1);
    }
  });

  it('on the embedded default (local payments, no OPS_TOKEN) it stays open, as the quick start uses it', async () => {
    const { fail, status } = await mounted('local');
    expect((await fail()).status).toBe(202);
    expect(await status()).toBe('failed');
  });
});

// --- Printful -----------------------------------------------------------------------------------

describe('Printful', () => {
  const TOKEN = 'pf-token-abc';
  const SECRET = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
  let fake: FakePrintful;
  let adapter: PrintAdapter;

  beforeAll(async () => {
    fake = await new FakePrintful({ token: TOKEN, webhookSecret: SECRET }).start();
    adapter = new PrintfulPrintAdapter({ token: TOKEN, webhookSecret: SECRET, baseUrl: fake.url, timeoutMs: 1000 });
  });
  afterAll(() => fake?.stop());

  const received = (w: { rawBody: string; headers: Record<string, string> }): WebhookRequest => ({ rawBody: Buffer.from(w.rawBody), headers: w.headers, query: {} });

  it('submits a draft with our id as external_id and confirms it; again → the same order', async () => {
    const order = request();
    const snap = await adapter.submit(order);
    expect(snap).toMatchObject({ orderId: order.orderId, type: 'accepted' });
    const [pf] = fake.ordersWithExternalId(order.orderId);
    expect(pf).toMatchObject({ status: 'pending', recipient: { name: 'Ada Lovelace', address1: '12 St James Sq', zip: 'SW1Y 4JH', country_code: 'GB' } });
    expect(pf!.order_items[0]).toMatchObject({ catalog_variant_id: 10163, quantity: 10, placements: [{ layers: [{ url: order.printFileUrl }] }] });

    const creates = fake.requestsTo('POST', '/v2/orders').filter((r) => r.path === '/v2/orders').length;
    expect((await adapter.submit(order)).vendorOrderId).toBe(snap.vendorOrderId);
    expect(fake.requestsTo('POST', '/v2/orders').filter((r) => r.path === '/v2/orders')).toHaveLength(creates);
    expect(fake.ordersWithExternalId(order.orderId)).toHaveLength(1);
  });

  it('an answer lost on create (reset or timeout): the lookup finds the draft and confirms it; one order', async () => {
    for (const mode of ['reset', 'hang'] as const) {
      const order = request();
      fake.dropAnswer({ method: 'POST', path: '/v2/orders', mode });
      expect(await adapter.submit(order)).toMatchObject({ type: 'accepted' });
      expect(fake.ordersWithExternalId(order.orderId)).toEqual([expect.objectContaining({ status: 'pending' })]);
    }
  });

  it('an overlapping attempt that confirmed first: our confirmation refused (409), the order found confirmed', async () => {
    // A timed-out activity attempt still running beside its retry: the other attempt confirms the
    // draft between our look-up and our confirmation, and Printful refuses ours.
    const overlapped = new (class extends FakePrintful {
      protected override handle(req: Parameters<FakePrintful['handle']>[0]) {
        const answer = super.handle(req);
        return req.method === 'POST' && req.url.pathname.endsWith('/confirmation') ? { status: 409, body: { code: 409, detail: 'Order is not a draft' } } : answer;
      }
    })({ token: TOKEN, webhookSecret: SECRET });
    await overlapped.start();
    try {
      const racing = new PrintfulPrintAdapter({ token: TOKEN, webhookSecret: SECRET, baseUrl: overlapped.url, timeoutMs: 1000 });
      const order = request();
      expect(await racing.submit(order)).toMatchObject({ orderId: order.orderId, type: 'accepted' });
      expect(overlapped.ordersWithExternalId(order.orderId)).toEqual([expect.objectContaining({ status: 'pending' })]);
    } finally {
      await overlapped.stop();
    }
  });

  it('a draft left unconfirmed by an earlier attempt is confirmed, not made again', async () => {
    const order = request();
    fake.dropAnswer({ method: 'POST', path: '/confirmation' });
    fake.respond({ method: 'GET', path: `/v2/orders/@${order.orderId}`, status: 502, times: 1 });
    // First call: lookup 502 → PrinterUnavailable before anything is made.
    expect(await rejection(adapter.submit(order))).toBeInstanceOf(PrinterUnavailable);
    // The draft is made, the confirmation's answer lost; the lookup then sees it confirmed.
    expect(await adapter.submit(order)).toMatchObject({ type: 'accepted' });
    expect(fake.ordersWithExternalId(order.orderId)).toHaveLength(1);

    const draft = request();
    const made = await fetch(`${fake.url}/v2/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ external_id: draft.orderId, recipient: { name: 'A', address1: 'B', city: 'C', zip: '1', country_code: 'GB' }, order_items: [{ source: 'catalog', catalog_variant_id: 10163, quantity: 1 }] }),
    });
    expect(made.status).toBe(200);
    expect(await adapter.submit(draft)).toMatchObject({ type: 'accepted' });
    expect(fake.ordersWithExternalId(draft.orderId)).toEqual([expect.objectContaining({ status: 'pending' })]);
  });

  it('5xx and 429 are PrinterUnavailable (with Retry-After); nothing is made twice', async () => {
    const order = request();
    fake.respond({ method: 'POST', path: '/v2/orders', status: 500, body: { type: 'about:blank', status: 500, title: 'Internal Server Error' } });
    expect(await rejection(adapter.submit(order))).toBeInstanceOf(PrinterUnavailable);
    fake.respond({ method: 'GET', path: '/v2/orders/@', status: 429, headers: { 'retry-after': '7' } });
    const limited = await rejection(adapter.submit(order));
    expect(limited).toBeInstanceOf(PrinterUnavailable);
    expect((limited as PrinterUnavailable).retryAfterMs).toBe(7000);
    await adapter.submit(order);
    expect(fake.ordersWithExternalId(order.orderId)).toHaveLength(1);
  });

  it('what Printful cannot make, or refuses, is PrintRejected', async () => {
    const before = fake.requests.length;
    const small = await rejection(adapter.submit(request({ product: { ...product, sizeInches: 2 } })));
    expect(small).toBeInstanceOf(PrintRejected);
    expect(small.message).toMatch(/2-inch/);
    expect(fake.requests).toHaveLength(before); // refused before asking
    const refused = await rejection(adapter.submit(request({ shipping: { ...shipping, country: '' } })));
    expect(refused).toBeInstanceOf(PrintRejected);
    expect(refused.message).toMatch(/country_code is required/);
    // A US address reaches Printful with its state code, which Printful requires there.
    const us = request({ shipping: { name: 'Grace Hopper', line1: '1 Navy Way', city: 'Arlington', postalCode: '22202', region: 'VA', country: 'US' } });
    await adapter.submit(us);
    expect(fake.ordersWithExternalId(us.orderId)[0]).toMatchObject({ recipient: { state_code: 'VA', country_code: 'US' } });
    const wrong = new PrintfulPrintAdapter({ token: 'nope', webhookSecret: SECRET, baseUrl: fake.url });
    expect((await rejection(wrong.submit(request()))).message).toMatch(/refused our credentials \(401\)/);
  });

  it('status follows the order: accepted → in production → shipped with tracking → delivered', async () => {
    const order = request();
    await adapter.submit(order);
    expect(await adapter.status(order.orderId)).toMatchObject({ type: 'accepted' });
    fake.setStatus(order.orderId, 'inprocess');
    expect(await adapter.status(order.orderId)).toMatchObject({ type: 'in_production' });
    fake.ship(order.orderId);
    expect(await adapter.status(order.orderId)).toMatchObject({
      type: 'shipped',
      tracking: { carrier: 'USPS First Class', number: '9400100000000000000001', url: expect.stringContaining('usps.com') },
    });
    fake.deliver(order.orderId);
    expect(await adapter.status(order.orderId)).toMatchObject({ type: 'delivered' });
    expect(await adapter.status('or_unknown')).toBeUndefined();
  });

  it('cancels a confirmed order through v1, deletes a draft, and says false once in process', async () => {
    const pending = request();
    await adapter.submit(pending);
    expect(await adapter.cancel(pending.orderId)).toBe(true);
    expect(fake.order(pending.orderId).status).toBe('canceled');
    expect(fake.requestsTo('DELETE', `/orders/${fake.order(pending.orderId).id}`)[0]!.path).not.toMatch(/^\/v2/);
    expect(await adapter.status(pending.orderId)).toMatchObject({ type: 'cancelled' });

    const printing = request();
    await adapter.submit(printing);
    fake.setStatus(printing.orderId, 'inprocess');
    expect(await adapter.cancel(printing.orderId)).toBe(false);
    expect(await adapter.cancel('or_unknown')).toBe(true);
  });

  it('verifies webhooks as Printful signs them and maps events; a redelivery keeps its id', async () => {
    const order = request();
    await adapter.submit(order);
    const accepted = fake.webhook('order_updated', order.orderId);
    expect(adapter.verifyWebhook(received(accepted))).toBe(true);
    expect(adapter.verifyWebhook(received({ ...accepted, headers: { 'x-pf-webhook-signature': 'f'.repeat(64) } }))).toBe(false);
    expect(adapter.verifyWebhook(received({ ...accepted, rawBody: accepted.rawBody.replace('pending', 'canceled') }))).toBe(false);
    expect(adapter.verifyWebhook(received(fake.webhook('order_updated', order.orderId, { secret: 'b'.repeat(64) })))).toBe(false);
    expect(adapter.verifyWebhook(received(fake.webhook('order_updated', order.orderId, { occurredAt: new Date(Date.now() - 10 * 86_400_000).toISOString() })))).toBe(false);
    expect(adapter.verifyWebhook({ rawBody: Buffer.from(accepted.rawBody), headers: {}, query: {} })).toBe(false);

    const [event] = adapter.parseWebhook(received(accepted));
    expect(event).toMatchObject({ orderId: order.orderId, type: 'accepted', eventId: expect.stringMatching(/^pf_/) });
    const occurredAt = JSON.parse(accepted.rawBody).occurred_at as string;
    const redelivery = fake.webhook('order_updated', order.orderId, { retries: 2, occurredAt });
    expect(adapter.parseWebhook(received(redelivery))[0]!.eventId).toBe(event!.eventId);

    fake.setStatus(order.orderId, 'inprocess');
    expect(adapter.parseWebhook(received(fake.webhook('order_updated', order.orderId)))).toEqual([expect.objectContaining({ type: 'in_production' })]);
    fake.ship(order.orderId);
    expect(adapter.parseWebhook(received(fake.webhook('shipment_sent', order.orderId)))).toEqual([
      expect.objectContaining({ type: 'shipped', tracking: { carrier: 'unknown', number: '9400100000000000000001' } }),
    ]);
    expect(adapter.parseWebhook(received(fake.webhook('order_updated', order.orderId)))).toEqual([]); // fulfilled: shipment_sent tells
    expect(adapter.parseWebhook(received(fake.webhook('shipment_delivered', order.orderId)))).toEqual([expect.objectContaining({ type: 'delivered' })]);
    expect(adapter.parseWebhook(received(fake.webhook('order_failed', order.orderId, { reason: 'Print file could not be downloaded' })))).toEqual([
      expect.objectContaining({ type: 'failed', reason: 'Print file could not be downloaded' }),
    ]);
    expect(adapter.parseWebhook(received(fake.webhook('order_put_hold', order.orderId)))).toEqual([]);
    expect(adapter.parseWebhook(received(fake.webhook('order_updated', order.orderId, { data: { order: { id: 1, external_id: null, status: 'pending' } } })))).toEqual([]);
    expect(() => adapter.parseWebhook({ rawBody: Buffer.from('{"type":"order_updated"}'), headers: {}, query: {} })).toThrow(MalformedWebhook);
  });
});

// --- Prodigi ------------------------------------------------------------------------------------

describe('Prodigi', () => {
  const KEY = 'prodigi-key-123';
  const CALLBACK_SECRET = 'prodigi-callback-secret-0123456789abcdef';
  let fake: FakeProdigi;
  let adapter: PrintAdapter;

  beforeAll(async () => {
    fake = await new FakeProdigi({ apiKey: KEY }).start();
    adapter = new ProdigiPrintAdapter({ apiKey: KEY, callbackSecret: CALLBACK_SECRET, baseUrl: fake.url, callbackUrl: `${receiver.url}/webhooks/printers/prodigi`, timeoutMs: 1000 });
  });
  afterAll(() => fake?.stop());

  it('submits with our id as idempotency key and reference; again → AlreadyExists, the same order', async () => {
    const order = request();
    const snap = await adapter.submit(order);
    expect(snap).toMatchObject({ orderId: order.orderId, vendorOrderId: expect.stringMatching(/^ord_/), type: 'accepted' });
    const [o] = fake.ordersWithReference(order.orderId);
    expect(o).toMatchObject({ idempotencyKey: order.orderId, recipient: { address: { postalOrZipCode: 'SW1Y 4JH', countryCode: 'GB', townOrCity: 'London' } } });
    expect(o!.items[0]).toMatchObject({ sku: 'GLOBAL-STI-3X3', copies: 10, assets: [{ printArea: 'default', url: order.printFileUrl }] });
    // The callback URL carries the order's own token, never the secret behind it.
    const callbackUrl = new URL(o!.callbackUrl!);
    expect(`${callbackUrl.origin}${callbackUrl.pathname}`).toBe(`${receiver.url}/webhooks/printers/prodigi`);
    expect(callbackUrl.searchParams.get('token')).toBe(prodigiCallbackToken(CALLBACK_SECRET, order.orderId));
    expect(callbackUrl.searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(o!.callbackUrl).not.toContain(CALLBACK_SECRET);
    expect((await adapter.submit(order)).vendorOrderId).toBe(snap.vendorOrderId);
    expect(fake.ordersWithReference(order.orderId)).toHaveLength(1);
  });

  it('an answer lost on create: the lookup finds the order; one order at Prodigi', async () => {
    const order = request();
    fake.dropAnswer({ method: 'POST', path: '/v4.0/orders' });
    expect(await adapter.submit(order)).toMatchObject({ orderId: order.orderId, type: 'accepted' });
    expect(fake.ordersWithReference(order.orderId)).toHaveLength(1);
    expect(fake.requestsTo('GET', `merchantReferences=${order.orderId}`)).toHaveLength(1);
  });

  it('5xx is PrinterUnavailable; unknown sizes and invalid orders are PrintRejected', async () => {
    const order = request();
    fake.respond({ method: 'POST', path: '/v4.0/orders', status: 500, body: { outcome: 'InternalServerError' } });
    expect(await rejection(adapter.submit(order))).toBeInstanceOf(PrinterUnavailable);
    expect(fake.ordersWithReference(order.orderId)).toHaveLength(0);
    await adapter.submit(order);
    expect(fake.ordersWithReference(order.orderId)).toHaveLength(1);

    expect(await rejection(adapter.submit(request({ product: { ...product, sizeInches: 2 } })))).toBeInstanceOf(PrintRejected);
    const invalid = await rejection(adapter.submit(request({ shipping: { ...shipping, country: '' } })));
    expect(invalid).toBeInstanceOf(PrintRejected);
    expect(invalid.message).toMatch(/ValidationFailed.*countryCode/);
    const us = request({ shipping: { name: 'Grace Hopper', line1: '1 Navy Way', city: 'Arlington', postalCode: '22202', region: 'VA', country: 'US' } });
    await adapter.submit(us);
    expect(fake.ordersWithReference(us.orderId)[0]).toMatchObject({ recipient: { address: { stateOrCounty: 'VA', countryCode: 'US' } } });
  });

  it('status maps stages, production, shipments and failures', async () => {
    const order = request();
    await adapter.submit(order);
    fake.advance(order.orderId, 'downloaded');
    expect(await adapter.status(order.orderId)).toMatchObject({ type: 'accepted' });
    fake.advance(order.orderId, 'inProduction');
    expect(await adapter.status(order.orderId)).toMatchObject({ type: 'in_production' });
    fake.advance(order.orderId, 'shipped');
    expect(await adapter.status(order.orderId)).toMatchObject({ type: 'shipped', tracking: { carrier: 'Royal Mail Tracked 48', number: 'RM123456785GB', url: expect.stringContaining('royalmail') } });
    fake.advance(order.orderId, 'complete');
    expect(await adapter.status(order.orderId)).toMatchObject({ type: 'shipped' });

    const broken = request();
    await adapter.submit(broken);
    fake.advance(broken.orderId, 'downloadFailed');
    expect(await adapter.status(broken.orderId)).toMatchObject({ type: 'failed', reason: expect.stringMatching(/could not download/) });
    expect(await adapter.status('or_unknown')).toBeUndefined();
  });

  it('cancels before production through the actions endpoint; false after', async () => {
    const early = request();
    await adapter.submit(early);
    expect(await adapter.cancel(early.orderId)).toBe(true);
    expect(fake.order(early.orderId).status.stage).toBe('Cancelled');
    expect(await adapter.status(early.orderId)).toMatchObject({ type: 'cancelled' });
    const late = request();
    await adapter.submit(late);
    fake.advance(late.orderId, 'inProduction');
    expect(await adapter.cancel(late.orderId)).toBe(false);
  });

  it("callbacks: the order's token in its URL authenticates them; CloudEvents map with their id", async () => {
    const order = request();
    await adapter.submit(order);
    fake.advance(order.orderId, 'shipped');
    const res = await fake.callback(order.orderId, { id: 'evt_305174' });
    expect(res.status).toBe(200);
    const got = receiver.received.at(-1)!;
    expect(got.url).toMatch(/^\/webhooks\/printers\/prodigi\?token=/);
    const req = webhookRequest(got);
    expect(adapter.verifyWebhook(req)).toBe(true);
    expect(adapter.parseWebhook(req)).toEqual([
      { eventId: 'evt_305174', orderId: order.orderId, type: 'shipped', at: expect.any(String), tracking: { carrier: 'Royal Mail Tracked 48', number: 'RM123456785GB', url: expect.any(String) } },
    ]);
    expect(adapter.verifyWebhook({ ...req, query: { token: 'forged-secret-0123456789abcdef0123456' } })).toBe(false);
    expect(adapter.verifyWebhook({ ...req, query: {} })).toBe(false);
    // The token opens this order only: another order's URL cannot speak for it, nor can the
    // secret itself (what every URL carried before), nor a token keyed by another secret.
    const other = request();
    await adapter.submit(other);
    const otherToken = new URL(fake.order(other.orderId).callbackUrl!).searchParams.get('token')!;
    expect(otherToken).not.toBe(got.url.split('token=')[1]);
    expect(adapter.verifyWebhook({ ...req, query: { token: otherToken } })).toBe(false);
    expect(adapter.verifyWebhook({ ...req, query: { token: CALLBACK_SECRET } })).toBe(false);
    expect(adapter.verifyWebhook({ ...req, query: { token: prodigiCallbackToken('another-secret-0123456789abcdef0123456789', order.orderId) } })).toBe(false);
    // A callback naming no order (or not parsing) cannot be checked against one: refused.
    const nameless = JSON.parse(fake.cloudEvent(order.orderId)) as { data: { order: { merchantReference?: string } } };
    delete nameless.data.order.merchantReference;
    expect(adapter.verifyWebhook({ ...req, rawBody: Buffer.from(JSON.stringify(nameless)) })).toBe(false);
    expect(adapter.verifyWebhook({ ...req, rawBody: Buffer.from('not json') })).toBe(false);
    const stale = fake.cloudEvent(order.orderId, { time: new Date(Date.now() - 30 * 86_400_000).toISOString() });
    expect(adapter.verifyWebhook({ ...req, rawBody: Buffer.from(stale) })).toBe(false);

    // One fragment of Prodigi's docs puts the order straight in `data`: accepted too.
    const flat = JSON.parse(fake.cloudEvent(order.orderId, { id: 'evt_flat' })) as { data: { order: unknown } };
    const flatBody = Buffer.from(JSON.stringify({ ...flat, data: flat.data.order }));
    expect(adapter.parseWebhook({ ...req, rawBody: flatBody })).toEqual([expect.objectContaining({ eventId: 'evt_flat', type: 'shipped' })]);
    expect(() => adapter.parseWebhook({ ...req, rawBody: Buffer.from('{"id":"evt_1","time":"2024-01-01T00:00:00Z","data":{}}') })).toThrow(MalformedWebhook);
  });
});
