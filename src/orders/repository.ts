/**
 * The orders table: ids, the hashed access token, and what the API and the webhook routes must
 * know before they ask the order's workflow anything (its printer, its checkout session).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { randomId } from '../customers/customers.js';
import type { Database } from '../db/database.js';
import type { OrderAccessTokens } from './access-token.js';
import type { OrderRefund, OrderView, TimelineEntry } from '../workflows/sticker-order/api.js';

/** Where an order's files live in the blob store: `orders/<id>/<name>`. */
export const orderKey = (orderId: string, name: string) => `orders/${orderId}/${name}`;

export const ORDER_ID = /^or_[A-Za-z0-9_-]{22}$/;

export interface OrderRecord {
  id: string;
  animationId: string;
  email: string;
  printerId: string;
  paymentProvider: string;
  checkoutSessionId: string | null;
  amountCents: number;
  currency: string;
  createdAt: string;
  /** The order this one reprints (for no payment). */
  reprintOf: string | null;
  /** The order as its workflow last recorded it; undefined for orders from before records. */
  view?: OrderView;
}

/** An order's columns but its token's hash (the operator console reads them too). */
export interface OrderRow {
  id: string;
  animation_id: string;
  email: string;
  printer_id: string;
  payment_provider: string;
  checkout_session_id: string | null;
  amount_cents: number;
  currency: string;
  created_at: Date | string;
  reprint_of: string | null;
  record: OrderView | string | null;
}

type Row = OrderRow & { access_token_sha256: string };

export const orderFromRow = (r: OrderRow): OrderRecord => ({
  id: r.id,
  animationId: r.animation_id,
  email: r.email,
  printerId: r.printer_id,
  paymentProvider: r.payment_provider,
  checkoutSessionId: r.checkout_session_id,
  amountCents: r.amount_cents,
  currency: r.currency,
  createdAt: new Date(r.created_at).toISOString(),
  reprintOf: r.reprint_of ?? null,
  view: typeof r.record === 'string' ? (JSON.parse(r.record) as OrderView) : (r.record ?? undefined),
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface NewOrder {
  animationId: string;
  email: string;
  printerId: string;
  paymentProvider: string;
  amountCents: number;
  currency: string;
  /** A reprint: the order whose art and address it prints again, for no payment. */
  reprintOf?: string;
}

export class OrderRepository {
  constructor(
    private readonly db: Database,
    /** Derives each order's access token (access-token.ts); only its hash is stored. */
    readonly tokens: OrderAccessTokens,
  ) {}

  /** A new order with a fresh id and its access token; only the token's hash is stored. */
  async create(order: NewOrder): Promise<{ record: OrderRecord; accessToken: string }> {
    const id = randomId('or_');
    const accessToken = this.tokens.tokenFor(id);
    const [row] = await this.db.query<Row>(
      `INSERT INTO orders (id, animation_id, access_token_sha256, email, printer_id, payment_provider, amount_cents, currency, reprint_of)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
      [id, order.animationId, sha256(accessToken), order.email, order.printerId, order.paymentProvider, order.amountCents, order.currency, order.reprintOf ?? null],
    );
    return { record: orderFromRow(row!), accessToken };
  }

  /** The order's access token when `tokens` still derives it (not for orders from before derived tokens). */
  async accessTokenOf(id: string): Promise<string | undefined> {
    const token = this.tokens.tokenFor(id);
    return (await this.getWithToken(id, token)) ? token : undefined;
  }

  async setCheckoutSession(orderId: string, sessionId: string): Promise<void> {
    await this.db.query('UPDATE orders SET checkout_session_id = $2 WHERE id = $1', [orderId, sessionId]);
  }

  async get(id: string): Promise<OrderRecord | undefined> {
    if (!ORDER_ID.test(id)) return undefined;
    const [row] = await this.db.query<Row>('SELECT * FROM orders WHERE id = $1', [id]);
    return row && orderFromRow(row);
  }

  /** The order, only when `accessToken` is its token (compared in constant time). */
  async getWithToken(id: string, accessToken: string | undefined): Promise<OrderRecord | undefined> {
    if (!accessToken || !ORDER_ID.test(id)) return undefined;
    const [row] = await this.db.query<Row>('SELECT * FROM orders WHERE id = $1', [id]);
    if (!row) return undefined;
    const given = Buffer.from(sha256(accessToken), 'hex');
    const stored = Buffer.from(row.access_token_sha256, 'hex');
    return given.length === stored.length && timingSafeEqual(given, stored) ? orderFromRow(row) : undefined;
  }

  /** Writes the workflow's view of the order unless a later one (higher `seq`) is there already. */
  async saveView(id: string, seq: number, view: OrderView): Promise<void> {
    await this.db.query(
      `UPDATE orders SET status = $2, record = $3, record_seq = $4, updated_at = now() WHERE id = $1 AND record_seq < $4`,
      [id, view.status, JSON.stringify(view), seq],
    );
  }

  /**
   * Adds a refund made after the order's workflow ended (by an operator) to its record: the
   * refund, and a line on its timeline. Only for orders with a record; the workflow writes no more.
   */
  async noteRefund(id: string, refund: OrderRefund, entry: TimelineEntry): Promise<void> {
    await this.db.query(
      `UPDATE orders SET record = jsonb_set(jsonb_set(record, '{refund}', $2::jsonb), '{timeline}', (record->'timeline') || $3::jsonb),
         updated_at = now() WHERE id = $1 AND record IS NOT NULL`,
      [id, JSON.stringify(refund), JSON.stringify([entry])],
    );
  }

  /** How many orders are in each recorded status (orders from before records are not counted). */
  async countByStatus(): Promise<{ status: string; count: number }[]> {
    const rows = await this.db.query<{ status: string; count: string | number }>(
      'SELECT status, count(*) AS count FROM orders WHERE status IS NOT NULL GROUP BY status',
    );
    return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
  }

  /** Removes an order that never got its workflow (a failed start), so nothing half-made stays. */
  async delete(id: string): Promise<void> {
    await this.db.query('DELETE FROM orders WHERE id = $1', [id]);
  }
}

/** Webhook events already acted on: a delivery seen before is acknowledged and ignored. */
export class WebhookEvents {
  constructor(private readonly db: Database) {}

  async seen(source: string, eventId: string): Promise<boolean> {
    const rows = await this.db.query('SELECT 1 FROM webhook_events WHERE source = $1 AND event_id = $2', [source, eventId]);
    return rows.length > 0;
  }

  /** Records the event once acted on; true when this call recorded it (false: seen before). */
  async record(source: string, eventId: string): Promise<boolean> {
    const rows = await this.db.query(
      'INSERT INTO webhook_events (source, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1',
      [source, eventId],
    );
    return rows.length > 0;
  }
}
