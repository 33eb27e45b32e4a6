/**
 * The simulated printer itself: its orders and webhook outbox in the database (so a restart
 * loses nothing), and the ticker that moves due orders on — fetch the PDF, then one step per
 * `stepSeconds`: accepted → in_production → shipped → delivered — and delivers the signed
 * webhooks, retrying with backoff until the receiver answers 2xx. Each tick reads only rows due
 * now through the partial `next_at` indexes, in batches, so thousands of resting orders cost
 * nothing.
 */
import { randomBytes } from 'node:crypto';
import type { Database, Queryable } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import { SIM_SIGNATURE_HEADER, signSimWebhook, type SimCreateOrder, type SimOrder, type SimStatus, type SimTracking, type SimWebhookBody } from './protocol.js';

export interface PrinterSimOptions {
  db: Database;
  /** Signs webhooks; the API key is derived from it too. */
  secret: string;
  /** Where webhooks go: the app's `/webhooks/printers/sim`. */
  webhookUrl: string;
  /** The simulator's own public base URL (`…/printer-sim`), for tracking links. */
  baseUrl: string;
  /** Pace between an order's steps (PRINTER_SIM_STEP_SECONDS). */
  stepSeconds: number;
  /** How often the ticker looks for due work; default a fifth of a step, within 20 ms–1 s. */
  tickMs?: number;
  /** Rows handled per batch. */
  batchSize?: number;
  /** Webhook redelivery backoff: base × 2^(attempt−1), capped. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Timeout of the PDF download and of each webhook delivery. */
  httpTimeoutMs?: number;
  logger?: Logger;
}

export type SimOutcome<T> = { ok: true; value: T } | { ok: false; reason: 'not_found' | 'too_late' };

/** Tries at downloading a print file before the order fails (network errors, 5xx, 429). */
const DOWNLOAD_ATTEMPTS = 3;

interface OrderRow {
  external_id: string;
  sim_id: string;
  request: SimCreateOrder;
  pdf_bytes: number | null;
  download_attempts: number;
  stage: SimStatus;
  fail_reason: string | null;
  tracking: SimTracking | null;
  created_at: Date | string;
  updated_at: Date | string;
}

interface WebhookRow {
  seq: string;
  event_id: string;
  external_id: string;
  body: string;
  attempts: number;
}

/** The next step of each moving stage (`received` is special: the PDF is fetched first). */
const NEXT: Partial<Record<SimStatus, SimStatus>> = { accepted: 'in_production', in_production: 'shipped', shipped: 'delivered' };
/** Stages a customer may still cancel in, and stages the operator may still fail. */
const CANCELLABLE: SimStatus[] = ['received', 'accepted'];
const FAILABLE: SimStatus[] = ['received', 'accepted', 'in_production'];

export const toSimOrder = (r: OrderRow): SimOrder => ({
  id: r.sim_id,
  external_id: r.external_id,
  status: r.stage,
  pdf_bytes: r.pdf_bytes,
  tracking: r.tracking,
  failure_reason: r.fail_reason,
  created_at: new Date(r.created_at).toISOString(),
  updated_at: new Date(r.updated_at).toISOString(),
});

export class PrinterSim {
  private readonly stepMs: number;
  private readonly tickMs: number;
  private readonly batchSize: number;
  private timer?: NodeJS.Timeout;
  private running = false;
  private ticking?: Promise<void>;

  constructor(private readonly opts: PrinterSimOptions) {
    this.stepMs = opts.stepSeconds * 1000;
    this.tickMs = opts.tickMs ?? Math.min(1000, Math.max(20, this.stepMs / 5));
    this.batchSize = opts.batchSize ?? 100;
  }

  /** Starts the ticker (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops the ticker and waits for a tick in flight. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.ticking;
  }

  /** Asks for a tick soon (new work arrived), without waiting for the interval. */
  wake(): void {
    if (this.running && !this.ticking) this.schedule(0);
  }

