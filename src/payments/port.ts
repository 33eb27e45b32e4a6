/**
 * The payment port: checkout, refunds and the payment webhook, the same for Stripe and for the
 * embedded local provider. Both deliver Stripe-signed `checkout.session.completed` events to
 * `POST /webhooks/stripe`, so one code path serves both; both also answer whether a session has
 * been paid, for the customer's return from the checkout page (which may come before the event).
 */

export interface CheckoutRequest {
  /**
   * What is paid for: our order id, or a credit purchase's (`cp_…`). One checkout session each
   * (asking again returns the same session).
   */
  orderId: string;
  amountCents: number;
  currency: string;
  /** What the customer sees on the checkout page, e.g. "10 × 3-inch die-cut stickers". */
  description: string;
  /** The receipt's address; a credit purchase asks for none. */
  email?: string;
  /** Where the customer goes after paying, and after giving up. */
  successUrl: string;
  cancelUrl: string;
  /**
   * ISO 8601: when the session stops taking payments (Stripe: 30 minutes to 24 hours ahead).
   * Unset: the provider's default (24 hours). Part of the request, so a retry asks the same.
   */
  expiresAt?: string;
}

export interface CheckoutSession {
  sessionId: string;
  /** The page the customer pays on. */
  url: string;
  /** ISO 8601. */
  expiresAt: string;
}

/**
 * A completed payment, from a verified `checkout.session.completed` (or
 * `checkout.session.async_payment_succeeded`) event, or read from the paid session itself.
 */
export interface PaymentReceived {
  /** The webhook event's id: deduplicates deliveries. `checkout:<sessionId>` when read from the session. */
  eventId: string;
  orderId: string;
  sessionId: string;
  /** What a refund refers to. */
  paymentIntentId: string;
  amountCents: number;
  currency: string;
  /** ISO 8601. */
  paidAt: string;
}

/**
 * Why a payment cannot be for what `expected` costs (an order, a pack: `what`), or undefined
 * when amount and currency match.
 */
export function amountMismatch(expected: { amountCents: number; currency: string }, payment: PaymentReceived, what: string): string | undefined {
  if (payment.amountCents === expected.amountCents && payment.currency === expected.currency.toLowerCase()) return undefined;
  return `the payment is ${payment.amountCents} ${payment.currency}, the ${what} ${expected.amountCents} ${expected.currency}`;
}

/** A refund of a payment, from a verified `charge.refunded` event (made in Stripe's Dashboard or by us). */
export interface PaymentRefunded {
  eventId: string;
  paymentIntentId: string;
  /** The payment in full, and how much of it has been refunded so far, in all. */
  amountCents: number;
  amountRefundedCents: number;
}

export interface RefundRequest {
  paymentIntentId: string;
  amountCents: number;
  /** Stable per refund: the same key never refunds twice. */
  idempotencyKey: string;
  reason: string;
}

export interface RefundResult {
  refundId: string;
  status: 'succeeded' | 'pending';
  amountCents: number;
}

export interface PaymentProvider {
  readonly id: 'local' | 'stripe';
  /**
   * Opens (or returns the existing) checkout session of the order: safe to retry. Asking again
   * for the order with another amount or currency is PaymentRejected.
   */
  createCheckout(req: CheckoutRequest): Promise<CheckoutSession>;
  /**
   * Closes an unpaid session so it can no longer be paid (the order was cancelled or its payment
   * deadline passed). 'already_paid' means the customer paid in the meantime: refund it.
   * Safe to retry: a session already expired answers 'expired'; an unknown one is PaymentRejected.
   */
  expireCheckout(sessionId: string): Promise<'expired' | 'already_paid'>;
  /**
   * Refunds a payment in full. Looks for an existing refund of the payment first (Stripe forgets
   * idempotency keys after 24 hours), so a retry days later still refunds once, and concurrent
   * calls refund once. An unknown or unpaid payment, or an amount other than the whole payment,
   * is PaymentRejected.
   */
  refund(req: RefundRequest): Promise<RefundResult>;
  /**
   * The session's payment if it has been paid, else undefined: how the customer's return from
   * the checkout page fulfils the order when the webhook is late. The same session always gives
   * the same `eventId` (`checkout:<sessionId>`) and payment intent, so handing it over as well as
   * the webhook's is harmless. An unknown session is PaymentRejected.
   */
  paidCheckout(sessionId: string): Promise<PaymentReceived | undefined>;
}

/** The webhook's signature, timestamp or body is not acceptable: answer 400, change nothing. */
export class WebhookRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookRejected';
  }
}

/** The payment provider refused for good (unknown payment, nothing to refund): do not retry. */
export class PaymentRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PaymentRejected';
  }
}
