/**
 * The credit_purchases table: one row per pack checkout. The API makes the row and looks it up
 * for the webhook and the customer's return; the purchase's workflow marks it fulfilled. The
 * credits themselves move only in the ledger.
 */
import { randomId } from '../customers/customers.js';
import type { Database } from '../db/database.js';
import type { CreditPack } from './packs.js';

export const PURCHASE_ID = /^cp_[A-Za-z0-9_-]{22}$/;

export interface CreditPurchase {
  id: string;
  customerId: string;
  pack: string;
  credits: number;
  amountCents: number;
  currency: string;
  paymentProvider: string;
  checkoutSessionId: string | null;
  checkoutExpiresAt: string | null;
  paymentIntentId: string | null;
  fulfilledAt: string | null;
  createdAt: string;
}

interface Row {
  id: string;
  customer_id: string;
  pack: string;
  credits: number;
  amount_cents: number;
  currency: string;
  payment_provider: string;
  checkout_session_id: string | null;
  checkout_expires_at: Date | string | null;
  payment_intent_id: string | null;
  fulfilled_at: Date | string | null;
  created_at: Date | string;
}

const fromRow = (r: Row): CreditPurchase => ({
  id: r.id,
  customerId: r.customer_id,
  pack: r.pack,
  credits: r.credits,
  amountCents: r.amount_cents,
  currency: r.currency,
  paymentProvider: r.payment_provider,
  checkoutSessionId: r.checkout_session_id,
  checkoutExpiresAt: r.checkout_expires_at ? new Date(r.checkout_expires_at).toISOString() : null,
  paymentIntentId: r.payment_intent_id,
  fulfilledAt: r.fulfilled_at ? new Date(r.fulfilled_at).toISOString() : null,
  createdAt: new Date(r.created_at).toISOString(),
});

export class CreditPurchases {
  constructor(private readonly db: Database) {}

  async create(customerId: string, pack: CreditPack, paymentProvider: string): Promise<CreditPurchase> {
    const [row] = await this.db.query<Row>(
      `INSERT INTO credit_purchases (id, customer_id, pack, credits, amount_cents, currency, payment_provider)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [randomId('cp_'), customerId, pack.id, pack.credits, pack.priceCents, pack.currency, paymentProvider],
    );
    return fromRow(row!);
  }

  async setCheckoutSession(id: string, sessionId: string, expiresAt: string): Promise<void> {
    await this.db.query('UPDATE credit_purchases SET checkout_session_id = $2, checkout_expires_at = $3 WHERE id = $1', [id, sessionId, expiresAt]);
  }

  async get(id: string): Promise<CreditPurchase | undefined> {
    if (!PURCHASE_ID.test(id)) return undefined;
    const [row] = await this.db.query<Row>('SELECT * FROM credit_purchases WHERE id = $1', [id]);
    return row && fromRow(row);
  }

  async byPaymentIntent(paymentIntentId: string): Promise<CreditPurchase | undefined> {
    const [row] = await this.db.query<Row>('SELECT * FROM credit_purchases WHERE payment_intent_id = $1', [paymentIntentId]);
    return row && fromRow(row);
  }

  /**
   * Records the purchase's payment as soon as it is handed over (the first one stays), so a
   * refund of it finds the purchase even before the credits are added.
   */
  async recordPayment(id: string, paymentIntentId: string): Promise<void> {
    await this.db.query('UPDATE credit_purchases SET payment_intent_id = $2 WHERE id = $1 AND payment_intent_id IS NULL', [id, paymentIntentId]);
  }

  /** Records that the credits were added for the payment. */
  async markFulfilled(id: string, paymentIntentId: string): Promise<void> {
    await this.recordPayment(id, paymentIntentId);
    await this.db.query('UPDATE credit_purchases SET fulfilled_at = now() WHERE id = $1 AND fulfilled_at IS NULL', [id]);
  }

  /** Removes a purchase that never got its workflow (a failed start), so nothing half-made stays. */
  async delete(id: string): Promise<void> {
    await this.db.query('DELETE FROM credit_purchases WHERE id = $1', [id]);
  }
}
