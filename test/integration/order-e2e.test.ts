/**
 * Sticker orders on the real stack: `npm start`'s embedded Temporal dev server, worker, API, the
 * local checkout page and the printer simulator, with the local model back end. A buddy is
 * ordered while it is still being made (the animation's child) and again once finished; paying
 * on the checkout page, the simulator's signed webhooks, its failure switch, cancel and refunds
 * all go over real HTTP. The shopper's emails go by SMTP to a real SMTP server started here
 * (smtp-server); the operator console is reached with the token `npm start` prints.
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preflightPrintFile } from '../../src/print-file/index.js';
import { eventually } from '../support/processes.js';
import { launchStack, type Stack } from '../support/stack.js';

const photos = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/photos');
let app: Stack;
let base: string;
let opsToken: string;
/** Every message the SMTP server took, parsed. */
const mailbox: ParsedMail[] = [];
let smtp: SMTPServer;

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => (mailbox.push(mail), callback()), callback);
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  app = await launchStack({ PRINTER_SIM_STEP_SECONDS: '1.5', SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, EMAIL_FROM: 'stickerflow <orders@shop.test>' });
  base = app.base;
  opsToken = /token (\S+) \(kept in /.exec(app.output())![1]!;
}, 180_000);
afterAll(async () => {
  await app?.stop();
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
});

/** The messages about one order, by their idempotency key's last part (confirmation, shipped, …). */
const mailsOf = (orderId: string) =>
  mailbox
    .filter((m) => String(m.headers.get('x-stickerflow-idempotency-key') ?? '').startsWith(`email:order:${orderId}:`))
    .map((m) => ({ what: String(m.headers.get('x-stickerflow-idempotency-key')).slice(`email:order:${orderId}:`.length), mail: m }));

interface OrderBody {
  id: string;
  status: string;
  timeline: { at: string; status: string; note?: string }[];
  printFileUrl?: string;
  tracking?: { carrier: string; number: string };
  refund?: { status: string; amountCents?: number };
  error?: string;
}

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const orderRequest = (animationId: string, extra: Record<string, unknown> = {}) => ({
  animationId,
  product: { shape: 'die-cut', sizeInches: 3, quantity: 10 },
  shipping: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'gb' },
  email: 'ada@example.com',
  ...extra,
});

async function upload(): Promise<string> {
  const form = new FormData();
  form.append('photo', new Blob([new Uint8Array(await readFile(path.join(photos, 'astronaut.png')))], { type: 'image/png' }), 'astronaut.png');
  const res = await fetch(`${base}/api/animations`, { method: 'POST', body: form });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

async function placeOrder(animationId: string) {
  const res = await fetch(`${base}/api/orders`, json(orderRequest(animationId)));
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; status: string; accessToken: string; checkoutUrl: string; amount: { totalCents: number } };
}

/** Pays on the local checkout page as a browser would: load the form, submit it. */
async function pay(checkoutUrl: string) {
  const page = await fetch(checkoutUrl);
  expect(page.status).toBe(200);
  const token = /name="token" value="([^"]+)"/.exec(await page.text())?.[1];
  expect(token).toBeDefined();
  const res = await fetch(checkoutUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: token! }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  // The customer lands on the order's page (through the success redirect, which confirms the
  // payment with the provider too); its HTML holds nothing of the order without the token.
  const landing = await fetch(res.headers.get('location')!);
  expect(landing.status).toBe(200);
  expect(new URL(landing.url).pathname).toMatch(/^\/orders\/or_[A-Za-z0-9_-]+$/);
  const html = await landing.text();
  expect(html).toMatch(/^<!doctype html>/i);
  expect(html).not.toContain('ada@example.com');
}

