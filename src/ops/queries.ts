/**
 * What the operator console reads (`/ops`, `/ops/api/…`): the records the workflows keep in the
 * database (orders, emails sent, alerts, operator actions), never Temporal, so the console answers
 * for every order whatever Temporal still remembers and while the workers are down. Read only.
 * The order's access-token hash is never selected.
 */
import { ANIMATION_ID } from '../animations/repository.js';
import type { Database } from '../db/database.js';
import { sentEmailFromRow, type SentEmail, type SentEmailRow } from '../email/sent-emails.js';
import type { Product } from '../orders/product.js';
import { ORDER_ID, orderFromRow, type OrderRecord, type OrderRow } from '../orders/repository.js';
import type { Tracking } from '../print-adapters/port.js';
import { ORDER_STATUSES, type OrderRefund, type OrderStatus, type TimelineEntry } from '../workflows/sticker-order/api.js';
import type { OpsActionKind, OpsActionResult } from './port.js';


/**
 * Statuses an order cannot be stuck in: it has ended, waits on the shopper, or is with the carrier
 * (the workflow's stall alert is the printer's too: once shipped it waits up to 30 days).
 */
const RESTING: OrderStatus[] = ['delivered', 'failed', 'cancelled', 'awaiting_payment', 'shipped'];

export const MAX_LIMIT = 200;

/** One line of an order list: what a table of orders shows. */
export interface OrderSummary {
  id: string;
  animationId: string;
  email: string;
  /** As its workflow last recorded it; undefined before the first record. */
  status?: OrderStatus;
  amountCents: number;
  currency: string;
  printerId: string;
  createdAt: string;
  updatedAt?: string;
  reprintOf: string | null;
  product?: Product;
  shipName?: string;
  shipCountry?: string;
  refund?: OrderRefund;
  tracking?: Tracking;
  error?: string;
  /** The newest line of its timeline. */
  lastEvent?: TimelineEntry;
}

export interface OrderPage {
  orders: OrderSummary[];
  /** Pass as `cursor` for the next page; undefined on the last one. */
  nextCursor?: string;
}

export interface OrderFilter {
  status?: OrderStatus;
  /**
   * An order id, an animation id or an email (exact, any case); anything else is looked for as a
   * payment, checkout session, printer order or tracking number, or in the shipping name.
   */
  q?: string;
  limit?: number;
  /** The id of the last order of the page before (newest first). */
  cursor?: string;
}

export interface AlertRow {
  id: number;
  title: string;
  failedStep: string;
  error: string;
  refund?: string;
  workflowId?: string;
  reference?: string;
  createdAt: string;
}

export interface OpsActionRow {
  requestId: string;
  action: OpsActionKind;
  orderId: string;
  actor: string;
  reason?: string;
  /** Unset while it is being carried out. */
  result?: OpsActionResult;
  createdAt: string;
}

export interface OpsOrder extends OrderRecord {
  status?: OrderStatus;
  updatedAt?: string;
}

export interface OrderDetail {
  order: OpsOrder;
  /** Oldest first. */
  emails: SentEmail[];
  /** Newest first. */
  alerts: AlertRow[];
  /** What operators did to it, newest first. */
  operatorActions: OpsActionRow[];
  /** Orders that reprint this one, oldest first. */
  reprints: OrderSummary[];
  /** The order this one reprints. */
  reprintOf?: OrderSummary;
}

export interface StatusCounts {
  byStatus: Record<OrderStatus, number>;
  /** Orders whose workflow has recorded nothing yet. */
  unrecorded: number;
  total: number;
}

export interface Dashboard {
  counts: StatusCounts;
  stuck: OrderSummary[];
  refundProblems: OrderSummary[];
  alerts: AlertRow[];
  emails: SentEmail[];
}

