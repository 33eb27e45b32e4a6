/**
 * The one place errors become HTTP: `HttpError`s carry their status and a stable code; anything
 * else is a 500 whose message is logged, never shown.
 */
import type { Middleware } from 'koa';
import type { Logger } from '../logger.js';

export class HttpError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    /** More fields for the error object, e.g. the credit packs a 402 offers. */
    public readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function errorMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new HttpError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const status = err instanceof HttpError ? err.status : ((err as { status?: number }).status ?? 500);
      const expose = status < 500;
      const code = err instanceof HttpError ? err.code : expose ? 'bad_request' : 'internal';
      if (!expose) logger.error('request failed', { method: ctx.method, path: ctx.path, error: String(err) });
      ctx.status = status;
      const details = err instanceof HttpError ? err.details : undefined;
      ctx.body = { error: { ...details, code, message: expose ? (err as Error).message : 'internal error' } };
    }
  };
}
