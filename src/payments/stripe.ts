/**
 * The Stripe adapter of the payment port, through the official `stripe` package: Checkout
 * Sessions (one per order, under the idempotency key `checkout:<orderId>`), closing unpaid
 * sessions, full refunds that look for an existing refund before making one (Stripe forgets
 * idempotency keys after 24 hours), and reading whether a session has been paid.
 *
 * Errors: Stripe's refusals for good (unknown session or payment, an idempotency key reused with
 * other parameters, any other invalid request) are PaymentRejected; outages (connection, 5xx,
 * 429, a key Stripe does not accept right now) are StripeUnavailable, an ordinary error the
 * caller retries. No message ever carries the secret key.
 */
import Stripe from 'stripe';
import {
  PaymentRejected,
  type CheckoutRequest,
  type CheckoutSession,
  type PaymentProvider,
  type PaymentReceived,
  type RefundRequest,
  type RefundResult,
} from './port.js';
import { paymentReceivedFrom } from './stripe-events.js';

export interface StripePaymentsOptions {
  /** `sk_…` or a restricted `rk_…` key. */
  secretKey: string;
  /** Another API server, e.g. stripe-mock (`http://127.0.0.1:12111`); default Stripe's. */
  apiUrl?: string;
  /** Retries of one call inside the library (same idempotency key); default 2. */
  maxNetworkRetries?: number;
  /** Per request; default 20 s. */
  timeoutMs?: number;
}

/** Stripe did not answer usefully (network, 5xx, rate limit, key refused): retry later. */
export class StripeUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StripeUnavailable';
  }
}

/** Where the client goes: Stripe itself, or the server `apiUrl` names (scheme, host, port only). */
export function stripeClientTarget(apiUrl: string | undefined): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  if (!apiUrl) return {};
  const url = new URL(apiUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`STRIPE_API_URL must be http(s), got ${url.protocol}`);
  if (url.pathname !== '/' || url.search || url.username) throw new Error('STRIPE_API_URL must be a bare origin such as http://127.0.0.1:12111');
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port || (protocol === 'http' ? 80 : 443), protocol };
}

/** A refund that stands (or may still go through): not failed, not canceled. */
const LIVE_REFUND = new Set(['succeeded', 'pending', 'requires_action']);

const refundResult = (r: Stripe.Refund): RefundResult => ({
  refundId: r.id,
  status: r.status === 'succeeded' ? 'succeeded' : 'pending',
  amountCents: r.amount,
});

const idOf = (v: string | { id: string } | null | undefined) => (typeof v === 'string' ? v : v?.id);

/** The payment port on Stripe (PAYMENT_PROVIDER=stripe); `apiUrl` points it at stripe-mock in tests. */
export class StripePayments implements PaymentProvider {
  readonly id = 'stripe' as const;
  // A private field: the client (which holds the key) never shows in logs or inspection.
  readonly #stripe: Stripe;
  readonly #redact: (text: string) => string;

