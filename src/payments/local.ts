/**
 * The embedded payment provider: Stripe's part played over our own database. It keeps checkout
 * sessions and refunds with Stripe's guarantees (one session per order, a session paid or expired
 * once, a payment refunded once), and when the customer pays on its checkout page it delivers a
 * Stripe-signed `checkout.session.completed` event to the app's own Stripe webhook route, so the
 * app cannot tell it from Stripe. No money moves.
 */
import { randomId } from '../customers/customers.js';
import { isUniqueViolation, type Database } from '../db/database.js';
import {
  PaymentRejected,
  type CheckoutRequest,
  type CheckoutSession,
  type PaymentProvider,
  type PaymentReceived,
  type RefundRequest,
  type RefundResult,
} from './port.js';
import { checkoutCompletedEvent, signPayload, type CheckoutCompletedEvent } from './stripe-events.js';

export const LOCAL_SESSION_ID = /^cs_local_[A-Za-z0-9_-]{32}$/;

export interface LocalPaymentsOptions {
  /** Where the app is reached: checkout pages are `<publicUrl>/checkout/<sessionId>`. */
  publicUrl: string;
  /** Signs the events delivered to the webhook route (which verifies with the same secret). */
  webhookSecret: string;
  /** Where events go; default `<publicUrl>/webhooks/stripe`. */
  webhookUrl?: string;
  /** How long a session can be paid, like Stripe's `expires_at` (default 24 hours). */
  sessionMinutes?: number;
  /** Gives up on a webhook delivery after this long (default 10 s). */
  deliveryTimeoutMs?: number;
  fetch?: typeof fetch;
  /** The clock sessions expire by (tests move it). */
  now?: () => Date;
}

/** A session as asked for (`successUrl` with `{CHECKOUT_SESSION_ID}` replaced by its id, as Stripe does), and where it stands. */
export interface LocalCheckoutSession extends CheckoutRequest {
  sessionId: string;
  /** 'expired' also when still open in the table but past its expiry time. */
  status: 'open' | 'complete' | 'expired';
  paymentIntentId: string | null;
  expiresAt: string;
}

export type CheckoutCompletion =
  /** Paid now or before: the event to deliver (the same event every time). */
  | { status: 'complete'; session: LocalCheckoutSession; event: CheckoutCompletedEvent }
  | { status: 'expired'; session: LocalCheckoutSession };

/** The webhook route did not acknowledge an event: the customer may retry (the same event). */
export class DeliveryFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryFailed';
  }
}

interface SessionRow {
  id: string;
  order_id: string;
  amount_cents: number;
  currency: string;
  description: string;
  email: string | null;
  success_url: string;
  cancel_url: string;
  status: 'open' | 'complete' | 'expired';
  payment_intent_id: string | null;
  event_id: string | null;
  expires_at: Date | string;
  completed_at: Date | string | null;
  created_at: Date | string;
}

interface RefundRow {
  id: string;
  payment_intent_id: string;
  amount_cents: number;
  idempotency_key: string;
}

const refundFrom = (r: RefundRow): RefundResult => ({ refundId: r.id, status: 'succeeded', amountCents: r.amount_cents });

export class LocalPayments implements PaymentProvider {
  readonly id = 'local' as const;
  private readonly now: () => Date;
  private readonly fetch: typeof fetch;

