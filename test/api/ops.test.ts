/**
 * The operator console over real HTTP: the real app and the ops routes, on PGlite with the real
 * migrations, over orders made the way the API makes them (OrderRepository) and recorded the
 * way their workflows record them (saveView), with alerts, emails and operator actions in their
 * tables and real .eml files in an outbox folder. The actions are a recording stand-in for the
 * Temporal-backed ones (tested for real in test/integration/ops-actions.test.ts): here what
 * matters is that each request reaches the right method with the right request.
 *
 * Checked: nothing without the token (pages, API, a forged or expired session); signing in;
 * counts, lists, search, stuck orders, failed refunds, alerts; an order's whole story; each action
 * through the API and through the pages' confirm → POST → 303; cross-site forms refused; a hostile
 * shipping name shown as text; the .eml route reading only recorded files inside the outbox.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AnimationRepository } from '../../src/animations/repository.js';
import { createApp } from '../../src/api/app.js';
import { opsRoutes, type OpsRouteDeps } from '../../src/api/ops.js';
import { openPGlite, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import type { EmailKind } from '../../src/email/port.js';
import { createLogger } from '../../src/logger.js';
import { OrderAccessTokens } from '../../src/orders/access-token.js';
import { PrintFileUrls } from '../../src/orders/print-file-url.js';
import { OrderRepository } from '../../src/orders/repository.js';
import { OpsActionRefused, OPS_REQUEST_ID, type AvailableAction, type OpsActionKind, type OpsActionRequest, type OpsActionResult, type OpsActions } from '../../src/ops/port.js';
import { OpsQueries } from '../../src/ops/queries.js';
import { orderWorkflowId, type OrderStatus, type OrderView, type TimelineEntry } from '../../src/workflows/sticker-order/api.js';

const OPS_TOKEN = 'ops-test-token-0123456789abcdef-0123456789';
const PUBLIC_URL = 'http://shop.test:3000';
const TEMPORAL_UI = 'http://temporal-ui.test:8233/';
const SECRET = 'ops-test-shared-secret-0123456789abcdef';
const STALL_MS = 3 * 86_400_000;
const HOSTILE = '<script>alert("pwned")</script> & Co';

/** The OpsActions stand-in: records each call; refuses while `refusal` is set. */
class RecordingActions implements OpsActions {
  calls: { method: string; request: OpsActionRequest & { kind?: EmailKind } }[] = [];
  refusal?: string;

  async available(orderId: string): Promise<AvailableAction[] | undefined> {
    if (!(await queries.exists(orderId))) return undefined;
    return [
      { action: 'refund', available: true },
      { action: 'cancel', available: false, why: 'the order has ended' },
      { action: 'retry_submission', available: false, why: 'the order has ended' },
      { action: 'resend_email', available: true },
      { action: 'reprint', available: true },
    ];
  }
  private record(method: string, action: OpsActionKind, request: OpsActionRequest & { kind?: EmailKind }): Promise<OpsActionResult> {
    this.calls.push({ method, request });
    if (this.refusal) return Promise.reject(new OpsActionRefused(this.refusal));
    return Promise.resolve({
      action,
      orderId: request.orderId,
      requestId: request.requestId,
      outcome: 'started',
      message: `${action} of ${request.orderId} is under way`,
      at: new Date().toISOString(),
      ...(action === 'reprint' ? { newOrderId: reprintId } : {}),
      ...(request.kind ? { email: { kind: request.kind, resend: 1 } } : {}),
    });
  }
  refund = (r: OpsActionRequest) => this.record('refund', 'refund', r);
  cancel = (r: OpsActionRequest) => this.record('cancel', 'cancel', r);
  retrySubmission = (r: OpsActionRequest) => this.record('retrySubmission', 'retry_submission', r);
  resendEmail = (r: OpsActionRequest & { kind: EmailKind }) => this.record('resendEmail', 'resend_email', r);
  reprint = (r: OpsActionRequest) => this.record('reprint', 'reprint', r);
}