  constructor(options: StripePaymentsOptions) {
    this.#stripe = new Stripe(options.secretKey, {
      ...stripeClientTarget(options.apiUrl),
      maxNetworkRetries: options.maxNetworkRetries ?? 2,
      timeout: options.timeoutMs ?? 20_000,
      appInfo: { name: 'stickerflow' },
    });
    const key = options.secretKey;
    this.#redact = (text) => text.replaceAll(key, '[secret key]').replace(/\b(sk|rk)_(test|live)_\w+/g, '$1_$2_[redacted]');
  }

  async createCheckout(req: CheckoutRequest): Promise<CheckoutSession> {
    if (!Number.isInteger(req.amountCents) || req.amountCents <= 0) {
      throw new PaymentRejected(`amount must be a positive whole number of cents, got ${req.amountCents}`);
    }
    if (!/^[A-Za-z]{3}$/.test(req.currency)) throw new PaymentRejected(`currency must be an ISO 4217 code, got ${req.currency}`);
    const expiresAt = req.expiresAt === undefined ? undefined : Math.floor(Date.parse(req.expiresAt) / 1000);
    if (Number.isNaN(expiresAt)) throw new PaymentRejected(`expiresAt must be an ISO 8601 time, got ${req.expiresAt}`);
    const orderRef = { orderId: req.orderId };
    const session = await this.call(`creating the checkout session of order ${req.orderId}`, () =>
      this.#stripe.checkout.sessions.create(
        {
          mode: 'payment',
          client_reference_id: req.orderId,
          metadata: orderRef,
          payment_intent_data: { metadata: orderRef },
          customer_email: req.email,
          line_items: [
            {
              price_data: { currency: req.currency.toLowerCase(), unit_amount: req.amountCents, product_data: { name: req.description } },
              quantity: 1,
            },
          ],
          success_url: req.successUrl,
          cancel_url: req.cancelUrl,
          ...(expiresAt !== undefined && { expires_at: expiresAt }),
        },
        // The same order always asks under the same key: a retry gets the first session back, and
        // the same key with other parameters is Stripe's idempotency error (PaymentRejected).
        { idempotencyKey: `checkout:${req.orderId}` },
      ),
    );
    if (!session.url) throw new StripeUnavailable(`Stripe returned checkout session ${session.id} without a payment page URL`);
    return { sessionId: session.id, url: session.url, expiresAt: new Date(session.expires_at * 1000).toISOString() };
  }

  async expireCheckout(sessionId: string): Promise<'expired' | 'already_paid'> {
    const what = `expiring checkout session ${sessionId}`;
    const session = await this.retrieveSession(sessionId, what);
    const settled = settledState(session);
    if (settled) return settled;
    try {
      const expired = await this.#stripe.checkout.sessions.expire(sessionId);
      return settledState(expired) ?? 'expired';
    } catch (err) {
      // Stripe expires open sessions only: it completed (or lapsed) between our two calls.
      if (!isInvalidRequest(err) || stripeCode(err) === 'resource_missing') throw this.translate(err, what);
      const now = settledState(await this.retrieveSession(sessionId, what));
      if (now) return now;
      // Refused, yet still open: not a final answer about this session; try again later.
      throw new StripeUnavailable(`${this.translate(err, what).message}, and the session is still open`);
    }
  }

  async refund(req: RefundRequest): Promise<RefundResult> {
    if (!Number.isInteger(req.amountCents) || req.amountCents <= 0) {
      throw new PaymentRejected(`refund amount must be a positive whole number of cents, got ${req.amountCents}`);
    }
    const what = `refunding payment ${req.paymentIntentId}`;
    const previous = await this.existingRefund(req, what);
    if (previous) return previous;
    const intent = await this.call(what, () => this.#stripe.paymentIntents.retrieve(req.paymentIntentId));
    if (intent.status !== 'succeeded') throw new PaymentRejected(`payment ${req.paymentIntentId} is not paid (status ${intent.status})`);
    if (intent.amount_received !== req.amountCents) {
      throw new PaymentRejected(`only full refunds: payment ${req.paymentIntentId} is ${intent.amount_received} cents, not ${req.amountCents}`);
    }
    let refund: Stripe.Refund;
    try {
      refund = await this.#stripe.refunds.create(
        { payment_intent: req.paymentIntentId, amount: req.amountCents, metadata: { reason: req.reason } },
        { idempotencyKey: req.idempotencyKey },
      );
    } catch (err) {
      // Refunded meanwhile (a concurrent call, or by hand in the Dashboard): answer with that refund.
      if (stripeCode(err) !== 'charge_already_refunded') throw this.translate(err, what);
      const winner = await this.existingRefund(req, what);
      if (winner) return winner;
      throw new PaymentRejected(`payment ${req.paymentIntentId} is already refunded, but not by one refund of ${req.amountCents} cents`);
    }
    if (!LIVE_REFUND.has(refund.status ?? '')) {
      throw new PaymentRejected(`Stripe refund ${refund.id} of payment ${req.paymentIntentId} is ${refund.status}: refund by hand`);
    }
    return refundResult(refund);
  }

  async paidCheckout(sessionId: string): Promise<PaymentReceived | undefined> {
    const session = await this.retrieveSession(sessionId, `reading checkout session ${sessionId}`);
    if (session.status !== 'complete' || session.payment_status !== 'paid') return undefined;
    // The same fields and checks as the webhook's event, under an id stable per session.
    const asEvent = {
      id: `checkout:${session.id}`,
      type: 'checkout.session.completed',
      created: Math.floor(Date.now() / 1000),
      data: { object: session },
    } as unknown as Stripe.Event;
    try {
      return paymentReceivedFrom(asEvent);
    } catch (err) {
      throw new PaymentRejected(`checkout session ${sessionId}: ${(err as Error).message}`);
    }
  }

  private retrieveSession(sessionId: string, what: string): Promise<Stripe.Checkout.Session> {
    return this.call(what, () => this.#stripe.checkout.sessions.retrieve(sessionId));
  }

  /** The payment's refund for the whole amount that has not failed, if there is one. */
  private async existingRefund(req: RefundRequest, what: string): Promise<RefundResult | undefined> {
    const list = await this.call(what, () => this.#stripe.refunds.list({ payment_intent: req.paymentIntentId, limit: 100 }));
    const found = list.data.find(
      (r) => idOf(r.payment_intent) === req.paymentIntentId && r.amount === req.amountCents && LIVE_REFUND.has(r.status ?? ''),
    );
    return found && refundResult(found);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.translate(err, what);
    }
  }

  /** Stripe's error as ours: a refusal for good is PaymentRejected, anything else retryable. */
  private translate(err: unknown, what: string): Error {
    if (!(err instanceof Stripe.errors.StripeError)) {
      return new StripeUnavailable(this.#redact(`${what}: ${err instanceof Error ? err.message : String(err)}`));
    }
    const detail = [err.statusCode && `HTTP ${err.statusCode}`, err.code, err.requestId].filter(Boolean).join(', ');
    const message = this.#redact(`${what}: ${err.message}${detail ? ` (${detail})` : ''}`);
    if (err instanceof Stripe.errors.StripeIdempotencyError) {
      return new PaymentRejected(`${message}: the idempotency key was used before with other parameters`);
    }
    if (err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripeCardError) {
      return new PaymentRejected(message);
    }
    return new StripeUnavailable(message);
  }
}

/** 'already_paid' or 'expired' once the session can no longer be paid; undefined while open. */
function settledState(s: Stripe.Checkout.Session): 'expired' | 'already_paid' | undefined {
  if (s.status === 'complete' && s.payment_status === 'paid') return 'already_paid';
  // Complete but unpaid: a delayed payment method that failed (or is still clearing: if it
  // succeeds after all, its webhook finds the order closed and refunds it).
  if (s.status === 'expired' || s.status === 'complete') return 'expired';
  return undefined;
}

const isInvalidRequest = (err: unknown) => err instanceof Stripe.errors.StripeInvalidRequestError;
const stripeCode = (err: unknown) => (err instanceof Stripe.errors.StripeError ? err.code : undefined);
