/**
 * Rate limits shared by every API process: counters in the database (PGlite or PostgreSQL, the
 * `rate_limits` table of migration 8), kept by `rate-limiter-flexible`'s PostgreSQL store, so N
 * processes behind a load balancer still allow one limit, not N. Each limit is a fixed window:
 * `points` in `durationSeconds` per key, then refused until the window ends.
 *
 * Should the database fail to answer, a limit falls back to a counter in this process's memory
 * (the library's insurance limiter) rather than letting everything through or refusing everyone.
 */
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from '../db/database.js';

export interface LimitRule {
  points: number;
  durationSeconds: number;
}

export type LimitVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** What is limited, for the 429's message, e.g. "photo uploads". */
  readonly what: string;
  readonly rule: LimitRule;
  /** Takes one point for `key`; refused (with the wait until the window ends) when none is left. */
  consume(key: string): Promise<LimitVerdict>;
}

/**
 * One named limit on the shared table; `name` keeps its keys apart from the other limits'.
 * `sweeps`: this limiter deletes the table's expired rows every five minutes (the library's
 * sweep takes every limit's rows, so one sweeping limiter per process is enough).
 */
export function sharedRateLimiter(db: Database, name: string, what: string, rule: LimitRule, sweeps = true): RateLimiter {
  const store = new RateLimiterPostgres({
    // The store speaks node-postgres (`query({text, values})` → `{rows, rowCount}`); both of our
    // engines take the same SQL, so one adapter serves PGlite and PostgreSQL alike.
    storeClient: {
      query: async (q: { text: string; values?: unknown[] }) => {
        const rows = await db.query(q.text, q.values);
        return { rows, rowCount: rows.length };
      },
    },
    storeType: 'pool',
    tableName: 'rate_limits',
    tableCreated: true, // the migration made it
    clearExpiredByTimeout: sweeps,
    keyPrefix: name,
    points: rule.points,
    duration: rule.durationSeconds,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.durationSeconds }),
  });
  return limiterOf(store, what, rule);
}

/** A limit in this process's memory only: for tests and tools. */
export function memoryRateLimiter(name: string, what: string, rule: LimitRule): RateLimiter {
  return limiterOf(new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.durationSeconds }), what, rule);
}

function limiterOf(store: RateLimiterAbstract, what: string, rule: LimitRule): RateLimiter {
  return {
    what,
    rule,
    async consume(key) {
      try {
        await store.consume(key);
        return { allowed: true };
      } catch (err) {
        // The library rejects with its result when no point is left, and with an Error only when
        // the store and its insurance both failed.
        if (!(err instanceof RateLimiterRes)) throw err;
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(err.msBeforeNext / 1000)) };
      }
    },
  };
}

/** Every limit the API applies, each shared across processes through the database. */
export interface ApiLimits {
  uploads: RateLimiter;
  newCustomers: RateLimiter;
  checkoutReturns: RateLimiter;
  webhooks: RateLimiter;
}

export interface ApiLimitSettings {
  uploadsPerMinute: number;
  newCustomersPerHour: number;
}

/**
 * The API's limits. Checkout returns: past 30 a minute a client's returns no longer ask the
 * payment provider (Stripe's API is rate-limited per account). Webhooks: generous, since the
 * senders (Stripe, printers) come from few addresses and retry on 429, but a flood of forged
 * deliveries from one address stops costing signature checks and database reads.
 */
export function apiLimits(db: Database, settings: ApiLimitSettings): ApiLimits {
  return {
    uploads: sharedRateLimiter(db, 'uploads', 'photo uploads', { points: settings.uploadsPerMinute, durationSeconds: 60 }),
    // The uploads limiter sweeps the shared table for all four.
    newCustomers: sharedRateLimiter(db, 'new-customers', 'new customers from your address', { points: settings.newCustomersPerHour, durationSeconds: 3600 }, false),
    checkoutReturns: sharedRateLimiter(db, 'checkout-returns', 'checkout returns', { points: 30, durationSeconds: 60 }, false),
    webhooks: sharedRateLimiter(db, 'webhooks', 'webhook deliveries', { points: 600, durationSeconds: 60 }, false),
  };
}