let db: Database;
let queries: OpsQueries;
let server: Server;
let base: string;
let tmp: string;
let outboxDir: string;
const logLines: string[] = [];
const actions = new RecordingActions();
const printFileUrls = new PrintFileUrls({ secret: SECRET, publicUrl: PUBLIC_URL });
let reprintId = '';
/** The orders of the story, by what they show. */
const ids = { delivered: '', stuck: '', failed: '', hostile: '', unpaid: '', reprint: '' };
let animationId = '';
let otherAnimationId = '';

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
const product = { shape: 'die-cut' as const, sizeInches: 3 as const, quantity: 10 };
const address = { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' };
const tracking = { carrier: 'Royal Mail', number: 'RM123456789GB', url: 'https://track.example/RM123456789GB' };

function view(id: string, status: OrderStatus, timeline: [OrderStatus, string, number][], extra: Partial<OrderView> = {}): OrderView {
  return {
    orderId: id,
    animationId,
    status,
    timeline: timeline.map(([s, note, h]): TimelineEntry => ({ status: s, note, at: hoursAgo(h) })),
    product,
    shipping: address,
    printerId: 'sim',
    ...extra,
  };
}
const payment = (h: number) => ({ paymentIntentId: `pi_${h}abc`, amountCents: 4499, currency: 'usd', paidAt: hoursAgo(h) });

async function makeOrder(repo: OrderRepository, email: string, v: (id: string) => OrderView, opts: { animation?: string; reprintOf?: string; updatedHoursAgo?: number } = {}) {
  const { record } = await repo.create({
    animationId: opts.animation ?? animationId,
    email,
    printerId: 'sim',
    paymentProvider: 'local',
    amountCents: 4499,
    currency: 'usd',
    reprintOf: opts.reprintOf,
  });
  await repo.saveView(record.id, 1, v(record.id));
  if (opts.updatedHoursAgo !== undefined) {
    await db.query(`UPDATE orders SET updated_at = now() - ($2::float8 * interval '1 hour'), created_at = now() - ($2::float8 * interval '1 hour') WHERE id = $1`, [
      record.id,
      opts.updatedHoursAgo,
    ]);
  }
  return record.id;
}

let emailsMade = 0;
async function email(key: string, kind: EmailKind, reference: string, opts: { transport?: 'smtp' | 'outbox'; outboxFile?: string; status?: string; duplicate?: boolean; subject?: string } = {}) {
  const status = opts.status ?? 'sent';
  await db.query(
    `INSERT INTO emails_sent (idempotency_key, kind, reference, recipient, subject, message_id, transport, outbox_file, status, possible_duplicate, sent_at, attempts, created_at, claimed_at)
     VALUES ($1, $2, $3, 'ada@example.com', $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
    [key, kind, reference, opts.subject ?? `Your stickers: ${kind}`, `<${key}@shop.test>`, opts.transport ?? 'outbox', opts.outboxFile ?? null, status, opts.duplicate ?? false, status === 'sent' ? hoursAgo(50 - emailsMade) : null, opts.duplicate ? 2 : 1, hoursAgo(50 - emailsMade++)],
  );
}

beforeAll(async () => {
  db = await openPGlite();
  await migrate(db);
  queries = new OpsQueries(db);
  const repo = new OrderRepository(db, new OrderAccessTokens(SECRET));
  const animations = new AnimationRepository(db);
  await db.query(`INSERT INTO customers (id) VALUES ('cus_ops_test')`);
  animationId = (await animations.create('cus_ops_test')).record.id;
  otherAnimationId = (await animations.create('cus_ops_test')).record.id;

  ids.delivered = await makeOrder(repo, 'Ada.Lovelace@Example.com', (id) =>
    view(
      id,
      'delivered',
      [
        ['awaiting_payment', 'order placed', 120],
        ['paid', 'payment received', 119],
        ['rendering', 'making the print file', 119],
        ['submitted', 'sent to the printer as sim_8812', 118],
        ['in_production', 'the printer is printing it', 100],
        ['shipped', 'shipped with Royal Mail RM123456789GB', 70],
        ['delivered', 'delivered', 20],
      ],
      { printFileKey: `orders/${id}/print.pdf`, vendorOrderId: 'sim_8812', tracking, payment: payment(119) },
    ),
  );
  ids.stuck = await makeOrder(
    repo,
    'grace@example.com',
    (id) =>
      view(
        id,
        'in_production',
        [
          ['awaiting_payment', 'order placed', 150],
          ['paid', 'payment received', 149],
          ['submitted', 'sent to the printer as sim_9001', 148],
          ['in_production', 'the printer is printing it', 130],
        ],
        { printFileKey: `orders/${id}/print.pdf`, vendorOrderId: 'sim_9001', payment: payment(149), shipping: { ...address, name: 'Grace Hopper', city: 'Arlington', region: 'VA', postalCode: '22201', country: 'US' } },
      ),
    { updatedHoursAgo: 130 },
  );
  ids.failed = await makeOrder(
    repo,
    'linus@example.com',
    (id) =>
      view(
        id,
        'failed',
        [
          ['awaiting_payment', 'order placed', 30],
          ['paid', 'payment received', 29],
          ['submitted', 'sent to the printer as sim_7007', 28],
          ['failed', 'the printer could not print it: artwork rejected', 5],
        ],
        { payment: payment(29), refund: { status: 'failed', error: 'the payment provider refused the refund: charge_disputed' }, error: 'the printer could not print it: artwork rejected' },
      ),
    { updatedHoursAgo: 5 },
  );
  ids.hostile = await makeOrder(
    repo,
    'mallory@example.com',
    (id) => view(id, 'paid', [['awaiting_payment', 'order placed', 1], ['paid', 'payment received', 0.5]], { payment: payment(0.5), shipping: { ...address, name: HOSTILE, line1: '"><img src=x onerror=alert(1)>' } }),
    { animation: otherAnimationId },
  );
  ids.unpaid = await makeOrder(repo, 'nobody@example.com', (id) => view(id, 'awaiting_payment', [['awaiting_payment', 'order placed', 200]]), { updatedHoursAgo: 200 });
  ids.reprint = await makeOrder(repo, 'Ada.Lovelace@Example.com', (id) =>
    view(id, 'submitted', [['paid', 'a reprint of an earlier order, for no payment', 2], ['submitted', 'sent to the printer as sim_9100', 1]], { reprintOf: ids.delivered }),
    { reprintOf: ids.delivered },
  );
  reprintId = ids.reprint;

  tmp = await mkdtemp(path.join(os.tmpdir(), 'ops-test-'));
  outboxDir = path.join(tmp, 'outbox');
  await mkdir(outboxDir);
  await writeFile(path.join(outboxDir, '20260101T000000000Z-email.order.confirmation.eml'), 'Subject: Your stickers are ordered\r\n\r\nHello Ada\r\n');
  await writeFile(path.join(tmp, 'secret.eml'), 'TOP SECRET outside the outbox');
  await symlink(path.join(tmp, 'secret.eml'), path.join(outboxDir, 'linked.eml'));
  await email(`email:order:${ids.delivered}:confirmation`, 'order_confirmation', ids.delivered, { outboxFile: '20260101T000000000Z-email.order.confirmation.eml', subject: 'Your stickers are ordered' });
  await email(`email:order:${ids.delivered}:shipped`, 'order_shipped', ids.delivered, { transport: 'smtp', duplicate: true, subject: 'Your stickers are on their way' });
  await email(`email:order:${ids.delivered}:delivered`, 'order_delivered', ids.delivered, { outboxFile: '../secret.eml' });
  await email(`email:order:${ids.delivered}:linked`, 'buddy_ready', ids.delivered, { outboxFile: 'linked.eml' });
  await email(`email:order:${ids.failed}:refunded`, 'order_refunded', ids.failed, { status: 'failed', transport: 'smtp' });

  await db.query(`INSERT INTO alerts (title, failed_step, error, refund, workflow_id, reference, created_at) VALUES
    ('Sticker order failed', 'refundPayment', 'charge_disputed', 'refund failed', $1, $2, now() - interval '5 hours'),
    ('Animation failed', 'animate', 'the provider timed out', 'refunded 1 credit', 'animation:an_x', NULL, now() - interval '1 hour')`, [orderWorkflowId(ids.failed), ids.failed]);
  await db.query(`INSERT INTO ops_actions (request_id, action, order_id, actor, reason, result) VALUES ($1, 'resend_email', $2, 'sam', 'shopper lost it', $3)`, [
    'earlier-request-0001',
    ids.delivered,
    JSON.stringify({ action: 'resend_email', orderId: ids.delivered, requestId: 'earlier-request-0001', outcome: 'started', message: 'sending the confirmation email again', at: new Date().toISOString(), email: { kind: 'order_confirmation', resend: 1 } }),
  ]);

  const logger = createLogger('debug', (line) => void logLines.push(line));
  server = await listen(routeDeps({ logger }));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.close();
  await db?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  actions.calls = [];
  actions.refusal = undefined;
});

function routeDeps(extra: Partial<OpsRouteDeps> = {}): OpsRouteDeps {
  return {
    opsToken: OPS_TOKEN,
    queries,
    actions,
    printFileUrls,
    temporalUiUrl: TEMPORAL_UI,
    namespace: 'default',
    publicUrl: PUBLIC_URL,
    outboxDir,
    stallAfterMs: STALL_MS,
    logger: createLogger('error', () => undefined),
    ...extra,
  };
}

async function listen(deps: OpsRouteDeps): Promise<Server> {
  const app = createApp({ logger: deps.logger, probes: [], routers: [opsRoutes(deps)] });
  const s = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => s.once('listening', resolve));
  return s;
}

const bearer = { authorization: `Bearer ${OPS_TOKEN}` };
const get = (p: string, headers: Record<string, string> = {}) => fetch(`${base}${p}`, { headers, redirect: 'manual' });
const api = async <T = Record<string, unknown>>(p: string) => {
  const res = await get(p, bearer);
  expect(res.status, `${p}: ${res.status}`).toBe(200);
  return (await res.json()) as T;
};
const postJson = (p: string, body: unknown, headers: Record<string, string> = bearer) =>
  fetch(`${base}${p}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body), redirect: 'manual' });
