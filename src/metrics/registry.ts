/**
 * The app's own metrics, in one prom-client registry per process, served with the Temporal SDK's
 * at `GET /metrics` (`./server.ts`). Counters live here, at module level, so the places that
 * count (webhook routes, rate limits, refund activities, the email sender, animation steps) need
 * one line and no new dependency; a process has one scrape target, so it has one set of counters.
 *
 * Labels name things we chose in code (a route's pattern, a printer id we configured, an error
 * code), never what a request wrote (a raw path, an id, an address) and never personal data, so
 * the series stay few however many shoppers come.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();

export const webhooks = new Counter({
  name: 'stickerflow_webhooks_total',
  help: 'Webhook deliveries by source (stripe, printer:<id>) and outcome (accepted, refused, failed); refusals and failures carry the error code as reason',
  labelNames: ['source', 'outcome', 'reason'] as const,
  registers: [registry],
});

export const refunds = new Counter({
  name: 'stickerflow_refunds_total',
  help: 'Refund activities by kind (payment: money through the payment provider; credits: a charge given back in the ledger) and outcome (refunded, pending, nothing_charged, failed: one per failed attempt)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});

export const creditRevokes = new Counter({
  name: 'stickerflow_credit_revokes_total',
  help: "Credits of a refunded pack taken back, by outcome (revoked; shortfall: some were spent already; nothing_granted; failed: one per failed attempt)",
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const rateLimited = new Counter({
  name: 'stickerflow_rate_limited_total',
  help: 'Requests past a per-client limit (refused with 429, or for checkout returns let through without asking the provider), by limit',
  labelNames: ['limit'] as const,
  registers: [registry],
});

export const httpRequests = new Counter({
  name: 'stickerflow_http_requests_total',
  help: "Requests to the public app by method, route pattern (the router's, never the raw path; 'unmatched' for none) and status",
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: 'stickerflow_http_request_duration_seconds',
  help: 'Time to answer a request to the public app (until the handler returns: a streamed body such as server-sent events goes on after)',
  labelNames: ['method', 'route'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const emails = new Counter({
  name: 'stickerflow_emails_total',
  help: 'Emails to shoppers by kind, transport (smtp, outbox) and outcome (sent; already_sent: an earlier attempt had, nothing went out; duplicate: sent after an attempt whose outcome is unknown, the shopper may have two copies; refused: can never go; in_flight: another attempt holds the message, retried later; failed: one per attempt that did not send and is retried)',
  labelNames: ['kind', 'transport', 'outcome'] as const,
  registers: [registry],
});

export const animationStepDuration = new Histogram({
  name: 'stickerflow_animation_step_duration_seconds',
  help: "Time an animation step's attempt took, by step (the activity's name), backend (the model back end's name; media for the steps that run here) and outcome (ok, error, cancelled)",
  labelNames: ['step', 'backend', 'outcome'] as const,
  // From a poster (a tenth of a second) to a model call or a poll of a job (minutes).
  buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 180, 300],
  registers: [registry],
});

/** The model providers whose slots this process reports, read from the database at each scrape. */
const slotSources = new Set<{ provider: string; limit: number; inUse: () => Promise<number> }>();

new Gauge({
  name: 'stickerflow_provider_slots_in_use',
  help: 'Animation jobs holding a provider slot, cluster-wide (read from the shared table at scrape time: every worker reports the same number, so take max, not sum)',
  labelNames: ['provider'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const source of slotSources) {
      // A database that does not answer leaves the series out of this scrape rather than failing it.
      const n = await source.inUse().catch(() => undefined);
      if (n !== undefined) this.set({ provider: source.provider }, n);
    }
  },
});

new Gauge({
  name: 'stickerflow_provider_slots_limit',
  help: 'Provider slots allowed cluster-wide (PROVIDER_CONCURRENCY)',
  labelNames: ['provider'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const source of slotSources) this.set({ provider: source.provider }, source.limit);
  },
});

/** Where the order counts come from: the orders table's recorded status (set by watchOrders). */
let orderCounts: (() => Promise<{ status: string; count: number }[]>) | undefined;

new Gauge({
  name: 'stickerflow_orders',
  help: 'Sticker orders by the status their workflows last recorded (read from the database at scrape time: every API process reports the same numbers, so take max, not sum)',
  labelNames: ['status'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const rows = await orderCounts?.().catch(() => undefined);
    for (const row of rows ?? []) this.set({ status: row.status }, row.count);
  },
});

/** Reports the orders by status from now on (queried when scraped); returns the way to stop. */
export function watchOrders(count: () => Promise<{ status: string; count: number }[]>): () => void {
  orderCounts = count;
  return () => {
    if (orderCounts === count) orderCounts = undefined;
  };
}

/** Reports `provider`'s slots from now on (no polling: `inUse` runs when scraped); returns the way to stop. */
export function watchProviderSlots(provider: string, limit: number, inUse: () => Promise<number>): () => void {
  const source = { provider, limit, inUse };
  slotSources.add(source);
  return () => void slotSources.delete(source);
}

/**
 * Runs `work` (a refund, an email) and counts how it came out: `outcomeOf` its result, or
 * `failureOf` its error (by default `failed`). Counted once per attempt: the ledger, the payment
 * provider and the email record make a retry a no-op, but a completion lost to a crashed worker
 * can count one refund twice — rare enough for a rate, not a ledger.
 */
export async function counted<T>(
  counter: Counter<string>,
  labels: Record<string, string>,
  outcomeOf: (result: T) => string,
  work: () => Promise<T>,
  failureOf: (err: unknown) => string = () => 'failed',
): Promise<T> {
  try {
    const result = await work();
    counter.inc({ ...labels, outcome: outcomeOf(result) });
    return result;
  } catch (err) {
    counter.inc({ ...labels, outcome: failureOf(err) });
    throw err;
  }
}
