/**
 * Request bodies, read by the routes that need them (Koa has no body parser here on purpose):
 * the raw bytes for webhooks, whose signatures cover exactly what was sent, and JSON or form
 * fields for the API and the checkout page. Every read has a byte limit.
 */
import type { Context } from 'koa';
import { HttpError } from './errors.js';

export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** The body's exact bytes; 413 past `limit`. */
export async function readRawBody(ctx: Context, limit = DEFAULT_BODY_LIMIT): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) {
    ctx.req.resume();
    throw new HttpError(413, 'body_too_large', `the body is larger than ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      ctx.req.resume();
      throw new HttpError(413, 'body_too_large', `the body is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body: 415 for another content type, 400 when it does not parse or is not an object. */
export async function readJson(ctx: Context, limit = DEFAULT_BODY_LIMIT): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) {
    ctx.req.resume();
    throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json');
  }
  const raw = await readRawBody(ctx, limit);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'invalid_json', 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** An `application/x-www-form-urlencoded` body as fields (the checkout page's form). */
export async function readForm(ctx: Context, limit = DEFAULT_BODY_LIMIT): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    ctx.req.resume();
    throw new HttpError(415, 'unsupported_media_type', 'send the form as application/x-www-form-urlencoded');
  }
  return new URLSearchParams((await readRawBody(ctx, limit)).toString('utf8'));
}