const postForm = (p: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${base}${p}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString(), redirect: 'manual' });
const cookieHeader = (res: Response) => res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');

let session = '';
async function signIn(): Promise<string> {
  if (session) return session;
  const res = await postForm('/ops/login', { token: OPS_TOKEN, next: '/ops' }, { origin: PUBLIC_URL });
  expect(res.status).toBe(303);
  session = cookieHeader(res);
  return session;
}
const page = async (p: string) => {
  const res = await get(p, { cookie: await signIn() });
  return { res, text: await res.text() };
};
const ids_ = (orders: { id: string }[]) => orders.map((o) => o.id).sort();

describe('without the operator token', () => {
  it('pages answer 401 with the sign-in form, the API 401 JSON with WWW-Authenticate: Bearer', async () => {
    for (const p of ['/ops', '/ops/orders', `/ops/orders/${ids.delivered}`, '/ops/emails', `/ops/orders/${ids.delivered}/confirm/refund`]) {
      const res = await get(p);
      expect(res.status, p).toBe(401);
      const text = await res.text();
      expect(text).toContain('action="/ops/login"');
      expect(text).toContain('name="token"');
      expect(text).not.toContain('Ada Lovelace');
    }
    for (const p of ['/ops/api/summary', '/ops/api/orders', `/ops/api/orders/${ids.delivered}`, '/ops/api/alerts', '/ops/api/emails']) {
      const res = await get(p);
      expect(res.status, p).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    const posted = await postJson(`/ops/api/orders/${ids.delivered}/actions/refund`, { requestId: 'req-unauth-000001' }, {});
    expect(posted.status).toBe(401);
    expect(actions.calls).toEqual([]);
  });

  it('a wrong token is refused, as a bearer and at sign-in, and is never logged', async () => {
    const wrong = { authorization: `Bearer ${OPS_TOKEN}x` };
    expect((await get('/ops/api/summary', wrong)).status).toBe(401);
    expect((await get('/ops', wrong)).status).toBe(401);
    expect((await get('/ops/api/summary', { authorization: OPS_TOKEN })).status).toBe(401);
    const res = await postForm('/ops/login', { token: 'not-the-token' }, { origin: PUBLIC_URL });
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('not the operator token');
    expect(res.headers.getSetCookie()).toEqual([]);

    const logged: string[] = [];
    const s = await listen(routeDeps({ logger: createLogger('debug', (l) => void logged.push(l)) }));
    const at = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    await fetch(`${at}/ops/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${OPS_TOKEN}`, redirect: 'manual' });
    await fetch(`${at}/ops/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${OPS_TOKEN}zz`, redirect: 'manual' });
    await fetch(`${at}/ops/api/orders/${ids.delivered}/actions/refund`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ requestId: 'req-logging-00001' }) });
    s.close();
    expect(logged.join('\n')).toMatch(/signed in/);
    expect(logged.join('\n')).toMatch(/ops action/);
    expect(logged.join('\n')).not.toContain(OPS_TOKEN);
  });

  it('a forged or expired session cookie is refused', async () => {
    const cookie = await signIn();
    const [, value] = /sf_ops_session=([^;]+)/.exec(cookie)!;
    const [expires, sig] = value!.split('.');
    const forgeries = [
      `${Number(expires) + 86_400}.${sig}`, // a later expiry under the old signature
      `${expires}.${'A'.repeat(43)}`,
      `${expires}.${sig!.slice(0, -2)}`,
      `${expires}`,
      'admin',
    ];
    for (const f of forgeries) expect((await get('/ops', { cookie: `sf_ops_session=${f}` })).status, f).toBe(401);
    // The session cookie opens pages, never the API.
    expect((await get('/ops/api/summary', { cookie })).status).toBe(401);

    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 12 * 3_600_000 + 60_000 });
    try {
      expect((await get('/ops', { cookie })).status).toBe(401);
    } finally {
      vi.useRealTimers();
    }
    expect((await get('/ops', { cookie })).status).toBe(200);
  });
});