interface SummaryRow {
  id: string;
  animation_id: string;
  email: string;
  status: OrderStatus | null;
  amount_cents: number;
  currency: string;
  printer_id: string;
  created_at: Date | string;
  updated_at: Date | string | null;
  reprint_of: string | null;
  product: Product | string | null;
  ship_name: string | null;
  ship_country: string | null;
  refund: OrderRefund | string | null;
  tracking: Tracking | string | null;
  error: string | null;
  last_event: TimelineEntry | string | null;
}

/** The columns of an order list, by name: never `*`, which would carry the token's hash. */
const SUMMARY_COLUMNS = `id, animation_id, email, status, amount_cents, currency, printer_id, created_at, updated_at, reprint_of,
  record->'product' AS product, record->'shipping'->>'name' AS ship_name, record->'shipping'->>'country' AS ship_country,
  record->'refund' AS refund, record->'tracking' AS tracking, record->>'error' AS error, record->'timeline'-> -1 AS last_event`;

const DETAIL_COLUMNS = `id, animation_id, email, printer_id, payment_provider, checkout_session_id, amount_cents, currency,
  created_at, reprint_of, status, record, updated_at`;

/** JSONB arrives parsed from PostgreSQL and PGlite alike, but as text through some drivers' settings. */
const json = <T>(v: T | string | null | undefined): T | undefined => (typeof v === 'string' ? (JSON.parse(v) as T) : (v ?? undefined));
const iso = (d: Date | string) => new Date(d).toISOString();
const isoOrUndefined = (d: Date | string | null | undefined) => (d ? iso(d) : undefined);

const fromSummary = (r: SummaryRow): OrderSummary => ({
  id: r.id,
  animationId: r.animation_id,
  email: r.email,
  status: r.status ?? undefined,
  amountCents: r.amount_cents,
  currency: r.currency,
  printerId: r.printer_id,
  createdAt: iso(r.created_at),
  updatedAt: isoOrUndefined(r.updated_at),
  reprintOf: r.reprint_of,
  product: json(r.product),
  shipName: r.ship_name ?? undefined,
  shipCountry: r.ship_country ?? undefined,
  refund: json(r.refund),
  tracking: json(r.tracking),
  error: r.error ?? undefined,
  lastEvent: json(r.last_event),
});

interface AlertDbRow {
  id: string | number;
  title: string;
  failed_step: string;
  error: string;
  refund: string | null;
  workflow_id: string | null;
  reference: string | null;
  created_at: Date | string;
}

const fromAlert = (r: AlertDbRow): AlertRow => ({
  id: Number(r.id),
  title: r.title,
  failedStep: r.failed_step,
  error: r.error,
  refund: r.refund ?? undefined,
  workflowId: r.workflow_id ?? undefined,
  reference: r.reference ?? undefined,
  createdAt: iso(r.created_at),
});

const clampLimit = (limit: number | undefined, fallback: number) => Math.min(Math.max(Math.trunc(limit ?? fallback), 1), MAX_LIMIT);

