/**
 * Sticker orders on the real stack: `npm start`'s embedded Temporal dev server, worker, API, the
 * local checkout page and the printer simulator, with the local model back end. A buddy is
 * ordered while it is still being made (the animation's child) and again once finished; paying
 * on the checkout page, the simulator's signed webhooks, its failure switch, cancel and refunds
 * all go over real HTTP.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preflightPrintFile } from '../../src/print-file/index.js';
import { eventually } from '../support/processes.js';
import { launchStack, type Stack } from '../support/stack.js';

const photos = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/photos');
let app: Stack;
let base: string;

beforeAll(async () => {
  app = await launchStack({ PRINTER_SIM_STEP_SECONDS: '1.5' });
  base = app.base;
}, 180_000);
afterAll(async () => {
  await app?.stop();
});

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
  }, 120_000);

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
