/** Koa middleware that counts the public app's requests and the webhook deliveries. */
import type { Context, Middleware } from 'koa';
import { httpDuration, httpRequests, webhooks } from './registry.js';

/**
 * The router's pattern of the route that answered (`/api/orders/:id`), so ids never become
 * label values; `unmatched` when no route did (a scanner's paths must not make new series).
 */
function routeOf(ctx: Context): string {
  const route = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
  return route === undefined ? 'unmatched' : String(route);
}

/** An error's status and code as the error middleware will answer it (HttpError, or Koa's own). */
function statusOf(err: unknown): { status: number; code?: string } {
  const e = err as { status?: unknown; code?: unknown };
  if (typeof e?.status !== 'number') return { status: 500 };
  return { status: e.status, code: typeof e.code === 'string' ? e.code : undefined };
}

/** Mounted first on the app: it sees the status the error middleware settled on. */
export function countRequests(): Middleware {
  return async (ctx, next) => {
    const stop = httpDuration.startTimer();
    let status: number | undefined;
    try {
      await next();
    } catch (err) {
      status = statusOf(err).status;
      throw err;
    } finally {
      const labels = { method: ctx.method, route: routeOf(ctx) };
      stop(labels);
      httpRequests.inc({ ...labels, status: String(status ?? ctx.status) });
    }
  };
}

/**
 * Mounted on a webhook route before its limiter, so a 429 counts as a refusal too. `sourceOf`
 * names the sender from what we configured (`stripe`, `printer:<id>` of a known printer only).
 * Refusals (4xx: forged, malformed, unknown order) and failures (5xx: we could not hand it over,
 * the sender retries) carry the error code the route answered with.
 */
export function countWebhooks(sourceOf: (ctx: Context) => string): Middleware {
  return async (ctx, next) => {
    const source = sourceOf(ctx);
    try {
      await next();
    } catch (err) {
      const { status, code } = statusOf(err);
      webhooks.inc({ source, outcome: status < 500 ? 'refused' : 'failed', reason: code ?? (status < 500 ? 'bad_request' : 'internal') });
      throw err;
    }
    if (ctx.status < 400) webhooks.inc({ source, outcome: 'accepted' });
    else webhooks.inc({ source, outcome: ctx.status < 500 ? 'refused' : 'failed', reason: `http_${ctx.status}` });
  };
}
