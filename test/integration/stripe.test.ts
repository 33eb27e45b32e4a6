/**
 * The Stripe adapter against the real stripe-mock (Stripe's own API mock, built from the Go module
 * proxy into the tool cache), through a recording proxy so each test can assert the exact requests
 * the `stripe` package sends: paths, form parameters, the Idempotency-Key header.
 *
 * stripe-mock is stateless and answers every call with a fixture (sessions are `open` and
 * `unpaid`, payment intents `requires_payment_method`, refund lists hold one unrelated refund).
 * Where a test needs Stripe in another state, the proxy substitutes that one answer, in Stripe's
 * wire format; each test names the answers it substitutes ("substituted: …"). Everything else is
 * stripe-mock's own answer.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { PaymentRejected, type CheckoutRequest } from '../../src/payments/port.js';
import { StripePayments, StripeUnavailable, stripeClientTarget } from '../../src/payments/stripe.js';
import { freePort, startStripeMock, type Running } from '../support/processes.js';
import { stripeError, stripeProxy, type StripeProxy, type StripeRequest } from '../support/stripe-proxy.js';

const KEY = 'sk_test_51StickerflowTestKey0123456789abcdef';
let mock: Running;
let proxy: StripeProxy;
let stripe: StripePayments;
/** Fixtures as stripe-mock returns them, to substitute variations of. */
let sessionFixture: Record<string, unknown>;
let intentFixture: Record<string, unknown>;
let refundFixture: Record<string, unknown>;

beforeAll(async () => {
  mock = await startStripeMock(inject('toolCacheDir'), (l) => process.stdout.write(`[stripe-mock] ${l}\n`));
  proxy = await stripeProxy(mock.url);
  stripe = new StripePayments({ secretKey: KEY, apiUrl: proxy.url, maxNetworkRetries: 0 });
  const get = async (path: string) => (await fetch(`${mock.url}${path}`, { headers: { authorization: `Bearer ${KEY}` } })).json() as Promise<Record<string, unknown>>;
  [sessionFixture, intentFixture, refundFixture] = await Promise.all([
    get('/v1/checkout/sessions/cs_fixture'),
    get('/v1/payment_intents/pi_fixture'),
    get('/v1/refunds/re_fixture'),
  ]);
});
afterAll(async () => {
  await proxy?.close();
  await mock?.stop();
});
afterEach(() => {
  // A substitute a test queued but the adapter never asked for is a test that did not test.
  expect(proxy.reset()).toBe(0);
});

const request = (over: Partial<CheckoutRequest> = {}): CheckoutRequest => ({
  orderId: `or_${Math.random().toString(36).slice(2, 14)}`,
  amountCents: 2199,
  currency: 'USD',
  description: '10 × 3-inch die-cut stickers',
  email: 'buyer@example.com',
  successUrl: 'https://shop.example/orders/or_x/paid?session_id={CHECKOUT_SESSION_ID}',
  cancelUrl: 'https://shop.example/animations/an_x',
  ...over,
});

/** What the adapter sent, one line per request. */
const calls = () => proxy.requests.map((r) => `${r.method} ${r.path}${r.query.size ? `?${r.query}` : ''}`);
const only = (method: string, path: string): StripeRequest => {
  const found = proxy.requests.filter((r) => r.method === method && r.path === path);
  expect(found).toHaveLength(1);
  return found[0]!;
};

/** The error a call failed with; it never carries the secret key. */
async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!err) throw new Error('expected the call to fail');
  expect(`${err.message}\n${err.stack}`).not.toContain(KEY);
  expect(`${err.message}`).not.toMatch(/sk_test_\w{6}/);
  return err;
}

