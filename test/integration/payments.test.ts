/**
 * The local payment provider's guarantees on embedded PGlite and on a real PostgreSQL server (one
 * session per order, paid or expired once, refunded once), and Stripe's webhook signatures made
 * and checked with the real `stripe` package.
 */
import { createHmac, randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { LocalPayments } from '../../src/payments/local.js';
import { PaymentRejected, WebhookRejected, type CheckoutRequest } from '../../src/payments/port.js';
import { checkoutCompletedEvent, paymentReceivedFrom, signPayload, verifyEvent, type PaidSession } from '../../src/payments/stripe-events.js';
import { databaseEngines } from '../support/ledger.js';

const SECRET = 'whsec_test_0123456789abcdef';

const request = (over: Partial<CheckoutRequest> = {}): CheckoutRequest => ({
  orderId: `or_${randomUUID()}`,
  amountCents: 2199,
  currency: 'usd',
  description: '10 × 3-inch die-cut stickers',
  email: 'buyer@example.com',
  successUrl: 'http://shop.test/orders/x?session={CHECKOUT_SESSION_ID}',
  cancelUrl: 'http://shop.test/orders/x',
  ...over,
});

const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe.each(databaseEngines)('LocalPayments on %s', (_name, open) => {
  let db: Database;
  let payments: LocalPayments;
  let clock = new Date();
  beforeAll(async () => {
    db = await open();
    await migrate(db);
    payments = new LocalPayments(db, { publicUrl: 'http://app.test', webhookSecret: SECRET, sessionMinutes: 30, now: () => clock });
  });
  afterAll(() => db?.close());

  /** A session paid through the checkout page, and its payment intent. */
  const paid = async (over: Partial<CheckoutRequest> = {}) => {
    const { sessionId } = await payments.createCheckout(request(over));
    const done = await payments.completeCheckout(sessionId);
    if (done?.status !== 'complete') throw new Error('not paid');
    return { sessionId, paymentIntentId: done.event.data.object.payment_intent, event: done.event };
  };
  const refundRows = (paymentIntentId: string) =>
    db.query('SELECT * FROM local_payment_refunds WHERE payment_intent_id = $1', [paymentIntentId]);

  it('opens one checkout session per order, with an unguessable id and its own page', async () => {
    const req = request();
    const first = await payments.createCheckout(req);
    expect(first.sessionId).toMatch(/^cs_local_[A-Za-z0-9_-]{32}$/);
    expect(first.url).toBe(`http://app.test/checkout/${first.sessionId}`);
    expect(new Date(first.expiresAt).getTime()).toBe(clock.getTime() + 30 * 60_000);
    expect(await payments.createCheckout(req)).toEqual(first);
    const concurrent = await Promise.all([1, 2, 3].map(() => payments.createCheckout({ ...req, orderId: `${req.orderId}-b` })));
    expect(new Set(concurrent.map((s) => s.sessionId)).size).toBe(1);
    expect(concurrent[0]!.sessionId).not.toBe(first.sessionId);

    const session = await payments.getCheckout(first.sessionId);
    expect(session).toMatchObject({
      orderId: req.orderId,
      amountCents: 2199,
      currency: 'usd',
      description: req.description,
      email: req.email,
      status: 'open',
      paymentIntentId: null,
      successUrl: `http://shop.test/orders/x?session=${first.sessionId}`,
    });
    expect(await payments.getCheckout('cs_local_nope')).toBeUndefined();
    expect(await payments.getCheckout(`cs_local_${'A'.repeat(32)}`)).toBeUndefined();
  });

  it('refuses a second session of an order for another amount', async () => {
    const req = request();
    await payments.createCheckout(req);
    expect(await rejection(payments.createCheckout({ ...req, amountCents: 100 }))).toBeInstanceOf(PaymentRejected);
    expect(await rejection(payments.createCheckout(request({ amountCents: 0 })))).toBeInstanceOf(PaymentRejected);
  });

  it('completes a session once: paying again returns the same event', async () => {
    const { sessionId } = await payments.createCheckout(request({ currency: 'USD' }));
    const first = await payments.completeCheckout(sessionId);
    expect(first?.status).toBe('complete');
    if (first?.status !== 'complete') return;
    expect(first.event).toMatchObject({
      object: 'event',
      type: 'checkout.session.completed',
      api_version: Stripe.API_VERSION,
      data: { object: { id: sessionId, object: 'checkout.session', amount_total: 2199, currency: 'usd', payment_status: 'paid', status: 'complete' } },
    });
    expect(first.event.id).toMatch(/^evt_local_[A-Za-z0-9_-]{24}$/);
    expect(first.event.data.object.payment_intent).toMatch(/^pi_local_[A-Za-z0-9_-]{24}$/);
    expect(first.session.status).toBe('complete');
    expect(await payments.completeCheckout(sessionId)).toEqual(first);
    expect(await payments.completeCheckout('cs_local_unknown')).toBeUndefined();

    const other = await payments.createCheckout(request());
    const racing = await Promise.all([1, 2, 3, 4].map(() => payments.completeCheckout(other.sessionId)));
    const ids = new Set(racing.map((r) => (r?.status === 'complete' ? r.event.id : 'not paid')));
    expect([...ids]).toHaveLength(1);
    expect([...ids][0]).toMatch(/^evt_local_/);
  });

  it('expires an open session, and then it cannot be paid', async () => {
    const { sessionId } = await payments.createCheckout(request());
    expect(await payments.expireCheckout(sessionId)).toBe('expired');
    expect(await payments.expireCheckout(sessionId)).toBe('expired');
    expect(await payments.completeCheckout(sessionId)).toMatchObject({ status: 'expired' });
    expect((await payments.getCheckout(sessionId))?.status).toBe('expired');
  });

  it("says 'already_paid' when the customer paid first", async () => {
    const { sessionId } = await paid();
    expect(await payments.expireCheckout(sessionId)).toBe('already_paid');
    expect((await payments.getCheckout(sessionId))?.status).toBe('complete');
  });

  it('settles an expiry racing a payment one way or the other, never both', async () => {
    for (let i = 0; i < 8; i++) {
      const { sessionId } = await payments.createCheckout(request());
      const [completion, expiry] = await Promise.all([payments.completeCheckout(sessionId), payments.expireCheckout(sessionId)]);
      const final = (await payments.getCheckout(sessionId))!.status;
      if (completion?.status === 'complete') {
        expect(expiry).toBe('already_paid');
        expect(final).toBe('complete');
      } else {
        expect(expiry).toBe('expired');
        expect(final).toBe('expired');
      }
    }
  });

  it('cannot be paid past its expiry time, even before anyone expires it', async () => {
    const { sessionId } = await payments.createCheckout(request());
    const saved = clock;
    clock = new Date(saved.getTime() + 31 * 60_000);
    try {
      expect((await payments.getCheckout(sessionId))?.status).toBe('expired');
      expect(await payments.completeCheckout(sessionId)).toMatchObject({ status: 'expired' });
      expect(await payments.expireCheckout(sessionId)).toBe('expired');
    } finally {
      clock = saved;
    }
  });

  it('unknown session: expiring it is refused', async () => {
    expect(await rejection(payments.expireCheckout('cs_local_missing'))).toBeInstanceOf(PaymentRejected);
  });

  it('refunds a payment once per key', async () => {
    const { paymentIntentId } = await paid();
    const req = { paymentIntentId, amountCents: 2199, idempotencyKey: `refund:${randomUUID()}`, reason: 'test' };
    const first = await payments.refund(req);
    expect(first).toMatchObject({ status: 'succeeded', amountCents: 2199 });
    expect(first.refundId).toMatch(/^re_local_/);
    expect(await payments.refund(req)).toEqual(first);
    expect(await refundRows(paymentIntentId)).toHaveLength(1);
  });

  it('refunds a payment once, whatever key each refund carries', async () => {
    const { paymentIntentId } = await paid();
    const first = await payments.refund({ paymentIntentId, amountCents: 2199, idempotencyKey: `a:${randomUUID()}`, reason: 'first' });
    const second = await payments.refund({ paymentIntentId, amountCents: 2199, idempotencyKey: `b:${randomUUID()}`, reason: 'days later' });
    expect(second).toEqual(first);
    expect(await refundRows(paymentIntentId)).toHaveLength(1);
  });

  it('concurrent refunds of one payment refund it once', async () => {
    const { paymentIntentId } = await paid();
    const results = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) => payments.refund({ paymentIntentId, amountCents: 2199, idempotencyKey: i % 2 ? 'shared-' + paymentIntentId : randomUUID(), reason: 'race' })),
    );
    expect(new Set(results.map((r) => r.refundId)).size).toBe(1);
    expect(await refundRows(paymentIntentId)).toHaveLength(1);
  });

  it('refuses to refund an unknown or unpaid payment, a partial amount, or a key used for another payment', async () => {
    const refund = (paymentIntentId: string, over: object = {}) =>
      rejection(payments.refund({ paymentIntentId, amountCents: 2199, idempotencyKey: randomUUID(), reason: 'test', ...over }));
    expect(await refund('pi_local_unknown')).toBeInstanceOf(PaymentRejected);
    await payments.createCheckout(request()); // open, never paid: it has no payment intent
    const { paymentIntentId } = await paid();
    expect(await refund(paymentIntentId, { amountCents: 1000 })).toBeInstanceOf(PaymentRejected);
    expect(await refundRows(paymentIntentId)).toHaveLength(0);

    const key = randomUUID();
    await payments.refund({ paymentIntentId, amountCents: 2199, idempotencyKey: key, reason: 'first' });
    const other = await paid();
    const reused = await refund(other.paymentIntentId, { idempotencyKey: key });
    expect(reused).toBeInstanceOf(PaymentRejected);
    expect(await refundRows(other.paymentIntentId)).toHaveLength(0);
  });
});

