/**
 * Per-client rate limits, mounted on the routes they guard (so every spelling of a path the router
 * accepts is counted): a limit per client address, past which the client gets 429 with
 * `Retry-After`, before its request body is read. The counters are shared by every API process
 * (`src/limits/rate-limits.ts`). IPv6 clients are counted per /64 (one household or server gets a
 * whole /64, so single addresses cost an attacker nothing). Behind a trusted proxy the address is
 * the one that proxy appended to X-Forwarded-For (see createApp), never one the client wrote.
 */
import type { Context, Middleware } from 'koa';
import { isIPv6 } from 'node:net';
import type { RateLimiter } from '../limits/rate-limits.js';
import { rateLimited } from '../metrics/registry.js';
import { HttpError } from './errors.js';

export interface RateLimitOptions {
  /**
   * 'refuse' (default): 429. 'mark': the request goes on with `ctx.state.rateLimited = true`, for
   * a route that must answer anyway but can skip its costly part.
   */
  whenLimited?: 'refuse' | 'mark';
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

export function rateLimit(limiter: RateLimiter, opts: RateLimitOptions = {}): Middleware {
  return async (ctx, next) => {
    const verdict = await limiter.consume(clientKey(ctx.ip));
    if (!verdict.allowed && opts.whenLimited === 'mark') {
      ctx.state.rateLimited = true;
      rateLimited.inc({ limit: limiter.what });
    } else if (!verdict.allowed) {
      refuse(ctx, limiter, verdict.retryAfterSeconds);
    }
    await next();
  };
}

/** Takes one point of `limiter` for the caller's address, or answers 429 (for checks inside a route). */
export async function enforceLimit(ctx: Context, limiter: RateLimiter): Promise<void> {
  const verdict = await limiter.consume(clientKey(ctx.ip));
  if (!verdict.allowed) refuse(ctx, limiter, verdict.retryAfterSeconds);
}

function refuse(ctx: Context, limiter: RateLimiter, retryAfterSeconds: number): never {
  rateLimited.inc({ limit: limiter.what });
  ctx.req.resume(); // drain the upload we will not read
  ctx.set('Retry-After', String(retryAfterSeconds));
  const { points, durationSeconds } = limiter.rule;
  const per = durationSeconds === 60 ? 'a minute' : durationSeconds === 3600 ? 'an hour' : `in ${durationSeconds} seconds`;
  throw new HttpError(429, 'rate_limited', `too many ${limiter.what}: at most ${points} ${per}; try again in ${retryAfterSeconds} s`);
}

/** In place of a limiter where none is configured (tests, tools). */
export const noLimit: Middleware = (_ctx, next) => next();
