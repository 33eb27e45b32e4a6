/**
 * Stripe's webhook events, both ways, through the real `stripe` package: the local provider builds
 * and signs `checkout.session.completed` events exactly as Stripe does, and the webhook route
 * verifies every delivery (Stripe's or ours) the same way and maps it onto `PaymentReceived`.
 */
import Stripe from 'stripe';
import { WebhookRejected, type PaymentReceived, type PaymentRefunded } from './port.js';

/**
 * The replay window, in seconds: a signature older than this is refused (Stripe's own check), and
 * so is one dated this far in the future (a check Stripe's library does not make).
 */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** The events that mean "paid": a card payment completes the session paid; a delayed method pays later. */
const PAID_EVENT_TYPES = new Set(['checkout.session.completed', 'checkout.session.async_payment_succeeded']);

/** The `Stripe-Signature` header Stripe would send with `payload` (`t=<unix s>,v1=<hex HMAC-SHA256>`). */
export function signPayload(payload: string, secret: string, timestampSeconds = Math.floor(Date.now() / 1000)): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: timestampSeconds });
}

/**
 * The event, once its signature over the exact raw body checks out and its timestamp is within
 * the replay window either side of `nowMs`. Throws WebhookRejected otherwise; the message never
 * contains the secret.
 */
export function verifyEvent(rawBody: Buffer | string, header: string | undefined, secret: string, nowMs = Date.now()): Stripe.Event {
  if (!header) throw new WebhookRejected('the Stripe-Signature header is missing');
  let event: Stripe.Event;
  try {
    event = Stripe.webhooks.constructEvent(rawBody, header, secret, SIGNATURE_TOLERANCE_SECONDS, undefined, nowMs);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw new WebhookRejected(`bad Stripe-Signature: ${err.message.split('\n')[0]!.trim()}`);
    }
    throw new WebhookRejected('the signed body is not a JSON event');
  }
  const signedAt = Number(/(?:^|,)\s*t=(\d+)/.exec(header)?.[1]);
  if (signedAt > nowMs / 1000 + SIGNATURE_TOLERANCE_SECONDS) {
    throw new WebhookRejected(`bad Stripe-Signature: timestamp more than ${SIGNATURE_TOLERANCE_SECONDS} s in the future`);
  }
  if (typeof event?.id !== 'string' || typeof event.type !== 'string' || typeof event.data?.object !== 'object') {
    throw new WebhookRejected('the signed body is not a Stripe event (id, type, data.object)');
  }
  return event;
}

/**
 * The payment a verified event reports, or undefined for an event we do not act on: another
 * type, a session not (yet) paid, or a session that is not one of our orders (no order id).
 * A paid session of ours with missing or contradictory fields is rejected.
 */
export function paymentReceivedFrom(event: Stripe.Event): PaymentReceived | undefined {
  if (!PAID_EVENT_TYPES.has(event.type)) return undefined;
  const session = event.data.object as Partial<Stripe.Checkout.Session>;
  if (session.object !== 'checkout.session' || session.payment_status !== 'paid') return undefined;
  const byReference = session.client_reference_id ?? undefined;
  const byMetadata = session.metadata?.orderId;
  const orderId = byReference ?? byMetadata;
  if (!orderId) return undefined;
  if (byReference && byMetadata && byReference !== byMetadata) {
    throw new WebhookRejected('client_reference_id and metadata.orderId name different orders');
  }
  const intent = session.payment_intent;
  const paymentIntentId = typeof intent === 'string' ? intent : intent?.id;
  const amount = session.amount_total;
  if (typeof session.id !== 'string' || !paymentIntentId || !Number.isInteger(amount) || typeof session.currency !== 'string') {
    throw new WebhookRejected('the paid checkout session lacks its id, payment_intent, amount_total or currency');
  }
  return {
    eventId: event.id,
    orderId,
    sessionId: session.id,
    paymentIntentId,
    amountCents: amount!,
    currency: session.currency.toLowerCase(),
    paidAt: new Date(event.created * 1000).toISOString(),
  };
}

/**
 * The refund a verified `charge.refunded` event reports (Stripe sends it for every refund, from
 * the Dashboard or the API; `amount_refunded` is the running total), or undefined for any other
 * event. Shape per Stripe's Charge object: `payment_intent`, `amount`, `amount_refunded`.
 */
export function paymentRefundedFrom(event: Stripe.Event): PaymentRefunded | undefined {
  if (event.type !== 'charge.refunded') return undefined;
  const charge = event.data.object as Partial<Stripe.Charge>;
  const intent = charge.payment_intent;
  const paymentIntentId = typeof intent === 'string' ? intent : intent?.id;
  if (charge.object !== 'charge' || !paymentIntentId || !Number.isInteger(charge.amount) || !Number.isInteger(charge.amount_refunded)) {
    throw new WebhookRejected('the refunded charge lacks its payment_intent, amount or amount_refunded');
  }
  return { eventId: event.id, paymentIntentId, amountCents: charge.amount!, amountRefundedCents: charge.amount_refunded! };
}

/** What the local provider knows of a paid session: all the completed event is made from. */
export interface PaidSession {
  sessionId: string;
  orderId: string;
  paymentIntentId: string;
  eventId: string;
  amountCents: number;
  currency: string;
  email: string | null;
  successUrl: string;
  cancelUrl: string;
  createdAt: Date;
  expiresAt: Date;
  completedAt: Date;
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

/**
 * The `checkout.session.completed` event Stripe sends for a paid session, with the fields our
 * route and Stripe's libraries read. Built only from `s`, so the same session always gives the
 * same event (a redelivery is the same event, as with Stripe).
 */
export function checkoutCompletedEvent(s: PaidSession) {
  return {
    id: s.eventId,
    object: 'event' as const,
    api_version: Stripe.API_VERSION,
    created: seconds(s.completedAt),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'checkout.session.completed' as const,
    data: {
      object: {
        id: s.sessionId,
        object: 'checkout.session' as const,
        mode: 'payment' as const,
        amount_subtotal: s.amountCents,
        amount_total: s.amountCents,
        currency: s.currency,
        client_reference_id: s.orderId,
        metadata: { orderId: s.orderId },
        customer_email: s.email,
        customer_details: { email: s.email },
        payment_intent: s.paymentIntentId,
        payment_status: 'paid' as const,
        status: 'complete' as const,
        success_url: s.successUrl,
        cancel_url: s.cancelUrl,
        created: seconds(s.createdAt),
        expires_at: seconds(s.expiresAt),
        livemode: false,
      },
    },
  };
}

export type CheckoutCompletedEvent = ReturnType<typeof checkoutCompletedEvent>;
