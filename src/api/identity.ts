/**
 * Who is calling: an API key (`Authorization: Bearer sf_key_…`, CLI and API clients) or the signed
 * customer cookie (web). A wrong API key is refused, never silently replaced.
 *
 * Customers cost money (each starts with STARTER_CREDITS, and with fal every credit is a paid model
 * run), so only routes that spend or buy credits make one — an upload, an API key, a credit
 * checkout, all POSTs — and at most NEW_CUSTOMERS_PER_HOUR per client address. A GET never does.
 */
import type { Context } from 'koa';
import type { Customers } from '../customers/customers.js';
import type { RateLimiter } from '../limits/rate-limits.js';
import { HttpError } from './errors.js';
import { enforceLimit } from './rate-limit.js';

export const CUSTOMER_COOKIE = 'sf_customer';

export interface Identity {
  customerId: string;
  /** True when this request created the customer. */
  created: boolean;
}

/** The caller's customer id, or undefined for a caller we do not know yet. Creates nothing. */
export async function knownCustomer(ctx: Context, customers: Customers): Promise<string | undefined> {
  const auth = ctx.get('authorization');
  if (auth) {
    const match = /^Bearer\s+(\S+)$/i.exec(auth);
    const customerId = match ? await customers.findByApiKey(match[1]!) : undefined;
    if (!customerId) throw new HttpError(401, 'invalid_api_key', 'the API key is not valid');
    return customerId;
  }
  const fromCookie = ctx.cookies.get(CUSTOMER_COOKIE, { signed: true });
  return fromCookie && (await customers.exists(fromCookie)) ? fromCookie : undefined;
}

/**
 * The caller's customer, made now (with the cookie set) when the caller has none — unless this
 * address has made `newCustomers.rule.points` customers within the hour: then 429 with
 * Retry-After, and no customer is made.
 */
export async function identify(ctx: Context, customers: Customers, newCustomers: RateLimiter): Promise<Identity> {
  const known = await knownCustomer(ctx, customers);
  if (known) return { customerId: known, created: false };
  await enforceLimit(ctx, newCustomers);
  const customerId = await customers.create();
  ctx.cookies.set(CUSTOMER_COOKIE, customerId, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.cookies.secure, // true whenever the site is HTTPS (see security.ts)
    maxAge: 365 * 24 * 3600 * 1000,
    overwrite: true,
  });
  return { customerId, created: true };
}