const getOrder = async (id: string, token: string) => {
  const res = await fetch(`${base}/api/orders/${id}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as OrderBody;
};

/** Waits for one of the `wanted` statuses; for failed and cancelled, also for the refund's outcome (recorded after the status). */
async function waitForStatus(id: string, token: string, wanted: string[], ms = 150_000): Promise<OrderBody> {
  let last: OrderBody | undefined;
  const ok = await eventually(async () => {
    last = await getOrder(id, token);
    const ended = last.status === 'failed' || last.status === 'cancelled';
    return wanted.includes(last.status) && (!ended || (last.refund !== undefined && last.refund.status !== 'pending'));
  }, ms);
  if (!ok) throw new Error(`order ${id} stayed ${last?.status}: ${JSON.stringify(last?.timeline)}`);
  return last!;
}

describe('sticker orders, end to end', () => {
  let animationId: string;

  it('orders stickers of a buddy still being made, pays, and follows the printer to delivery', async () => {
    animationId = await upload();
    const order = await placeOrder(animationId); // the animation is running: the order is its child
    expect(order).toMatchObject({ status: 'awaiting_payment' });
    expect(order.accessToken).toMatch(/^ot_[A-Za-z0-9_-]{32}$/);
    expect(order.checkoutUrl).toMatch(new RegExp(`^${base}/checkout/cs_local_`));
    await pay(order.checkoutUrl);

    const done = await waitForStatus(order.id, order.accessToken, ['delivered', 'failed', 'cancelled'], 240_000);
    expect(done.status).toBe('delivered');
    expect(done.timeline.map((t) => t.status)).toEqual([
      'awaiting_payment', 'paid', 'rendering', 'submitted', 'submitted', 'in_production', 'shipped', 'delivered',
    ]);
    expect(done.tracking).toMatchObject({ carrier: expect.any(String), number: expect.any(String) });
    expect(done.refund).toBeUndefined();

    // The print file the printer downloaded (by its signed link, or the order could not have been
    // accepted): a real PDF that passes our own preflight. The status's link is signed too; the
    // order id alone opens nothing.
    const link = new URL(done.printFileUrl!);
    expect(link.searchParams.get('sig')).toBeTruthy();
    expect((await fetch(`${link.origin}${link.pathname}`)).status).toBe(403);
    const pdf = Buffer.from(await (await fetch(done.printFileUrl!)).arrayBuffer());
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const animation = (await (await fetch(`${base}/api/animations/${animationId}`)).json()) as { viewerUrl: string };
    await expect(preflightPrintFile(pdf, { shape: 'die-cut', sizeInches: 3, viewerUrl: animation.viewerUrl })).resolves.toBeDefined();

    // The shopper was emailed at each step, once each, through the SMTP server, each message with
    // the private link that opens the order (and "buddy ready" if the art came after the payment).
    expect(await eventually(async () => mailsOf(order.id).some((m) => m.what === 'delivered'), 30_000)).toBe(true);
    const mails = mailsOf(order.id);
    const kinds = mails.map((m) => m.what);
    expect(kinds.filter((k) => k !== 'buddy-ready')).toEqual(['confirmation', 'shipped', 'delivered']);
    expect(new Set(kinds).size).toBe(kinds.length);
    for (const { mail } of mails as ReturnType<typeof mailsOf>) {
      expect(mail.to).toMatchObject({ text: 'ada@example.com' });
      expect(mail.text).toContain(`${base}/orders/${order.id}#token=${order.accessToken}`);
      expect(mail.html).toContain(`${base}/orders/${order.id}#token=${order.accessToken}`);
    }
    const shipped = mails.find((m) => m.what === 'shipped')!.mail;
    expect(shipped.text).toContain(done.tracking!.number);
    const delivered = mails.find((m) => m.what === 'delivered')!.mail;
    expect(delivered.text).toContain(animation.viewerUrl);
  }, 300_000);

  it('refunds an order the printer fails to print', async () => {
    const order = await placeOrder(animationId); // finished buddy: the order starts on its own
    await pay(order.checkoutUrl);
    await waitForStatus(order.id, order.accessToken, ['submitted']);
    const failed = await fetch(`${base}/printer-sim/orders/${order.id}/fail`, json({ reason: 'the cutter broke' }));
    expect(failed.status).toBe(202);
    const done = await waitForStatus(order.id, order.accessToken, ['failed']);
    expect(done.error).toContain('the cutter broke');
    expect(done.refund).toMatchObject({ status: 'refunded', amountCents: order.amount.totalCents });
    expect(await eventually(async () => mailsOf(order.id).some((m) => m.what === 'refunded'), 30_000)).toBe(true);
    expect(mailsOf(order.id).find((m) => m.what === 'refunded')!.mail.text).toContain('the cutter broke');
  }, 120_000);

  it("the operator console: 401 without its token; a delivered order's page; a reprint makes exactly one new printer order, for no payment", async () => {
    const ops = (p: string, init: RequestInit = {}) =>
      fetch(`${base}/ops/api${p}`, { ...init, headers: { authorization: `Bearer ${opsToken}`, 'content-type': 'application/json', ...init.headers } });
    expect((await fetch(`${base}/ops/api/summary`)).status).toBe(401);
    expect((await fetch(`${base}/ops`)).status).toBe(401);
    expect((await fetch(`${base}/ops/api/summary`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);

    const found = (await (await ops(`/orders?q=${encodeURIComponent('ADA@example.com')}`)).json()) as { orders: { id: string; status: string }[] };
    const deliveredId = found.orders.find((o) => o.status === 'delivered')!.id;
    const detail = (await (await ops(`/orders/${deliveredId}`)).json()) as { emails: { kind: string }[]; actions: { action: string; available: boolean }[] };
    expect(detail.emails.map((e) => e.kind)).toEqual(expect.arrayContaining(['order_confirmation', 'order_shipped', 'order_delivered']));
    expect(detail.actions.find((a) => a.action === 'reprint')).toMatchObject({ available: true });

    const body = JSON.stringify({ requestId: 'e2e-reprint-0001', reason: 'arrived creased', actor: 'e2e' });
    const first = await ops(`/orders/${deliveredId}/actions/reprint`, { method: 'POST', body });
    expect(first.status).toBe(200);
    const { newOrderId } = (await first.json()) as { newOrderId: string };
    const again = (await (await ops(`/orders/${deliveredId}/actions/reprint`, { method: 'POST', body })).json()) as { newOrderId: string; repeated: boolean };
    expect(again).toMatchObject({ newOrderId, repeated: true });

    type Reprint = { order: { view?: { status: string; payment?: unknown; vendorOrderId?: string }; amountCents: number; reprintOf: string } };
    const reprintOf = async () => ((await (await ops(`/orders/${newOrderId}`)).json()) as Reprint).order;
    expect(await eventually(async () => (await reprintOf()).view?.status === 'delivered', 120_000)).toBe(true);
    const reprint = await reprintOf();
    expect(reprint).toMatchObject({ amountCents: 0, reprintOf: deliveredId });
    expect(reprint.view!.payment).toBeUndefined();
    expect(reprint.view!.vendorOrderId).toBeTruthy();
    const reprints = (await (await ops(`/orders/${deliveredId}`)).json()) as { reprints: { id: string }[] };
    expect(reprints.reprints.map((r) => r.id)).toEqual([newOrderId]);
    // No new checkout or confirmation for it; the shopper hears when it ships and arrives.
    expect(await eventually(async () => mailsOf(newOrderId).some((m) => m.what === 'delivered'), 30_000)).toBe(true);
    expect(mailsOf(newOrderId).map((m) => m.what)).toEqual(['shipped', 'delivered']);
  }, 180_000);

  it('cancels before payment, then refuses a second cancel with 409', async () => {
    const order = await placeOrder(animationId);
    const cancel = () => fetch(`${base}/api/orders/${order.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${order.accessToken}` } });
    const first = await cancel();
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ status: 'cancelled', refund: { status: 'not_needed' } });
    expect((await cancel()).status).toBe(409);
    // Its checkout can no longer be paid.
    expect((await fetch(order.checkoutUrl)).status).toBe(410);
  }, 60_000);

  it('answers 404 without the right access token, and 400 for bad orders', async () => {
    const order = await placeOrder(animationId);
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer ot_wrong' }, { authorization: `Bearer ${order.accessToken}x` }];
    for (const headers of attempts) {
      expect((await fetch(`${base}/api/orders/${order.id}`, { headers })).status).toBe(404);
    }
    const bad = await fetch(`${base}/api/orders`, json(orderRequest(animationId, { product: { shape: 'star', sizeInches: 5, quantity: 0 } })));
    expect(bad.status).toBe(400);
    const message = ((await bad.json()) as { error: { message: string } }).error.message;
    expect(message).toContain('product.shape');
    expect(message).toContain('product.sizeInches');
    expect(message).toContain('product.quantity');
    const unknown = await fetch(`${base}/api/orders`, json(orderRequest('an_AAAAAAAAAAAAAAAAAAAAAA')));
    expect(unknown.status).toBe(404);
  }, 60_000);
});