const session = (over: Record<string, unknown>) => ({ status: 200, body: { ...sessionFixture, ...over } });
const intent = (over: Record<string, unknown>) => ({ status: 200, body: { ...intentFixture, ...over } });
const refund = (over: Record<string, unknown>) => ({ ...refundFixture, ...over });
const refundList = (data: unknown[]) => ({ status: 200, body: { object: 'list', data, has_more: false, url: '/v1/refunds' } });
const missing = (what: string, id: string, param: string) =>
  stripeError(404, { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such ${what}: '${id}'` });

describe('createCheckout', () => {
  it('opens a payment session carrying the order id three ways, one line item, and the idempotency key checkout:<orderId>', async () => {
    const req = request();
    const created = await stripe.createCheckout(req);

    const sent = only('POST', '/v1/checkout/sessions');
    expect(sent.headers['idempotency-key']).toBe(`checkout:${req.orderId}`);
    expect(sent.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(Object.fromEntries(sent.params)).toEqual({
      mode: 'payment',
      client_reference_id: req.orderId,
      'metadata[orderId]': req.orderId,
      'payment_intent_data[metadata][orderId]': req.orderId,
      customer_email: 'buyer@example.com',
      'line_items[0][price_data][currency]': 'usd',
      'line_items[0][price_data][unit_amount]': '2199',
      'line_items[0][price_data][product_data][name]': '10 × 3-inch die-cut stickers',
      'line_items[0][quantity]': '1',
      success_url: req.successUrl,
      cancel_url: req.cancelUrl,
    });
    // stripe-mock's answer: its fixture session.
    expect(created.sessionId).toMatch(/^cs_test_/);
    expect(created.url).toMatch(/^https:\/\/checkout\.stripe\.com\//);
    expect(created.expiresAt).toBe(new Date((sessionFixture.expires_at as number) * 1000).toISOString());
  });

  it('sends expires_at when asked, and a retry sends the very same request under the same key (so Stripe replays its answer)', async () => {
    // (stripe-mock keeps no state: it does not replay, so the assertion is on what was sent.)
    const req = request({ expiresAt: '2026-12-01T10:30:00.000Z' });
    expect((await stripe.createCheckout(req)).expiresAt).toBe('2026-12-01T10:30:00.000Z'); // stripe-mock echoes expires_at
    await stripe.createCheckout(req);
    const [a, b] = proxy.requests;
    expect(a!.params.get('expires_at')).toBe(String(Date.UTC(2026, 11, 1, 10, 30) / 1000));
    expect(b!.headers['idempotency-key']).toBe(a!.headers['idempotency-key']);
    expect(b!.params.toString()).toBe(a!.params.toString());
  });

  it("the same order asked for again with another amount is Stripe's idempotency error: PaymentRejected", async () => {
    // substituted: POST /v1/checkout/sessions → 400 idempotency_error, as Stripe answers a key reused with other parameters.
    const req = request();
    proxy.substitute(
      'POST /v1/checkout/sessions',
      stripeError(400, {
        type: 'idempotency_error',
        message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'checkout:${req.orderId}' if you meant to execute a different request.`,
      }),
    );
    const err = await failure(stripe.createCheckout(req));
    expect(err).toBeInstanceOf(PaymentRejected);
    expect(err.message).toContain('idempotency key was used before with other parameters');
  });

  it('refuses a bad amount or currency without calling Stripe', async () => {
    expect(await failure(stripe.createCheckout(request({ amountCents: 0 })))).toBeInstanceOf(PaymentRejected);
    expect(await failure(stripe.createCheckout(request({ amountCents: 12.5 })))).toBeInstanceOf(PaymentRejected);
    expect(await failure(stripe.createCheckout(request({ currency: 'dollars' })))).toBeInstanceOf(PaymentRejected);
    expect(proxy.requests).toHaveLength(0);
  });

  it('any other refusal (an invalid parameter) is PaymentRejected with its message', async () => {
    // substituted: POST /v1/checkout/sessions → 400 invalid_request_error on the currency, as Stripe answers an unknown currency.
    proxy.substitute(
      'POST /v1/checkout/sessions',
      stripeError(400, {
        type: 'invalid_request_error',
        code: 'parameter_invalid_string',
        param: 'line_items[0][price_data][currency]',
        message: 'Invalid currency: zzz. Stripe currently supports these currencies: usd, aed, afn, …',
      }),
    );
    const err = await failure(stripe.createCheckout(request({ currency: 'zzz' })));
    expect(err).toBeInstanceOf(PaymentRejected);
    expect(err.message).toContain('Invalid currency: zzz');
    expect(err.message).toContain('HTTP 400, parameter_invalid_string');
  });
});