describe('Stripe webhook signatures', () => {
  const now = Date.now();
  const nowSeconds = Math.floor(now / 1000);
  const session: PaidSession = {
    sessionId: 'cs_local_x',
    orderId: 'or_0123456789012345678901',
    paymentIntentId: 'pi_local_y',
    eventId: 'evt_local_z',
    amountCents: 2199,
    currency: 'usd',
    email: 'buyer@example.com',
    successUrl: 'http://shop.test/ok',
    cancelUrl: 'http://shop.test/cancel',
    createdAt: new Date(now - 60_000),
    expiresAt: new Date(now + 60_000),
    completedAt: new Date(nowSeconds * 1000),
  };
  const payload = JSON.stringify(checkoutCompletedEvent(session));
  const reason = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(WebhookRejected);
      expect((err as Error).message).not.toContain(SECRET);
      return (err as Error).message;
    }
    throw new Error('accepted');
  };

  it('signs as Stripe does: HMAC-SHA256 of "<t>.<body>" under the whole secret, which Stripe verifies', () => {
    const header = signPayload(payload, SECRET, nowSeconds);
    const v1 = createHmac('sha256', SECRET).update(`${nowSeconds}.${payload}`).digest('hex');
    expect(header).toBe(`t=${nowSeconds},v1=${v1}`);
    expect(Stripe.webhooks.constructEvent(payload, header, SECRET).id).toBe('evt_local_z');
  });

  it('verifies a signed event and reads the payment from it', () => {
    const event = verifyEvent(Buffer.from(payload), signPayload(payload, SECRET), SECRET);
    expect(paymentReceivedFrom(event)).toEqual({
      eventId: 'evt_local_z',
      orderId: session.orderId,
      sessionId: 'cs_local_x',
      paymentIntentId: 'pi_local_y',
      amountCents: 2199,
      currency: 'usd',
      paidAt: new Date(nowSeconds * 1000).toISOString(),
    });
  });

  it('rejects a tampered body, a wrong secret, a missing or garbled header', () => {
    const header = signPayload(payload, SECRET);
    expect(reason(() => verifyEvent(payload.replace('2199', '1'), header, SECRET))).toMatch(/No signatures found/);
    expect(reason(() => verifyEvent(JSON.stringify(JSON.parse(payload), null, 2), header, SECRET))).toMatch(/Stripe-Signature/);
    expect(reason(() => verifyEvent(payload, header, 'whsec_other'))).toMatch(/No signatures found/);
    expect(reason(() => verifyEvent(payload, undefined, SECRET))).toMatch(/missing/);
    expect(reason(() => verifyEvent(payload, 'garbage', SECRET))).toMatch(/Stripe-Signature/);
  });

  it('accepts signatures up to 300 s old or ahead, and refuses older and future ones', () => {
    const at = (offset: number) => signPayload(payload, SECRET, nowSeconds + offset);
    expect(verifyEvent(payload, at(-299), SECRET, now).id).toBe('evt_local_z');
    expect(verifyEvent(payload, at(299), SECRET, now).id).toBe('evt_local_z');
    expect(reason(() => verifyEvent(payload, at(-301), SECRET, now))).toMatch(/tolerance/);
    expect(reason(() => verifyEvent(payload, at(301), SECRET, now))).toMatch(/future/);
    expect(reason(() => verifyEvent(payload, at(3600), SECRET, now))).toMatch(/future/);
  });

  it('rejects a signed body that is not an event', () => {
    const notJson = 'hello';
    expect(reason(() => verifyEvent(notJson, signPayload(notJson, SECRET), SECRET))).toMatch(/not a JSON event/);
    const noType = '{"id":"evt_1","object":"event"}';
    expect(reason(() => verifyEvent(noType, signPayload(noType, SECRET), SECRET))).toMatch(/not a Stripe event/);
  });

  it('ignores other events, unpaid sessions and sessions that are not our orders', () => {
    const signed = (event: object) => {
      const body = JSON.stringify(event);
      return verifyEvent(body, signPayload(body, SECRET), SECRET);
    };
    const base = checkoutCompletedEvent(session);
    expect(paymentReceivedFrom(signed({ ...base, type: 'payment_intent.succeeded' }))).toBeUndefined();
    expect(paymentReceivedFrom(signed({ ...base, type: 'checkout.session.expired' }))).toBeUndefined();
    const withSession = (over: object) => ({ ...base, data: { object: { ...base.data.object, ...over } } });
    expect(paymentReceivedFrom(signed(withSession({ payment_status: 'unpaid' })))).toBeUndefined();
    expect(paymentReceivedFrom(signed(withSession({ client_reference_id: null, metadata: {} })))).toBeUndefined();
    // Stripe's real sessions may carry the order id in metadata only, and an expanded payment intent.
    expect(paymentReceivedFrom(signed(withSession({ client_reference_id: null, payment_intent: { id: 'pi_x' } })))).toMatchObject({
      orderId: session.orderId,
      paymentIntentId: 'pi_x',
    });
    expect(() => paymentReceivedFrom(signed(withSession({ metadata: { orderId: 'or_other' } })))).toThrow(WebhookRejected);
    expect(() => paymentReceivedFrom(signed(withSession({ amount_total: null })))).toThrow(WebhookRejected);
  });
});