describe('signing in', () => {
  it('sets an httpOnly, SameSite=Strict session cookie for /ops lasting 12 hours, which then opens the pages', async () => {
    const res = await postForm('/ops/login', { token: OPS_TOKEN, next: '/ops/orders?status=failed' }, { origin: PUBLIC_URL });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ops/orders?status=failed');
    const [set] = res.headers.getSetCookie();
    expect(set).toMatch(/^sf_ops_session=\d+\.[A-Za-z0-9_-]{43};/);
    expect(set).toMatch(/path=\/ops/i);
    expect(set).toMatch(/httponly/i);
    expect(set).toMatch(/samesite=strict/i);
    expect(set).not.toMatch(/secure/i);
    const expires = Date.parse(/expires=([^;]+)/i.exec(set!)![1]!);
    expect(Math.abs(expires - (Date.now() + 12 * 3_600_000))).toBeLessThan(5_000);
    const opened = await get('/ops', { cookie: cookieHeader(res) });
    expect(opened.status).toBe(200);
    expect(opened.headers.get('cache-control')).toBe('no-store');
    expect(opened.headers.get('x-robots-tag')).toBe('noindex');
  });

  it('goes on only to console pages, and a bearer token opens pages too', async () => {
    for (const next of ['//evil.test/ops', 'https://evil.test/', '/opsx', '/ops\\@evil.test']) {
      const res = await postForm('/ops/login', { token: OPS_TOKEN, next }, { origin: PUBLIC_URL });
      expect(res.headers.get('location'), next).toBe('/ops');
    }
    expect((await get('/ops', bearer)).status).toBe(200);
  });

  it('is Secure when the public URL is https, and a sign-in from another site is refused', async () => {
    const s = await listen(routeDeps({ publicUrl: 'https://shop.example' }));
    const at = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const res = await fetch(`${at}/ops/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://shop.example' },
      body: `token=${OPS_TOKEN}`,
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie()[0]).toMatch(/;\s*secure/i);
    const cross = await fetch(`${at}/ops/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.test' },
      body: `token=${OPS_TOKEN}`,
      redirect: 'manual',
    });
    expect(cross.status).toBe(403);
    expect(cross.headers.getSetCookie()).toEqual([]);
    s.close();
  });

  it('signing out clears the cookie', async () => {
    const res = await postForm('/ops/logout', {}, { cookie: await signIn(), origin: PUBLIC_URL });
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie()[0]).toMatch(/^sf_ops_session=;.*expires=Thu, 01 Jan 1970/i);
  });
});

