/**
 * The product as `npm start` runs it, configured for Stripe (`PAYMENT_PROVIDER=stripe`) with the
 * Stripe API at the real stripe-mock: the composition root picks the Stripe adapter, an order's
 * checkout is a Stripe Checkout Session, the local checkout pages are gone, and a payment
 * delivered as Stripe delivers it (an event signed with the webhook secret) takes the order to
 * the simulated printer and on to shipped. A forged one changes nothing.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkoutCompletedEvent, signPayload } from '../../src/payments/stripe-events.js';
import { eventually, startStripeMock, type Running } from '../support/processes.js';
import { launchStack, type Stack } from '../support/stack.js';

const photos = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/photos');
const WEBHOOK_SECRET = 'whsec_stack_test_0123456789abcdef';
let stripeMock: Running;
let app: Stack;

beforeAll(async () => {
  stripeMock = await startStripeMock(inject('toolCacheDir'), () => undefined);
  app = await launchStack({
    PAYMENT_PROVIDER: 'stripe',
    STRIPE_SECRET_KEY: 'sk_test_stickerflowstacktest',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_URL: stripeMock.url,
    PRINTER_SIM_STEP_SECONDS: '1',
  });
}, 180_000);
afterAll(async () => {
  await app?.stop();
  await stripeMock?.stop();
});

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('npm start with Stripe', () => {
  it('says so, opens Stripe Checkout Sessions, and a Stripe-signed payment ships the order', async () => {
    expect(app.output()).toMatch(/Payments:\s+Stripe Checkout at http:\/\/127\.0\.0\.1:\d+/);

    const form = new FormData();
    form.append('photo', new Blob([new Uint8Array(await readFile(path.join(photos, 'astronaut.png')))], { type: 'image/png' }), 'astronaut.png');
    const uploaded = await fetch(`${app.base}/api/animations`, { method: 'POST', body: form });
    expect(uploaded.status).toBe(202);
    const animationId = ((await uploaded.json()) as { id: string }).id;

    const placed = await fetch(
      `${app.base}/api/orders`,
      json({
        animationId,
        product: { shape: 'die-cut', sizeInches: 3, quantity: 10 },
        shipping: { name: 'Grace Hopper', line1: '1 Navy Way', city: 'Arlington', postalCode: '22202', region: 'VA', country: 'US' },
        email: 'grace@example.com',
      }),
    );
    expect(placed.status).toBe(201);
    const order = (await placed.json()) as { id: string; accessToken: string; checkoutUrl: string; amount: { totalCents: number } };
    // stripe-mock answers with its session fixture: a hosted Stripe page, not ours.
    expect(order.checkoutUrl).toMatch(/^https:\/\/checkout\.stripe\.com\//);
    expect((await fetch(`${app.base}/checkout/cs_local_${'a'.repeat(32)}`)).status).toBe(404);

    const read = async () =>
      (await (await fetch(`${app.base}/api/orders/${order.id}`, { headers: { authorization: `Bearer ${order.accessToken}` } })).json()) as {
        status: string;
        payment?: { paymentIntentId: string };
        tracking?: unknown;
      };
    const now = new Date();
    const event = checkoutCompletedEvent({
      sessionId: 'cs_test_stack',
      orderId: order.id,
      paymentIntentId: 'pi_test_stack',
      eventId: 'evt_test_stack',
      amountCents: order.amount.totalCents,
      currency: 'usd',
      email: 'grace@example.com',
      successUrl: `${app.base}/orders/${order.id}/paid?session_id={CHECKOUT_SESSION_ID}`,
      cancelUrl: `${app.base}/animations/${animationId}`,
      createdAt: now,
      expiresAt: new Date(now.getTime() + 86_400_000),
      completedAt: now,
    });
    const payload = JSON.stringify(event);
    const deliver = (signature: string) =>
      fetch(`${app.base}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });

    const forged = await deliver(signPayload(payload, 'whsec_not_ours'));
    expect(forged.status).toBe(400);
    expect((await read()).status).toBe('awaiting_payment');

    expect((await deliver(signPayload(payload, WEBHOOK_SECRET))).status).toBe(200);
    expect(await eventually(async () => ['shipped', 'delivered'].includes((await read()).status), 150_000)).toBe(true);
    const shipped = await read();
    expect(shipped.payment?.paymentIntentId).toBe('pi_test_stack');
    expect(shipped.tracking).toBeDefined();
  }, 240_000);
});
