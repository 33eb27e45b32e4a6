/**
 * Per-client rate limits, mounted on the routes they guard (so every spelling of a path the router
 * accepts is counted): a token bucket per client address, kept in this process. A client may
 * spend a burst of `perMinute` requests at once, then `perMinute` a minute; past that it gets 429
 * with `Retry-After`, before its request body is read. IPv6 clients are counted per /64 (one
 * household or server gets a whole /64, so single addresses cost an attacker nothing). Behind a
 * trusted proxy the address is the one that proxy appended to X-Forwarded-For (see createApp),
 * never one the client wrote itself.
 *
 * The buckets live in memory: with several API processes each one limits on its own, so the
 * effective limit is the per-process limit times the processes behind the load balancer.
 */
import type { Middleware } from 'koa';
import { isIPv6 } from 'node:net';
import { HttpError } from './errors.js';

export interface RateLimitOptions {
  perMinute: number;
  /** What the 429 says is limited, e.g. "photo uploads". */
  what: string;
  /**
   * 'refuse' (default): 429. 'mark': the request goes on with `ctx.state.rateLimited = true`, for
   * a route that must answer anyway but can skip its costly part.
   */
  whenLimited?: 'refuse' | 'mark';
  /** Buckets kept at most; the least recently used are dropped past this. */
  maxClients?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** The address a limit counts: the IPv4 address, or the /64 prefix of an IPv6 one. */
export function clientKey(raw: string): string {
  // Some proxies write the address with its port ("203.0.113.9:51234", "[2001:db8::1]:443"):
  // the port changes with every connection, so it must not make a new client.
  const ip = /^\[([^\]]+)\](?::\d+)?$/.exec(raw)?.[1] ?? /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(raw)?.[1] ?? raw;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (v4) return v4;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export function rateLimit(opts: RateLimitOptions): Middleware {
  const buckets = new Map<string, Bucket>();
  const now = opts.now ?? Date.now;
  const capacity = opts.perMinute;
  const perMs = opts.perMinute / 60_000;
  const maxClients = opts.maxClients ?? 100_000;

  return async (ctx, next) => {
    const key = clientKey(ctx.ip);
    const t = now();
    const previous = buckets.get(key);
    const bucket = previous ? { tokens: Math.min(capacity, previous.tokens + (t - previous.at) * perMs), at: t } : { tokens: capacity, at: t };
    // Re-inserted on every use, so the map's order is least recently used first.
    buckets.delete(key);
    if (bucket.tokens < 1) {
      buckets.set(key, bucket);
      if (opts.whenLimited === 'mark') {
        ctx.state.rateLimited = true;
        return next();
      }
      ctx.req.resume(); // drain the upload we will not read
      ctx.set('Retry-After', String(Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000))));
      throw new HttpError(429, 'rate_limited', `too many ${opts.what}: at most ${opts.perMinute} a minute; try again shortly`);
    }
    bucket.tokens -= 1;
    buckets.set(key, bucket);
    while (buckets.size > maxClients) buckets.delete(buckets.keys().next().value!);
    await next();
  };
}

/** In place of a limiter where none is configured (tests, tools). */
export const noLimit: Middleware = (_ctx, next) => next();