  constructor(
    private readonly db: Database,
    private readonly options: LocalPaymentsOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async createCheckout(req: CheckoutRequest): Promise<CheckoutSession> {
    if (!Number.isInteger(req.amountCents) || req.amountCents <= 0) {
      throw new PaymentRejected(`amount must be a positive whole number of cents, got ${req.amountCents}`);
    }
    if (!/^[A-Za-z]{3}$/.test(req.currency)) throw new PaymentRejected(`currency must be an ISO 4217 code, got ${req.currency}`);
    const currency = req.currency.toLowerCase();
    const expiresAt = req.expiresAt ? new Date(req.expiresAt) : new Date(this.now().getTime() + (this.options.sessionMinutes ?? 24 * 60) * 60_000);
    if (Number.isNaN(expiresAt.getTime())) throw new PaymentRejected(`expiresAt must be an ISO 8601 time, got ${req.expiresAt}`);
    const [created] = await this.db.query<SessionRow>(
      `INSERT INTO local_payment_sessions
         (id, order_id, amount_cents, currency, description, email, success_url, cancel_url, status, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9)
       ON CONFLICT (order_id) DO NOTHING RETURNING *`,
      [randomId('cs_local_', 24), req.orderId, req.amountCents, currency, req.description, req.email ?? null, req.successUrl, req.cancelUrl, expiresAt.toISOString()],
    );
    const row = created ?? (await this.db.query<SessionRow>('SELECT * FROM local_payment_sessions WHERE order_id = $1', [req.orderId]))[0]!;
    if (row.amount_cents !== req.amountCents || row.currency !== currency) {
      throw new PaymentRejected(`order ${req.orderId} already has a checkout session for ${row.amount_cents} ${row.currency}`);
    }
    return { sessionId: row.id, url: this.checkoutUrl(row.id), expiresAt: new Date(row.expires_at).toISOString() };
  }

  async expireCheckout(sessionId: string): Promise<'expired' | 'already_paid'> {
    const [expired] = await this.db.query(
      `UPDATE local_payment_sessions SET status = 'expired' WHERE id = $1 AND status = 'open' RETURNING id`,
      [sessionId],
    );
    if (expired) return 'expired';
    const [row] = await this.db.query<SessionRow>('SELECT * FROM local_payment_sessions WHERE id = $1', [sessionId]);
    if (!row) throw new PaymentRejected(`no checkout session ${sessionId}`);
    return row.status === 'complete' ? 'already_paid' : 'expired';
  }

  async refund(req: RefundRequest): Promise<RefundResult> {
    const previous = await this.previousRefund(req);
    if (previous) return previous;
    const [paid] = await this.db.query<SessionRow>(
      `SELECT * FROM local_payment_sessions WHERE payment_intent_id = $1 AND status = 'complete'`,
      [req.paymentIntentId],
    );
    if (!paid) throw new PaymentRejected(`no paid payment ${req.paymentIntentId}`);
    if (req.amountCents !== paid.amount_cents) {
      throw new PaymentRejected(`only full refunds: payment ${req.paymentIntentId} is ${paid.amount_cents} cents, not ${req.amountCents}`);
    }
    try {
      const [row] = await this.db.query<RefundRow>(
        `INSERT INTO local_payment_refunds (id, payment_intent_id, amount_cents, idempotency_key, reason)
         VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [randomId('re_local_', 18), req.paymentIntentId, paid.amount_cents, req.idempotencyKey, req.reason],
      );
      return refundFrom(row!);
    } catch (err) {
      // A concurrent refund of this payment (or with this key) committed first: answer with it.
      if (!isUniqueViolation(err)) throw err;
      const winner = await this.previousRefund(req);
      if (winner) return winner;
      throw err;
    }
  }

  async paidCheckout(sessionId: string): Promise<PaymentReceived | undefined> {
    const [row] = LOCAL_SESSION_ID.test(sessionId)
      ? await this.db.query<SessionRow>('SELECT * FROM local_payment_sessions WHERE id = $1', [sessionId])
      : [];
    if (!row) throw new PaymentRejected(`no checkout session ${sessionId}`);
    if (row.status !== 'complete') return undefined;
    return {
      eventId: `checkout:${row.id}`,
      orderId: row.order_id,
      sessionId: row.id,
      paymentIntentId: row.payment_intent_id!,
      amountCents: row.amount_cents,
      currency: row.currency,
      // Whole seconds, as in the event the checkout page delivers (Stripe's `created`).
      paidAt: new Date(Math.floor(new Date(row.completed_at!).getTime() / 1000) * 1000).toISOString(),
    };
  }

  /** The session behind a checkout page, or undefined when there is none. */
  async getCheckout(sessionId: string): Promise<LocalCheckoutSession | undefined> {
    if (!LOCAL_SESSION_ID.test(sessionId)) return undefined;
    const [row] = await this.db.query<SessionRow>('SELECT * FROM local_payment_sessions WHERE id = $1', [sessionId]);
    return row && this.sessionFrom(row);
  }

  /**
   * The customer pays: an open, unexpired session becomes complete in one statement (an expiry
   * racing it either wins or finds it paid). Paying a complete session again returns its first
   * event unchanged; undefined when there is no such session.
   */
  async completeCheckout(sessionId: string): Promise<CheckoutCompletion | undefined> {
    if (!LOCAL_SESSION_ID.test(sessionId)) return undefined;
    const now = this.now().toISOString();
    const [completed] = await this.db.query<SessionRow>(
      `UPDATE local_payment_sessions
          SET status = 'complete', payment_intent_id = $2, event_id = $3, completed_at = $4
        WHERE id = $1 AND status = 'open' AND expires_at > $4
        RETURNING *`,
      [sessionId, randomId('pi_local_', 18), randomId('evt_local_', 18), now],
    );
    const row = completed ?? (await this.db.query<SessionRow>('SELECT * FROM local_payment_sessions WHERE id = $1', [sessionId]))[0];
    if (!row) return undefined;
    const session = this.sessionFrom(row);
    if (row.status !== 'complete') return { status: 'expired', session };
    const event = checkoutCompletedEvent({
      sessionId: row.id,
      orderId: row.order_id,
      paymentIntentId: row.payment_intent_id!,
      eventId: row.event_id!,
      amountCents: row.amount_cents,
      currency: row.currency,
      email: row.email,
      successUrl: row.success_url,
      cancelUrl: row.cancel_url,
      createdAt: new Date(row.created_at),
      expiresAt: new Date(row.expires_at),
      completedAt: new Date(row.completed_at!),
    });
    return { status: 'complete', session, event };
  }

  /**
   * Sends the event to the webhook route as Stripe would: the exact JSON body, signed with a
   * fresh timestamp. Resolves once the route answers 2xx; DeliveryFailed otherwise.
   */
  async deliverEvent(event: CheckoutCompletedEvent): Promise<void> {
    const payload = JSON.stringify(event);
    const url = this.options.webhookUrl ?? `${this.options.publicUrl}/webhooks/stripe`;
    let res: Response;
    try {
      res = await this.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signPayload(payload, this.options.webhookSecret) },
        body: payload,
        signal: AbortSignal.timeout(this.options.deliveryTimeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new DeliveryFailed(`event ${event.id} not delivered to ${url}: ${(err as Error).message}`);
    }
    await res.body?.cancel();
    if (!res.ok) throw new DeliveryFailed(`event ${event.id} refused by ${url}: HTTP ${res.status}`);
  }

  private checkoutUrl(sessionId: string) {
    return `${this.options.publicUrl}/checkout/${sessionId}`;
  }

  private sessionFrom(r: SessionRow): LocalCheckoutSession {
    const expiresAt = new Date(r.expires_at);
    const lapsed = r.status === 'open' && expiresAt.getTime() <= this.now().getTime();
    return {
      sessionId: r.id,
      orderId: r.order_id,
      amountCents: r.amount_cents,
      currency: r.currency,
      description: r.description,
      email: r.email ?? undefined,
      successUrl: r.success_url.replaceAll('{CHECKOUT_SESSION_ID}', r.id),
      cancelUrl: r.cancel_url,
      status: lapsed ? 'expired' : r.status,
      paymentIntentId: r.payment_intent_id,
      expiresAt: expiresAt.toISOString(),
    };
  }

  /** The payment's refund if it has one; else the key's refund, which must be of this payment. */
  private async previousRefund(req: RefundRequest): Promise<RefundResult | undefined> {
    // One read of both, so a refund committed between two reads cannot look like another payment's.
    const rows = await this.db.query<RefundRow>('SELECT * FROM local_payment_refunds WHERE payment_intent_id = $1 OR idempotency_key = $2', [
      req.paymentIntentId,
      req.idempotencyKey,
    ]);
    const ofPayment = rows.find((r) => r.payment_intent_id === req.paymentIntentId);
    if (ofPayment) return refundFrom(ofPayment);
    if (rows.length) throw new PaymentRejected(`idempotency key ${req.idempotencyKey} already refunded another payment`);
    return undefined;
  }
}