describe('the JSON API', () => {
  it('summary: counts by status, stuck orders, failed refunds, recent alerts', async () => {
    const s = await api<{
      counts: { byStatus: Record<string, number>; total: number; unrecorded: number };
      stuck: { id: string }[];
      refundProblems: { id: string; refund: { status: string } }[];
      alerts: { title: string; reference?: string }[];
      stallAfterMs: number;
    }>('/ops/api/summary');
    expect(s.counts.byStatus).toEqual({ awaiting_payment: 1, paid: 1, rendering: 0, submitted: 1, in_production: 1, shipped: 0, delivered: 1, failed: 1, cancelled: 0 });
    expect(s.counts.total).toBe(6);
    // In production with nothing for 130 h: stuck. Unpaid for 200 h is not (it cancels itself), nor anything ended or recent.
    expect(ids_(s.stuck)).toEqual([ids.stuck]);
    expect(s.refundProblems.map((o) => [o.id, o.refund.status])).toEqual([[ids.failed, 'failed']]);
    expect(s.alerts.map((a) => a.title)).toEqual(['Animation failed', 'Sticker order failed']);
    expect(s.stallAfterMs).toBe(STALL_MS);
  });

  it('lists orders by status, newest first, a page at a time', async () => {
    const inProduction = await api<{ orders: { id: string; status: string }[] }>('/ops/api/orders?status=in_production');
    expect(inProduction.orders.map((o) => o.id)).toEqual([ids.stuck]);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const p = await api<{ orders: { id: string; createdAt: string }[]; nextCursor?: string }>(`/ops/api/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(p.orders.length).toBeLessThanOrEqual(2);
      seen.push(...p.orders.map((o) => o.id));
      cursor = p.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual(Object.values(ids).sort());
    const all = await api<{ orders: { id: string; createdAt: string }[] }>('/ops/api/orders');
    expect(all.orders.map((o) => o.id)).toEqual(seen);
    const times = all.orders.map((o) => Date.parse(o.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    for (const bad of ['status=lost', 'limit=0', 'limit=abc', 'cursor=..%2F..', 'sort=id']) {
      const res = await get(`/ops/api/orders?${bad}`, bearer);
      expect(res.status, bad).toBe(400);
    }
  });

  it('searches by order id, email in any case, animation id, payment and tracking number, or a part of the name', async () => {
    const search = async (q: string) => ids_((await api<{ orders: { id: string }[] }>(`/ops/api/orders?q=${encodeURIComponent(q)}`)).orders);
    expect(await search(ids.stuck)).toEqual([ids.stuck]);
    expect(await search('ada.lovelace@EXAMPLE.com')).toEqual([ids.delivered, ids.reprint].sort());
    expect(await search('  GRACE@example.com ')).toEqual([ids.stuck]);
    expect(await search(otherAnimationId)).toEqual([ids.hostile]);
    expect(await search(animationId)).toEqual([ids.delivered, ids.stuck, ids.failed, ids.unpaid, ids.reprint].sort());
    expect(await search('RM123456789GB')).toEqual([ids.delivered]);
    expect(await search('sim_9001')).toEqual([ids.stuck]);
    expect(await search('hopper')).toEqual([ids.stuck]);
    expect(await search('%')).toEqual([]); // taken literally
    expect(await search('or_doesnotexist0000000000')).toEqual([]);
    // Combined with a status.
    expect(ids_((await api<{ orders: { id: string }[] }>(`/ops/api/orders?status=delivered&q=${encodeURIComponent('ada.lovelace@example.com')}`)).orders)).toEqual([ids.delivered]);
  });

  it("an order's detail: record, timeline, emails, alerts, actions, reprints, workflow and print-file links", async () => {
    const res = await get(`/ops/api/orders/${ids.delivered}`, bearer);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const raw = await res.text();
    expect(raw).not.toMatch(/access_token|accessToken|sha256/i);
    const d = JSON.parse(raw) as {
      order: { id: string; status: string; email: string; view: OrderView };
      emails: { kind: string; status: string; possibleDuplicate: boolean; emlUrl?: string }[];
      alerts: unknown[];
      operatorActions: { requestId: string; actor: string; reason: string; result: OpsActionResult }[];
      reprints: { id: string }[];
      actions: AvailableAction[];
      links: { workflow: string; printFile?: string; console: string };
    };
    expect(d.order).toMatchObject({ id: ids.delivered, status: 'delivered', email: 'Ada.Lovelace@Example.com' });
    expect(d.order.view.timeline.map((t) => t.status)).toEqual(['awaiting_payment', 'paid', 'rendering', 'submitted', 'in_production', 'shipped', 'delivered']);
    expect(d.order.view.tracking).toEqual(tracking);
    expect(d.emails.map((e) => [e.kind, e.status, e.possibleDuplicate, Boolean(e.emlUrl)])).toEqual([
      ['order_confirmation', 'sent', false, true],
      ['order_shipped', 'sent', true, false],
      ['order_delivered', 'sent', false, true],
      ['buddy_ready', 'sent', false, true],
    ]);
    expect(d.operatorActions).toMatchObject([{ requestId: 'earlier-request-0001', actor: 'sam', reason: 'shopper lost it', result: { outcome: 'started' } }]);
    expect(d.reprints.map((r) => r.id)).toEqual([ids.reprint]);
    expect(d.actions.find((a) => a.action === 'cancel')).toEqual({ action: 'cancel', available: false, why: 'the order has ended' });
    expect(d.links.workflow).toBe(`http://temporal-ui.test:8233/namespaces/default/workflows/${encodeURIComponent(`order:${ids.delivered}`)}`);
    const link = new URL(d.links.printFile!);
    expect(link.origin + link.pathname).toBe(`${PUBLIC_URL}/files/orders/${ids.delivered}/print.pdf`);
    expect(printFileUrls.check(ids.delivered, Object.fromEntries(link.searchParams))).toBeUndefined();
    expect(printFileUrls.check(ids.stuck, Object.fromEntries(link.searchParams))).toBe('forged');

    const reprint = await api<{ reprintOf: { id: string }; order: { reprintOf: string } }>(`/ops/api/orders/${ids.reprint}`);
    expect(reprint.reprintOf.id).toBe(ids.delivered);
    const failed = await api<{ alerts: { failedStep: string; workflowId: string }[]; links: { printFile?: string } }>(`/ops/api/orders/${ids.failed}`);
    expect(failed.alerts).toMatchObject([{ failedStep: 'refundPayment', workflowId: `order:${ids.failed}` }]);
    expect(failed.links.printFile).toBeUndefined(); // never rendered

    expect((await get('/ops/api/orders/or_0000000000000000000000', bearer)).status).toBe(404);
    expect((await get('/ops/api/orders/nonsense', bearer)).status).toBe(404);
  });

  it('alerts and emails, newest first, a page at a time', async () => {
    const first = await api<{ alerts: { id: number; title: string }[]; nextCursor?: number }>('/ops/api/alerts?limit=1');
    expect(first.alerts.map((a) => a.title)).toEqual(['Animation failed']);
    const second = await api<{ alerts: { title: string }[]; nextCursor?: number }>(`/ops/api/alerts?limit=1&cursor=${first.nextCursor}`);
    expect(second.alerts.map((a) => a.title)).toEqual(['Sticker order failed']);
    expect(second.nextCursor).toBeUndefined();

    const emails = await api<{ emails: { idempotencyKey: string; transport: string; outboxFile?: string; emlUrl?: string }[] }>('/ops/api/emails');
    expect(emails.emails).toHaveLength(5);
    const confirmation = emails.emails.find((e) => e.idempotencyKey.endsWith(':confirmation'))!;
    expect(confirmation).toMatchObject({ transport: 'outbox', emlUrl: `/ops/emails/${encodeURIComponent(confirmation.idempotencyKey)}/eml` });
  });
});

describe('actions through the API', () => {
  const cases: [OpsActionKind, string, Record<string, unknown>][] = [
    ['refund', 'refund', { reason: 'stickers arrived torn' }],
    ['cancel', 'cancel', { actor: 'sam' }],
    ['retry_submission', 'retrySubmission', {}],
    ['resend_email', 'resendEmail', { kind: 'order_shipped', reason: 'shopper asked' }],
    ['reprint', 'reprint', { reason: 'colours off' }],
  ];
  for (const [action, method, extra] of cases) {
    it(`${action} calls ${method} with the request`, async () => {
      const requestId = `req-${action.replace('_', '-')}-0001`;
      const res = await postJson(`/ops/api/orders/${ids.delivered}/actions/${action}`, { requestId, ...extra });
      expect(res.status).toBe(200);
      const result = (await res.json()) as OpsActionResult;
      expect(result).toMatchObject({ action, orderId: ids.delivered, requestId, outcome: 'started' });
      expect(actions.calls).toEqual([
        {
          method,
          request: {
            orderId: ids.delivered,
            requestId,
            actor: (extra.actor as string | undefined) ?? 'api',
            reason: extra.reason,
            ...(extra.kind ? { kind: extra.kind } : {}),
          },
        },
      ]);
    });
  }

  it('400 for a bad action, request id or email kind; 404 for an unknown order; 409 when the action is refused', async () => {
    const at = (action: string, id = ids.delivered) => `/ops/api/orders/${id}/actions/${action}`;
    const status = async (res: Promise<Response>) => (await res).status;
    expect(await status(postJson(at('delete'), { requestId: 'req-bad-action-01' }))).toBe(400);
    expect(await status(postJson(at('refund'), {}))).toBe(400);
    expect(await status(postJson(at('refund'), { requestId: 'short' }))).toBe(400);
    expect(await status(postJson(at('refund'), { requestId: 'has spaces in it!' }))).toBe(400);
    expect(await status(postJson(at('refund'), { requestId: 'req-extra-field-1', amount: 100 }))).toBe(400);
    expect(await status(postJson(at('resend_email'), { requestId: 'req-no-kind-00001' }))).toBe(400);
    expect(await status(postJson(at('resend_email'), { requestId: 'req-bad-kind-0001', kind: 'password_reset' }))).toBe(400);
    expect(await status(postJson(at('refund'), { requestId: 'req-kind-refund-1', kind: 'order_shipped' }))).toBe(400);
    expect(await status(postJson(at('refund', 'or_0000000000000000000000'), { requestId: 'req-unknown-00001' }))).toBe(404);
    expect(await status(postJson(at('refund', 'not-an-order'), { requestId: 'req-unknown-00002' }))).toBe(404);
    expect(actions.calls).toEqual([]);

    actions.refusal = 'the order has been refunded already';
    const refused = await postJson(at('refund'), { requestId: 'req-refused-00001' });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({ error: { code: 'action_refused', message: 'the order has been refunded already' } });
  });
});

describe('the pages', () => {
  it('the dashboard: counts linking to lists, search, stuck orders, failed refunds, alerts, emails', async () => {
    const { res, text } = await page('/ops');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-robots-tag')).toBe('noindex');
    expect(text).toContain('href="/ops/orders?status=in_production"');
    expect(text).toContain('name="q"');
    expect(text).toMatch(new RegExp(`id="stuck"[\\s\\S]*${ids.stuck}[\\s\\S]*id="refunds"[\\s\\S]*${ids.failed}`));
    expect(text).toContain('charge_disputed');
    expect(text).toContain('Animation failed');
    expect(text).not.toContain('<script');
    const css = /href="(\/ops\/assets\/ops\.[0-9a-f]{16}\.css)"/.exec(text)![1]!;
    const sheet = await get(css);
    expect(sheet.status).toBe(200);
    expect(sheet.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('lists and searches; an exact order id goes straight to its page', async () => {
    const failed = await page('/ops/orders?status=failed');
    expect(failed.text).toContain(ids.failed);
    expect(failed.text).not.toContain(ids.delivered);
    const byEmail = await page(`/ops/orders?q=${encodeURIComponent('ADA.LOVELACE@example.com')}`);
    expect(byEmail.text).toContain(ids.delivered);
    expect(byEmail.text).toContain(ids.reprint);
    const exact = await get(`/ops/orders?q=${ids.stuck}`, { cookie: await signIn() });
    expect(exact.status).toBe(303);
    expect(exact.headers.get('location')).toBe(`/ops/orders/${ids.stuck}`);
    expect((await page('/ops/orders?status=lost')).res.status).toBe(400);
  });

  it("an order's page: timeline, product, shipping, payment, refund, print file, tracking, emails, alerts, actions, reprints, Temporal link", async () => {
    const { res, text } = await page(`/ops/orders/${ids.delivered}`);
    expect(res.status).toBe(200);
    for (const s of ['sent to the printer as sim_8812', 'shipped with Royal Mail', '10 × 3-inch die-cut stickers', '12 St James Sq', 'United Kingdom', 'pi_119abc', 'RM123456789GB', 'Your stickers are ordered', 'Possible duplicate', 'shopper lost it']) {
      expect(text, s).toContain(s);
    }
    expect(text).toContain(`href="http://temporal-ui.test:8233/namespaces/default/workflows/order%3A${ids.delivered}"`);
    const pdf = /href="(http:\/\/shop\.test:3000\/files\/orders\/[^"]+)"/.exec(text)![1]!.replaceAll('&amp;', '&');
    expect(printFileUrls.check(ids.delivered, Object.fromEntries(new URL(pdf).searchParams))).toBeUndefined();
    expect(text).toContain(`href="/ops/emails/${encodeURIComponent(`email:order:${ids.delivered}:confirmation`)}/eml"`);
    expect(text).toContain(`href="/ops/orders/${ids.reprint}"`);
    expect(text).toContain(`href="/ops/orders/${ids.delivered}/confirm/refund"`);
    expect(text).not.toContain(`href="/ops/orders/${ids.delivered}/confirm/cancel"`); // not available: shown with why
    expect(text).toContain('the order has ended');
    expect((await page('/ops/orders/or_0000000000000000000000')).res.status).toBe(404);
  });

  it('confirm → POST → 303 back to the order with the result shown; the same request id is sent as made', async () => {
    const cookie = await signIn();
    const confirm = await page(`/ops/orders/${ids.delivered}/confirm/refund`);
    expect(confirm.text).toContain(`action="/ops/orders/${ids.delivered}/actions/refund"`);
    expect(confirm.text).toContain('$44.99');
    const requestId = /name="requestId" value="([^"]+)"/.exec(confirm.text)![1]!;
    expect(requestId).toMatch(OPS_REQUEST_ID);
    const again = await page(`/ops/orders/${ids.delivered}/confirm/refund`);
    expect(/name="requestId" value="([^"]+)"/.exec(again.text)![1]).not.toBe(requestId);

    const res = await postForm(`/ops/orders/${ids.delivered}/actions/refund`, { requestId, reason: 'torn in the post', actor: 'Sam' }, { cookie, origin: PUBLIC_URL });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/ops/orders/${ids.delivered}`);
    expect(actions.calls).toEqual([{ method: 'refund', request: { orderId: ids.delivered, requestId, actor: 'Sam', reason: 'torn in the post' } }]);

    const after = await get(`/ops/orders/${ids.delivered}`, { cookie: `${cookie}; ${cookieHeader(res)}` });
    const text = await after.text();
    expect(text).toContain(`refund of ${ids.delivered} is under way`);
    // Shown once: the flash cookie is cleared by the page that showed it.
    expect(after.headers.getSetCookie().some((c) => /^sf_ops_flash=;/.test(c))).toBe(true);
    // The name typed is offered again on the next confirmation.
    const next = await get(`/ops/orders/${ids.delivered}/confirm/reprint`, { cookie: `${cookie}; ${cookieHeader(res)}` });
    expect(await next.text()).toContain('name="actor" type="text" maxlength="100" value="Sam"');
  });

  it('resend asks which email; a reprint links its new order; a refusal is shown on the form (409)', async () => {
    const cookie = await signIn();
    const confirm = await page(`/ops/orders/${ids.delivered}/confirm/resend_email`);
    expect(confirm.text).toContain('<option value="order_confirmation"');
    expect(confirm.text).toContain('<option value="order_shipped"');
    expect(confirm.text).not.toContain('<option value="order_refunded"'); // never sent for this order
    const requestId = /name="requestId" value="([^"]+)"/.exec(confirm.text)![1]!;
    const sent = await postForm(`/ops/orders/${ids.delivered}/actions/resend_email`, { requestId, kind: 'order_shipped', reason: '', actor: '' }, { cookie, origin: PUBLIC_URL });
    expect(sent.status).toBe(303);
    expect(actions.calls).toEqual([{ method: 'resendEmail', request: { orderId: ids.delivered, requestId, actor: 'console', reason: undefined, kind: 'order_shipped' } }]);

    const reprinted = await postForm(`/ops/orders/${ids.delivered}/actions/reprint`, { requestId: 'req-reprint-html-1' }, { cookie, origin: PUBLIC_URL });
    const shown = await (await get(`/ops/orders/${ids.delivered}`, { cookie: `${cookie}; ${cookieHeader(reprinted)}` })).text();
    expect(shown).toContain(`new order <a class="mono" href="/ops/orders/${ids.reprint}"`);

    actions.refusal = 'the order has been refunded already';
    const refused = await postForm(`/ops/orders/${ids.delivered}/actions/refund`, { requestId: 'req-refused-html1', reason: 'again' }, { cookie, origin: PUBLIC_URL });
    expect(refused.status).toBe(409);
    const text = await refused.text();
    expect(text).toContain('the order has been refunded already');
    expect(text).toContain('>again</textarea>');

    const badKind = await postForm(`/ops/orders/${ids.delivered}/actions/resend_email`, { requestId: 'req-bad-kind-html', kind: 'nope' }, { cookie, origin: PUBLIC_URL });
    expect(badKind.status).toBe(400);
  });

  it('a form posted from another origin is refused (403) and does nothing, as is one without a session', async () => {
    const cookie = await signIn();
    const form = { requestId: 'req-cross-site-01', reason: 'csrf' };
    const cross = await postForm(`/ops/orders/${ids.delivered}/actions/refund`, form, { cookie, origin: 'http://evil.test' });
    expect(cross.status).toBe(403);
    const sibling = await postForm(`/ops/orders/${ids.delivered}/actions/refund`, form, { cookie, 'sec-fetch-site': 'same-site' });
    expect(sibling.status).toBe(403);
    const anonymous = await postForm(`/ops/orders/${ids.delivered}/actions/refund`, form, { origin: PUBLIC_URL });
    expect(anonymous.status).toBe(401);
    expect(actions.calls).toEqual([]);
    // Without an Origin header (a script with the bearer token): allowed.
    const scripted = await postForm(`/ops/orders/${ids.delivered}/actions/refund`, form, bearer);
    expect(scripted.status).toBe(303);
    expect(actions.calls).toHaveLength(1);
  });

  it('a hostile shipping name is shown as text everywhere', async () => {
    for (const p of [`/ops/orders/${ids.hostile}`, `/ops/orders?q=${otherAnimationId}`, '/ops/orders', `/ops/orders/${ids.hostile}/confirm/reprint`]) {
      const { text } = await page(p);
      expect(text, p).not.toContain('<script>alert');
      expect(text, p).not.toContain('<img src=x');
      expect(text, p).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; Co');
    }
  });

  it('the emails page lists every email with its .eml link when in the outbox', async () => {
    const { text } = await page('/ops/emails');
    expect(text).toContain('Your stickers are on their way');
    expect(text).toContain(`/ops/emails/${encodeURIComponent(`email:order:${ids.delivered}:confirmation`)}/eml`);
    expect(text).toContain('Failed, retrying');
  });
});

describe('the .eml route', () => {
  const eml = (key: string) => `/ops/emails/${encodeURIComponent(key)}/eml`;

  it('shows an outbox message recorded in emails_sent, as text', async () => {
    const res = await get(eml(`email:order:${ids.delivered}:confirmation`), { cookie: await signIn() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toContain('Hello Ada');
    expect((await get(eml(`email:order:${ids.delivered}:confirmation`))).status).toBe(401);
  });

  it('refuses keys that are not outbox files, and never reads outside the outbox', async () => {
    const cookie = await signIn();
    for (const key of [
      `email:order:${ids.delivered}:shipped`, // sent by SMTP: no file
      `email:order:${ids.delivered}:delivered`, // recorded as ../secret.eml
      `email:order:${ids.delivered}:linked`, // a link inside the outbox to the file outside it
      'email:order:nothing:here',
      '../secret.eml',
      '..%2F..%2Fsecret.eml',
    ]) {
      const res = await get(eml(key), { cookie });
      expect(res.status, key).toBe(404);
      expect(await res.text(), key).not.toContain('TOP SECRET');
    }
    const raw = await get('/ops/emails/..%2Fsecret.eml/eml', { cookie });
    expect(raw.status).toBe(404);
    // Without an outbox (SMTP), no file is ever read.
    const s = await listen(routeDeps({ outboxDir: undefined }));
    const at = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    expect((await fetch(`${at}${eml(`email:order:${ids.delivered}:confirmation`)}`, { headers: bearer })).status).toBe(404);
    s.close();
  });
});

it('logs nothing secret over the whole run', () => {
  expect(logLines.join('\n')).not.toContain(OPS_TOKEN);
});