describe('expireCheckout', () => {
  it('expires an open session: retrieve, then expire', async () => {
    // stripe-mock's own answers: the session is open.
    expect(await stripe.expireCheckout('cs_test_open')).toBe('expired');
    expect(calls()).toEqual(['GET /v1/checkout/sessions/cs_test_open', 'POST /v1/checkout/sessions/cs_test_open/expire']);
  });

  it("a session completed and paid is 'already_paid', and is not expired", async () => {
    // substituted: GET session → status complete, payment_status paid.
    proxy.substitute('GET /v1/checkout/sessions/cs_test_paid', session({ id: 'cs_test_paid', status: 'complete', payment_status: 'paid' }));
    expect(await stripe.expireCheckout('cs_test_paid')).toBe('already_paid');
    expect(calls()).toEqual(['GET /v1/checkout/sessions/cs_test_paid']);
  });

  it("a session already expired, or complete but unpaid (its delayed payment failed), is 'expired' without another call", async () => {
    // substituted: GET session → status expired; then GET session → status complete, payment_status unpaid.
    proxy.substitute('GET /v1/checkout/sessions/cs_test_gone', session({ id: 'cs_test_gone', status: 'expired', payment_status: 'unpaid' }));
    proxy.substitute('GET /v1/checkout/sessions/cs_test_failed', session({ id: 'cs_test_failed', status: 'complete', payment_status: 'unpaid' }));
    expect(await stripe.expireCheckout('cs_test_gone')).toBe('expired');
    expect(await stripe.expireCheckout('cs_test_failed')).toBe('expired');
    expect(calls()).toEqual(['GET /v1/checkout/sessions/cs_test_gone', 'GET /v1/checkout/sessions/cs_test_failed']);
  });

  it('a session paid between the look and the expiry: Stripe refuses to expire it, a second look says paid', async () => {
    // substituted: POST expire → 400 (Stripe expires open sessions only); the second GET → complete and paid.
    proxy.substitute(
      'POST /v1/checkout/sessions/cs_test_race/expire',
      stripeError(400, {
        type: 'invalid_request_error',
        message: 'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "complete".',
      }),
    );
    proxy.substitute('GET /v1/checkout/sessions/cs_test_race', session({ id: 'cs_test_race', status: 'open', payment_status: 'unpaid' }));
    proxy.substitute('GET /v1/checkout/sessions/cs_test_race', session({ id: 'cs_test_race', status: 'complete', payment_status: 'paid' }));
    expect(await stripe.expireCheckout('cs_test_race')).toBe('already_paid');
    expect(calls()).toEqual([
      'GET /v1/checkout/sessions/cs_test_race',
      'POST /v1/checkout/sessions/cs_test_race/expire',
      'GET /v1/checkout/sessions/cs_test_race',
    ]);
  });

  it('a refused expiry of a session still open afterwards is retryable, not a final answer', async () => {
    // substituted: POST expire → 400; both GETs are stripe-mock's (open).
    proxy.substitute('POST /v1/checkout/sessions/cs_test_odd/expire', stripeError(400, { type: 'invalid_request_error', message: 'This Checkout Session cannot be expired right now.' }));
    const err = await failure(stripe.expireCheckout('cs_test_odd'));
    expect(err).toBeInstanceOf(StripeUnavailable);
    expect(err).not.toBeInstanceOf(PaymentRejected);
    expect(calls()).toHaveLength(3);
  });

  it('an unknown session is PaymentRejected', async () => {
    // substituted: GET session → 404 resource_missing.
    proxy.substitute('GET /v1/checkout/sessions/cs_test_nope', missing('checkout.session', 'cs_test_nope', 'session'));
    const err = await failure(stripe.expireCheckout('cs_test_nope'));
    expect(err).toBeInstanceOf(PaymentRejected);
    expect(err.message).toContain("No such checkout.session: 'cs_test_nope'");
    expect(err.message).toContain('resource_missing');
  });

  it('an outage (500, 429, no connection) is an ordinary retryable error, never PaymentRejected', async () => {
    // substituted: GET session → 500 api_error; then → 429 rate_limit.
    proxy.substitute('GET /v1/checkout/sessions/cs_test_down', stripeError(500, { type: 'api_error', message: 'An unknown error occurred' }));
    proxy.substitute(
      'GET /v1/checkout/sessions/cs_test_down',
      stripeError(429, { type: 'invalid_request_error', code: 'rate_limit', message: 'Request rate limit exceeded.' }),
    );
    for (const status of [500, 429]) {
      const err = await failure(stripe.expireCheckout('cs_test_down'));
      expect(err).toBeInstanceOf(StripeUnavailable);
      expect(err).not.toBeInstanceOf(PaymentRejected);
      expect(err.message).toContain(`HTTP ${status}`);
    }
    const nowhere = new StripePayments({ secretKey: KEY, apiUrl: `http://127.0.0.1:${await freePort()}`, maxNetworkRetries: 0 });
    const err = await failure(nowhere.expireCheckout('cs_test_down'));
    expect(err).toBeInstanceOf(StripeUnavailable);
  });
});