/** `%`, `_` and `\` taken literally in a LIKE pattern. */
const likeLiteral = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export class OpsQueries {
  constructor(private readonly db: Database) {}

  /** How many orders are in each status (every status listed, zero or not). */
  async counts(): Promise<StatusCounts> {
    const rows = await this.db.query<{ status: OrderStatus | null; count: string | number }>(
      'SELECT status, count(*) AS count FROM orders GROUP BY status',
    );
    const byStatus = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>;
    let unrecorded = 0;
    let total = 0;
    for (const r of rows) {
      const n = Number(r.count);
      total += n;
      if (r.status === null) unrecorded += n;
      else if (r.status in byStatus) byStatus[r.status] += n;
    }
    return { byStatus, unrecorded, total };
  }

  /** Orders, newest first, by status and/or search (OrderFilter), a page at a time (keyset on the last id). */
  async orders(filter: OrderFilter = {}): Promise<OrderPage> {
    const limit = clampLimit(filter.limit, 50);
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (v: unknown) => `$${params.push(v)}`;
    if (filter.status) where.push(`status = ${param(filter.status)}`);
    const q = filter.q?.trim();
    if (q) where.push(searchCondition(q, param));
    if (filter.cursor) {
      // The cursor's own (created_at, id), read in SQL: no timestamp makes a round trip through JS's milliseconds.
      const c = param(filter.cursor);
      where.push(`(created_at, id) < (SELECT created_at, id FROM orders WHERE id = ${c})`);
    }
    const rows = await this.db.query<SummaryRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM orders ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT ${param(limit + 1)}`,
      params,
    );
    const orders = rows.slice(0, limit).map(fromSummary);
    return { orders, nextCursor: rows.length > limit ? orders.at(-1)!.id : undefined };
  }

  /**
   * Orders that should be moving and have not for `stallAfterMs`: not resting (delivered, failed,
   * cancelled, awaiting payment) and no record written since. Longest stuck first.
   */
  async stuck(stallAfterMs: number, limit = 50): Promise<OrderSummary[]> {
    const rows = await this.db.query<SummaryRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM orders
       WHERE status IS NOT NULL AND NOT (status = ANY($1::text[])) AND updated_at < now() - ($2::float8 * interval '1 millisecond')
       ORDER BY updated_at, id LIMIT $3`,
      [RESTING, stallAfterMs, clampLimit(limit, 50)],
    );
    return rows.map(fromSummary);
  }

  /** Orders whose refund failed or has not gone through yet, most recently changed first. */
  async refundProblems(limit = 50): Promise<OrderSummary[]> {
    const rows = await this.db.query<SummaryRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM orders WHERE record->'refund'->>'status' IN ('failed', 'pending')
       ORDER BY updated_at DESC NULLS LAST, id LIMIT $1`,
      [clampLimit(limit, 50)],
    );
    return rows.map(fromSummary);
  }

  /** Alerts, newest first; `cursor`: the id of the last alert of the page before. */
  async alerts(opts: { limit?: number; cursor?: number } = {}): Promise<{ alerts: AlertRow[]; nextCursor?: number }> {
    const limit = clampLimit(opts.limit, 50);
    const rows = await this.db.query<AlertDbRow>(
      // By when it happened (an alert's time is the workflow's, which a retried write may record late), then id.
      `SELECT * FROM alerts
       WHERE $1::bigint IS NULL OR (created_at, id) < (SELECT created_at, id FROM alerts WHERE id = $1::bigint)
       ORDER BY created_at DESC, id DESC LIMIT $2`,
      [opts.cursor ?? null, limit + 1],
    );
    const alerts = rows.slice(0, limit).map(fromAlert);
    return { alerts, nextCursor: rows.length > limit ? alerts.at(-1)!.id : undefined };
  }

  /** Emails sent to shoppers, newest first; `cursor`: the idempotency key of the last one of the page before. */
  async emails(opts: { limit?: number; cursor?: string } = {}): Promise<{ emails: SentEmail[]; nextCursor?: string }> {
    const limit = clampLimit(opts.limit, 50);
    const rows = await this.db.query<SentEmailRow>(
      `SELECT * FROM emails_sent
       WHERE $1::text IS NULL OR (created_at, idempotency_key) < (SELECT created_at, idempotency_key FROM emails_sent WHERE idempotency_key = $1::text)
       ORDER BY created_at DESC, idempotency_key DESC LIMIT $2`,
      [opts.cursor ?? null, limit + 1],
    );
    const emails = rows.slice(0, limit).map(sentEmailFromRow);
    return { emails, nextCursor: rows.length > limit ? emails.at(-1)!.idempotencyKey : undefined };
  }

  /** The outbox file an email was written to, by its idempotency key; undefined for SMTP or unknown keys. */
  async outboxFileOf(idempotencyKey: string): Promise<string | undefined> {
    const [row] = await this.db.query<{ outbox_file: string | null }>(
      `SELECT outbox_file FROM emails_sent WHERE idempotency_key = $1 AND transport = 'outbox' AND outbox_file IS NOT NULL`,
      [idempotencyKey],
    );
    return row?.outbox_file ?? undefined;
  }

  /** The dashboard: counts, what needs attention, and what happened last. */
  async dashboard(stallAfterMs: number, limit = 10): Promise<Dashboard> {
    const [counts, stuck, refundProblems, alerts, emails] = await Promise.all([
      this.counts(),
      this.stuck(stallAfterMs, limit),
      this.refundProblems(limit),
      this.alerts({ limit }),
      this.emails({ limit }),
    ]);
    return { counts, stuck, refundProblems, alerts: alerts.alerts, emails: emails.emails };
  }

  async exists(id: string): Promise<boolean> {
    return ORDER_ID.test(id) && (await this.db.query('SELECT 1 FROM orders WHERE id = $1', [id])).length > 0;
  }

  /** Everything about one order; undefined when there is no such order. */
  async order(id: string): Promise<OrderDetail | undefined> {
    if (!ORDER_ID.test(id)) return undefined;
    const [row] = await this.db.query<DetailRow>(`SELECT ${DETAIL_COLUMNS} FROM orders WHERE id = $1`, [id]);
    if (!row) return undefined;
    const order = fromDetail(row);
    const [emails, alerts, actions, reprints, original] = await Promise.all([
      this.db.query<SentEmailRow>('SELECT * FROM emails_sent WHERE reference = $1 ORDER BY created_at, idempotency_key', [id]),
      this.db.query<AlertDbRow>('SELECT * FROM alerts WHERE reference = $1 ORDER BY created_at DESC, id DESC LIMIT 100', [id]),
      this.db.query<ActionRow>('SELECT * FROM ops_actions WHERE order_id = $1 ORDER BY created_at DESC, request_id', [id]),
      this.db.query<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM orders WHERE reprint_of = $1 ORDER BY created_at, id`, [id]),
      order.reprintOf ? this.db.query<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM orders WHERE id = $1`, [order.reprintOf]) : Promise.resolve([]),
    ]);
    return {
      order,
      emails: emails.map(sentEmailFromRow),
      alerts: alerts.map(fromAlert),
      operatorActions: actions.map(fromAction),
      reprints: reprints.map(fromSummary),
      reprintOf: original[0] && fromSummary(original[0]),
    };
  }
}

/**
 * Which orders `q` finds: by its shape an order id, an animation id or an email address (any
 * case); else the ids support is given by shoppers and vendors (payment, checkout session,
 * printer order, tracking number) or a part of the shipping name.
 */
function searchCondition(q: string, param: (v: unknown) => string): string {
  if (ORDER_ID.test(q)) return `id = ${param(q)}`;
  if (ANIMATION_ID.test(q)) return `animation_id = ${param(q)}`;
  if (q.includes('@')) return `lower(email) = ${param(q.toLowerCase())}`;
  const p = param(q);
  return `(checkout_session_id = ${p} OR record->'payment'->>'paymentIntentId' = ${p} OR record->>'vendorOrderId' = ${p}
    OR record->'tracking'->>'number' = ${p} OR record->'shipping'->>'name' ILIKE ${param(`%${likeLiteral(q)}%`)})`;
}

type DetailRow = OrderRow & { status: OrderStatus | null; updated_at: Date | string | null };

const fromDetail = (r: DetailRow): OpsOrder => ({ ...orderFromRow(r), status: r.status ?? undefined, updatedAt: isoOrUndefined(r.updated_at) });

interface ActionRow {
  request_id: string;
  action: OpsActionKind;
  order_id: string;
  actor: string;
  reason: string | null;
  result: OpsActionResult | string | null;
  created_at: Date | string;
}

const fromAction = (r: ActionRow): OpsActionRow => ({
  requestId: r.request_id,
  action: r.action,
  orderId: r.order_id,
  actor: r.actor,
  reason: r.reason ?? undefined,
  result: json(r.result),
  createdAt: iso(r.created_at),
});
