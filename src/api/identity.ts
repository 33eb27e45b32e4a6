/**
 * Who is calling: an API key (`Authorization: Bearer sf_key_…`, CLI and API clients) or the signed
 * customer cookie (web). A caller with neither becomes a new anonymous customer, with the cookie
 * set, when the route needs one. A wrong API key is refused, never silently replaced.
 */
import type { Context } from 'koa';
import type { Customers } from '../customers/customers.js';
import { HttpError } from './errors.js';

export const CUSTOMER_COOKIE = 'sf_customer';

export interface Identity {
  customerId: string;
  /** True when this request created the customer. */
  created: boolean;
}

export async function identify(ctx: Context, customers: Customers): Promise<Identity> {
  const auth = ctx.get('authorization');
  if (auth) {
    const match = /^Bearer\s+(\S+)$/i.exec(auth);
    const customerId = match ? await customers.findByApiKey(match[1]!) : undefined;
    if (!customerId) throw new HttpError(401, 'invalid_api_key', 'the API key is not valid');
    return { customerId, created: false };
  }
  const fromCookie = ctx.cookies.get(CUSTOMER_COOKIE, { signed: true });
  if (fromCookie && (await customers.exists(fromCookie))) return { customerId: fromCookie, created: false };
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