describe('refund', () => {
  const paid = (amount = 2199) => intent({ id: 'pi_test_paid', status: 'succeeded', amount, amount_received: amount });
  const req = { paymentIntentId: 'pi_test_paid', amountCents: 2199, idempotencyKey: 'refund:order:or_test', reason: 'order cancelled' };

  it('looks for an earlier refund, checks the payment, then refunds in full under the idempotency key', async () => {
    // substituted: GET payment intent → succeeded, 2199 received. The refund list is stripe-mock's
    // (one refund of another payment), and so is the refund made.
    proxy.substitute('GET /v1/payment_intents/pi_test_paid', paid());
    const result = await stripe.refund(req);
    expect(calls()).toEqual(['GET /v1/refunds?payment_intent=pi_test_paid&limit=100', 'GET /v1/payment_intents/pi_test_paid', 'POST /v1/refunds']);
    const sent = only('POST', '/v1/refunds');
    expect(sent.headers['idempotency-key']).toBe('refund:order:or_test');
    expect(Object.fromEntries(sent.params)).toEqual({ payment_intent: 'pi_test_paid', amount: '2199', 'metadata[reason]': 'order cancelled' });
    expect(result).toEqual({ refundId: expect.stringMatching(/^re_/), status: 'succeeded', amountCents: 2199 });
  });

  it('answers with an existing refund of the whole amount and makes none (Stripe forgets keys after 24 h)', async () => {
    // substituted: GET refunds → a failed and a canceled refund of this payment, then a pending one.
    proxy.substitute(
      'GET /v1/refunds',
      refundList([
        refund({ id: 're_failed', payment_intent: 'pi_test_paid', amount: 2199, status: 'failed' }),
        refund({ id: 're_canceled', payment_intent: 'pi_test_paid', amount: 2199, status: 'canceled' }),
        refund({ id: 're_earlier', payment_intent: 'pi_test_paid', amount: 2199, status: 'pending' }),
      ]),
    );
    expect(await stripe.refund(req)).toEqual({ refundId: 're_earlier', status: 'pending', amountCents: 2199 });
    expect(calls()).toEqual(['GET /v1/refunds?payment_intent=pi_test_paid&limit=100']);
  });

  it('failed and canceled refunds do not count: a new one is made', async () => {
    // substituted: GET refunds → only a failed and a canceled refund of this payment; GET payment intent → paid.
    proxy.substitute(
      'GET /v1/refunds',
      refundList([
        refund({ id: 're_failed', payment_intent: 'pi_test_paid', amount: 2199, status: 'failed' }),
        refund({ id: 're_canceled', payment_intent: 'pi_test_paid', amount: 2199, status: 'canceled' }),
      ]),
    );
    proxy.substitute('GET /v1/payment_intents/pi_test_paid', paid());
    expect((await stripe.refund(req)).refundId).not.toMatch(/^re_(failed|canceled)$/);
    expect(calls()).toContain('POST /v1/refunds');
  });

  it('charge_already_refunded (a concurrent refund won): looks again and answers with that refund', async () => {
    // substituted: GET payment intent → paid; POST refunds → 400 charge_already_refunded; the second GET refunds → the winner.
    proxy.substitute('GET /v1/payment_intents/pi_test_paid', paid());
    proxy.substitute(
      'POST /v1/refunds',
      stripeError(400, { type: 'invalid_request_error', code: 'charge_already_refunded', message: 'Charge ch_test_1 has already been refunded.' }),
    );
    proxy.substitute('GET /v1/refunds', refundList([]));
    proxy.substitute('GET /v1/refunds', refundList([refund({ id: 're_winner', payment_intent: 'pi_test_paid', amount: 2199, status: 'succeeded' })]));
    expect(await stripe.refund(req)).toEqual({ refundId: 're_winner', status: 'succeeded', amountCents: 2199 });
    expect(calls()).toEqual([
      'GET /v1/refunds?payment_intent=pi_test_paid&limit=100',
      'GET /v1/payment_intents/pi_test_paid',
      'POST /v1/refunds',
      'GET /v1/refunds?payment_intent=pi_test_paid&limit=100',
    ]);
  });

  it('charge_already_refunded with no refund of the whole amount to show is PaymentRejected', async () => {
    // substituted: GET payment intent → paid; POST refunds → 400 charge_already_refunded; both refund lists → empty.
    proxy.substitute('GET /v1/payment_intents/pi_test_paid', paid());
    proxy.substitute('POST /v1/refunds', stripeError(400, { type: 'invalid_request_error', code: 'charge_already_refunded', message: 'Charge ch_test_1 has already been refunded.' }));
    proxy.substitute('GET /v1/refunds', refundList([]));
    proxy.substitute('GET /v1/refunds', refundList([]));
    expect(await failure(stripe.refund(req))).toBeInstanceOf(PaymentRejected);
  });

  it('only full refunds: another amount is PaymentRejected before any refund is made', async () => {
    // substituted: GET payment intent → paid 2199.
    proxy.substitute('GET /v1/payment_intents/pi_test_paid', paid());
    const err = await failure(stripe.refund({ ...req, amountCents: 1000 }));
    expect(err).toBeInstanceOf(PaymentRejected);
    expect(err.message).toContain('only full refunds');
    expect(calls()).not.toContain('POST /v1/refunds');
    expect(await failure(stripe.refund({ ...req, amountCents: -5 }))).toBeInstanceOf(PaymentRejected);
  });

  it('an unknown payment, or one never paid, is PaymentRejected', async () => {
    // substituted: GET payment intent → 404 resource_missing. The second payment intent is stripe-mock's (requires_payment_method).
    proxy.substitute('GET /v1/payment_intents/pi_test_nope', missing('payment_intent', 'pi_test_nope', 'intent'));
    const unknown = await failure(stripe.refund({ ...req, paymentIntentId: 'pi_test_nope' }));
    expect(unknown).toBeInstanceOf(PaymentRejected);
    expect(unknown.message).toContain('resource_missing');
    const unpaid = await failure(stripe.refund({ ...req, paymentIntentId: 'pi_test_unpaid' }));
    expect(unpaid).toBeInstanceOf(PaymentRejected);
    expect(unpaid.message).toContain('requires_payment_method');
    expect(calls()).not.toContain('POST /v1/refunds');
  });

  it("maps Stripe's refund status: requires_action and pending are 'pending'; failed is PaymentRejected (refund by hand)", async () => {
    // substituted: three times GET payment intent → paid and POST refunds → a refund with status requires_action, pending, failed.
    for (const status of ['requires_action', 'pending', 'failed']) {
      proxy.substitute('GET /v1/payment_intents/pi_test_paid', paid());
      proxy.substitute('POST /v1/refunds', { status: 200, body: refund({ id: `re_${status}`, payment_intent: 'pi_test_paid', amount: 2199, status }) });
    }
    expect(await stripe.refund(req)).toEqual({ refundId: 're_requires_action', status: 'pending', amountCents: 2199 });
    expect(await stripe.refund(req)).toEqual({ refundId: 're_pending', status: 'pending', amountCents: 2199 });
    const failed = await failure(stripe.refund(req));
    expect(failed).toBeInstanceOf(PaymentRejected);
    expect(failed.message).toContain('refund by hand');
  });

  it('the same key with other parameters is PaymentRejected', async () => {
    // substituted: GET payment intent → paid; POST refunds → 400 idempotency_error.
    proxy.substitute('GET /v1/payment_intents/pi_test_paid', paid());
    proxy.substitute(
      'POST /v1/refunds',
      stripeError(400, { type: 'idempotency_error', message: "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'refund:order:or_test' if you meant to execute a different request." }),
    );
    expect(await failure(stripe.refund(req))).toBeInstanceOf(PaymentRejected);
  });

  it('an outage is retryable; the library retries a 500 under the same Idempotency-Key and the refund is made once', async () => {
    // substituted: GET payment intent → paid (twice); the first POST refunds → 500 (twice).
    proxy.substitute('GET /v1/payment_intents/pi_test_paid', paid());
    proxy.substitute('POST /v1/refunds', stripeError(500, { type: 'api_error', message: 'An unknown error occurred' }));
    const err = await failure(stripe.refund(req));
    expect(err).toBeInstanceOf(StripeUnavailable);
    expect(err.message).toContain('HTTP 500');
    proxy.reset();

    const retrying = new StripePayments({ secretKey: KEY, apiUrl: proxy.url, maxNetworkRetries: 1 });
    proxy.substitute('GET /v1/payment_intents/pi_test_paid', paid());
    proxy.substitute('POST /v1/refunds', stripeError(500, { type: 'api_error', message: 'An unknown error occurred' }));
    expect((await retrying.refund(req)).status).toBe('succeeded');
    const posts = proxy.requests.filter((r) => r.method === 'POST');
    expect(posts.map((p) => [p.substituted, p.headers['idempotency-key']])).toEqual([
      [true, 'refund:order:or_test'],
      [false, 'refund:order:or_test'],
    ]);
  });
});