  /** One pass over due work, batch after batch until nothing is due; returns rows handled. */
  async tick(): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < 50; batch++) {
      const handled = (await this.advanceDue()) + (await this.deliverDue());
      total += handled;
      if (handled === 0) break;
    }
    return total;
  }

  // --- the API's operations -------------------------------------------------------------

  /** Creates the order, or returns the one with this external id (`created: false`). */
  async create(request: SimCreateOrder): Promise<{ order: SimOrder; created: boolean }> {
    const [row] = await this.opts.db.query<OrderRow>(
      `INSERT INTO printer_sim_orders (external_id, sim_id, request, stage, next_at) VALUES ($1, $2, $3, 'received', $4)
       ON CONFLICT (external_id) DO NOTHING RETURNING *`,
      [request.external_id, `sim_${randomBytes(9).toString('base64url')}`, JSON.stringify(request), new Date()],
    );
    if (row) {
      this.wake();
      return { order: toSimOrder(row), created: true };
    }
    return { order: (await this.get(request.external_id))!, created: false };
  }

  async get(externalId: string): Promise<SimOrder | undefined> {
    const [row] = await this.opts.db.query<OrderRow>('SELECT * FROM printer_sim_orders WHERE external_id = $1', [externalId]);
    return row && toSimOrder(row);
  }

  /** Cancels before production; cancelling a cancelled order again changes nothing. */
  cancel(externalId: string): Promise<SimOutcome<SimOrder>> {
    return this.end(externalId, 'cancelled', CANCELLABLE, null);
  }

  /** The operator's "this one failed to print"; failing a failed order again changes nothing. */
  fail(externalId: string, reason: string): Promise<SimOutcome<SimOrder>> {
    return this.end(externalId, 'failed', FAILABLE, reason);
  }

  private async end(externalId: string, stage: 'cancelled' | 'failed', from: SimStatus[], reason: string | null): Promise<SimOutcome<SimOrder>> {
    const moved = await this.opts.db.transaction(async (tx) => {
      const [row] = await tx.query<OrderRow>(
        `UPDATE printer_sim_orders SET stage = $2, fail_reason = $3, next_at = NULL, updated_at = now()
         WHERE external_id = $1 AND stage = ANY($4::text[]) RETURNING *`,
        [externalId, stage, reason, from],
      );
      if (row) await this.enqueue(tx, row);
      return row;
    });
    if (moved) {
      this.wake();
      return { ok: true, value: toSimOrder(moved) };
    }
    const order = await this.get(externalId);
    if (!order) return { ok: false, reason: 'not_found' };
    return order.status === stage ? { ok: true, value: order } : { ok: false, reason: 'too_late' };
  }

  // --- the ticker -------------------------------------------------------------------------

  private schedule(ms: number) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.ticking = this.tick()
        .then(
          () => undefined,
          (err: Error) => this.opts.logger?.error('printer simulator tick failed', { error: err.message }),
        )
        .finally(() => {
          this.ticking = undefined;
          if (this.running) this.schedule(this.tickMs);
        });
    }, ms);
    this.timer.unref();
  }

  private async advanceDue(): Promise<number> {
    const rows = await this.opts.db.query<OrderRow>(
      'SELECT * FROM printer_sim_orders WHERE next_at <= $1 ORDER BY next_at LIMIT $2',
      [new Date(), this.batchSize],
    );
    await this.settleAll(rows.map((row) => this.advance(row)));
    return rows.length;
  }

  /** Waits for every one (so a failure cannot end a tick while others still run), logging failures. */
  private async settleAll(work: Promise<void>[]): Promise<void> {
    for (const r of await Promise.allSettled(work)) {
      if (r.status === 'rejected') this.opts.logger?.error('printer simulator step failed; it is retried next tick', { error: String(r.reason) });
    }
  }

  private async advance(row: OrderRow): Promise<void> {
    let to: SimStatus;
    const set: { pdf_bytes?: number; fail_reason?: string; tracking?: SimTracking } = {};
    if (row.stage === 'received') {
      const pdf = await this.download(row.request.file_url);
      if ('bytes' in pdf) {
        to = 'accepted';
        set.pdf_bytes = pdf.bytes;
      } else if (pdf.transient && row.download_attempts + 1 < DOWNLOAD_ATTEMPTS) {
        // The shop's server restarting, say: try again shortly, as a real printer would.
        await this.opts.db.query(
          "UPDATE printer_sim_orders SET download_attempts = download_attempts + 1, next_at = $2 WHERE external_id = $1 AND stage = 'received'",
          [row.external_id, new Date(Date.now() + Math.min(this.stepMs, 1000 * 2 ** row.download_attempts))],
        );
        return;
      } else {
        to = 'failed';
        set.fail_reason = pdf.error;
      }
    } else {
      to = NEXT[row.stage]!;
      if (to === 'shipped') {
        const number = `SIM${randomBytes(6).readUIntBE(0, 6).toString().padStart(15, '0')}`;
        set.tracking = { carrier: 'SimPost', number, url: `${this.opts.baseUrl}/tracking/${number}` };
      }
    }
    const resting = to === 'delivered' || to === 'failed';
    await this.opts.db.transaction(async (tx) => {
      // Conditional on the stage read: a cancel or fail that came in meanwhile wins.
      const [moved] = await tx.query<OrderRow>(
        `UPDATE printer_sim_orders
           SET stage = $3, next_at = $4, updated_at = now(),
               pdf_bytes = COALESCE($5, pdf_bytes), fail_reason = COALESCE($6, fail_reason), tracking = COALESCE($7::jsonb, tracking)
         WHERE external_id = $1 AND stage = $2 RETURNING *`,
        [
          row.external_id,
          row.stage,
          to,
          resting ? null : new Date(Date.now() + this.stepMs),
          set.pdf_bytes ?? null,
          set.fail_reason ?? null,
          set.tracking ? JSON.stringify(set.tracking) : null,
        ],
      );
      if (moved) await this.enqueue(tx, moved);
    });
  }

  /** The print file's size, or why not; `transient` failures (network, 5xx, 429) are worth another try. */
  private async download(url: string): Promise<{ bytes: number } | { error: string; transient: boolean }> {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.opts.httpTimeoutMs ?? 30_000) });
      if (!res.ok) {
        await res.body?.cancel();
        return { error: `could not download the print file: HTTP ${res.status}`, transient: res.status >= 500 || res.status === 429 };
      }
      const data = Buffer.from(await res.arrayBuffer());
      if (data.subarray(0, 5).toString('latin1') !== '%PDF-') return { error: 'the print file is not a PDF', transient: false };
      return { bytes: data.length };
    } catch (err) {
      return { error: `could not download the print file: ${(err as Error).message}`, transient: true };
    }
  }

  /** Queues the webhook of the stage `order` just reached; it goes out after the ones before it. */
  private async enqueue(tx: Queryable, row: OrderRow): Promise<void> {
    const order = toSimOrder(row);
    const body: SimWebhookBody = { id: `evt_${randomBytes(12).toString('base64url')}`, type: `order.${order.status}`, created_at: order.updated_at, order };
    await tx.query('INSERT INTO printer_sim_webhooks (event_id, external_id, body, next_at) VALUES ($1, $2, $3, $4)', [
      body.id,
      row.external_id,
      JSON.stringify(body),
      new Date(),
    ]);
  }

  /** Due webhooks, at most the oldest undelivered one of each order (so each order's go out in order). */
  private async deliverDue(): Promise<number> {
    const rows = await this.opts.db.query<WebhookRow>(
      `SELECT w.seq, w.event_id, w.external_id, w.body, w.attempts FROM printer_sim_webhooks w
       WHERE w.next_at <= $1
         AND NOT EXISTS (SELECT 1 FROM printer_sim_webhooks e WHERE e.external_id = w.external_id AND e.next_at IS NOT NULL AND e.seq < w.seq)
       ORDER BY w.next_at LIMIT $2`,
      [new Date(), this.batchSize],
    );
    await this.settleAll(rows.map((row) => this.deliver(row)));
    return rows.length;
  }

  private async deliver(row: WebhookRow): Promise<void> {
    let error: string | undefined;
    try {
      const res = await fetch(this.opts.webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIM_SIGNATURE_HEADER]: signSimWebhook(this.opts.secret, row.body, Math.floor(Date.now() / 1000)),
        },
        body: row.body,
        signal: AbortSignal.timeout(this.opts.httpTimeoutMs ?? 10_000),
      });
      await res.body?.cancel();
      if (!res.ok) error = `HTTP ${res.status}`;
    } catch (err) {
      error = (err as Error).message;
    }
    if (!error) {
      await this.opts.db.query('UPDATE printer_sim_webhooks SET attempts = attempts + 1, next_at = NULL, delivered_at = now(), last_error = NULL WHERE seq = $1', [row.seq]);
      return;
    }
    const attempts = row.attempts + 1;
    const delay = Math.min((this.opts.retryBaseMs ?? 1000) * 2 ** (attempts - 1), this.opts.retryMaxMs ?? 10 * 60_000);
    this.opts.logger?.warn('printer simulator webhook not delivered; will retry', { eventId: row.event_id, attempts, error });
    await this.opts.db.query('UPDATE printer_sim_webhooks SET attempts = $2, next_at = $3, last_error = $4 WHERE seq = $1', [
      row.seq,
      attempts,
      new Date(Date.now() + delay),
      error,
    ]);
  }
}
