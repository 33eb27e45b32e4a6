/** Customer routes: an API key for the CLI, and the caller's own credit balance. */
import Router from '@koa/router';
import type { Customers } from '../customers/customers.js';
import type { CreditLedger } from '../ledger/ledger.js';
import type { RateLimiter } from '../limits/rate-limits.js';
import { identify, knownCustomer } from './identity.js';

export function customerRoutes(deps: { customers: Customers; ledger: CreditLedger; newCustomers: RateLimiter; starterCredits: number }): Router {
  const router = new Router();

  /** Issues an API key for the caller (a new anonymous customer when unidentified). Shown once. */
  router.post('/api/customers/api-keys', async (ctx) => {
    const { customerId } = await identify(ctx, deps.customers, deps.newCustomers);
    const apiKey = await deps.customers.issueApiKey(customerId);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { customerId, apiKey, credits: await deps.ledger.balance(customerId) };
  });

  /** The caller's balance; a caller we do not know yet is told what a first upload starts with. */
  router.get('/api/me', async (ctx) => {
    const customerId = await knownCustomer(ctx, deps.customers);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = customerId
      ? { customerId, credits: await deps.ledger.balance(customerId) }
      : { customerId: null, credits: deps.starterCredits, newCustomer: true };
  });

  return router;
}