describe('paidCheckout', () => {
  it("a paid session's payment, under an id stable per session", async () => {
    // substituted (twice): GET session → complete and paid, with our order id, amount and payment intent.
    const paidSession = session({
      id: 'cs_test_done',
      status: 'complete',
      payment_status: 'paid',
      client_reference_id: 'or_test_done',
      metadata: { orderId: 'or_test_done' },
      amount_total: 2199,
      currency: 'usd',
      payment_intent: 'pi_test_done',
    });
    proxy.substitute('GET /v1/checkout/sessions/cs_test_done', paidSession);
    proxy.substitute('GET /v1/checkout/sessions/cs_test_done', paidSession);
    const first = await stripe.paidCheckout('cs_test_done');
    expect(first).toEqual({
      eventId: 'checkout:cs_test_done',
      orderId: 'or_test_done',
      sessionId: 'cs_test_done',
      paymentIntentId: 'pi_test_done',
      amountCents: 2199,
      currency: 'usd',
      paidAt: expect.any(String),
    });
    const again = await stripe.paidCheckout('cs_test_done');
    expect({ ...again, paidAt: undefined }).toEqual({ ...first, paidAt: undefined });
  });

  it('an open (unpaid) session has no payment; an unknown one is PaymentRejected', async () => {
    // stripe-mock's own answer (open, unpaid); substituted: the unknown session → 404 resource_missing.
    expect(await stripe.paidCheckout('cs_test_open')).toBeUndefined();
    proxy.substitute('GET /v1/checkout/sessions/cs_test_nope', missing('checkout.session', 'cs_test_nope', 'session'));
    expect(await failure(stripe.paidCheckout('cs_test_nope'))).toBeInstanceOf(PaymentRejected);
  });

  it('a paid session whose order ids contradict each other is PaymentRejected', async () => {
    // substituted: GET session → paid, client_reference_id and metadata.orderId differ.
    proxy.substitute(
      'GET /v1/checkout/sessions/cs_test_odd',
      session({ id: 'cs_test_odd', status: 'complete', payment_status: 'paid', client_reference_id: 'or_a', metadata: { orderId: 'or_b' }, amount_total: 1, currency: 'usd' }),
    );
    expect(await failure(stripe.paidCheckout('cs_test_odd'))).toBeInstanceOf(PaymentRejected);
  });
});

describe('the client', () => {
  it('reaches the server STRIPE_API_URL names, and only a bare origin', () => {
    expect(stripeClientTarget(undefined)).toEqual({});
    expect(stripeClientTarget('http://127.0.0.1:12111')).toEqual({ host: '127.0.0.1', port: '12111', protocol: 'http' });
    expect(stripeClientTarget('https://stripe.internal')).toEqual({ host: 'stripe.internal', port: 443, protocol: 'https' });
    expect(() => stripeClientTarget('http://127.0.0.1:12111/v1')).toThrow(/bare origin/);
    expect(() => stripeClientTarget('ftp://x')).toThrow(/http/);
  });

  it('never shows the key when inspected or logged', async () => {
    const { inspect } = await import('node:util');
    expect(inspect(stripe, { depth: 10 })).not.toContain(KEY);
    expect(JSON.stringify(stripe)).not.toContain(KEY);
  });
});
