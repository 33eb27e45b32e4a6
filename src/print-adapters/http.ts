/**
 * What every vendor adapter does the same way: one JSON request with a timeout, mapped onto the
 * port's error contract (unreachable, 429 and 5xx → PrinterUnavailable; the rest is returned for
 * the adapter to judge), the "answer lost → look the order up" recovery of a submission, and the
 * constant-time comparisons behind webhook checks.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { PrinterUnavailable, PrintRejected } from './port.js';

export interface VendorResponse {
  status: number;
  /** The parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: unknown;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeoutMs: number;
}

/**
 * One request to a vendor. Throws PrinterUnavailable when the answer is lost (network error,
 * timeout) or the vendor says "later" (429, 5xx, with Retry-After honoured); returns every other
 * answer, 4xx included.
 */
export async function vendorRequest(vendor: string, url: string, opts: RequestOptions): Promise<VendorResponse> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? 'GET',
      headers: { accept: 'application/json', ...(opts.json !== undefined && { 'content-type': 'application/json' }), ...opts.headers },
      body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    throw new PrinterUnavailable(`${vendor} did not answer ${opts.method ?? 'GET'} ${new URL(url).pathname}: ${(err as Error).message}`);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw new PrinterUnavailable(`${vendor}'s answer was cut off: ${(err as Error).message}`);
  }
  let body: unknown = text || undefined;
  try {
    if (text) body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  if (res.status === 429 || res.status >= 500) {
    throw new PrinterUnavailable(
      `${vendor} answered ${res.status} to ${opts.method ?? 'GET'} ${new URL(url).pathname}: ${describeError(body)}`,
      retryAfterMs(res.headers.get('retry-after')),
    );
  }
  return { status: res.status, body };
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A vendor's error body in one line, whatever its shape. */
export function describeError(body: unknown): string {
  if (body === undefined) return '(no body)';
  if (typeof body === 'string') return body.slice(0, 300);
  return JSON.stringify(body).slice(0, 300);
}

/** A 401/403: our credentials are wrong. Not the order's fault, so not PrintRejected; retried until fixed. */
export function credentialsRefused(vendor: string, res: VendorResponse): Error {
  return new Error(`${vendor} refused our credentials (${res.status}): ${describeError(res.body)}`);
}

/**
 * Places an order so that a lost answer never makes a second one: `create` runs once; if its
 * answer is lost (PrinterUnavailable) the order is looked up by our id, and found means created.
 * A refusal (PrintRejected) is checked the same way: an attempt that overlapped this one (a
 * timed-out activity still running) may have created or confirmed it, and the vendor then
 * refuses the duplicate. Not found: the error stands (a retry creates it, a refusal is final).
 */
export async function createOnce<T>(create: () => Promise<T>, lookup: () => Promise<T | undefined>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if (!(err instanceof PrinterUnavailable) && !(err instanceof PrintRejected)) throw err;
    const found = await lookup().catch(() => undefined);
    if (found) return found;
    throw err;
  }
}

export const hmacSha256Hex = (key: string | Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest('hex');

/** Constant-time equality of two strings (hashed first, so lengths leak nothing either). */
export function safeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** A header's single value (the first, when repeated). */
export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Whether an ISO time is within `maxAgeMs` before now (and not far in the future); absent → true. */
export function fresh(at: unknown, maxAgeMs: number, now = Date.now()): boolean {
  if (at === undefined) return true;
  const t = typeof at === 'string' ? Date.parse(at) : NaN;
  if (Number.isNaN(t)) return true; // unreadable times are the parser's to reject
  return now - t <= maxAgeMs && t - now <= 5 * 60_000;
}

/** JSON of a raw webhook body, or undefined when it does not parse. */
export function parseJsonObject(raw: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
