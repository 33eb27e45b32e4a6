/** Customer routes: an API key for the CLI, and the caller's own credit balance. */
import Router from '@koa/router';
import type { Customers } from '../customers/customers.js';
import type { CreditLedger } from '../ledger/ledger.js';
import { identify } from './identity.js';

export function customerRoutes(deps: { customers: Customers; ledger: CreditLedger }): Router {
  const router = new Router();

  /** Issues an API key for the caller (a new anonymous customer when unidentified). Shown once. */
  router.post('/api/customers/api-keys', async (ctx) => {
    const { customerId } = await identify(ctx, deps.customers);
    const apiKey = await deps.customers.issueApiKey(customerId);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { customerId, apiKey, credits: await deps.ledger.balance(customerId) };
  });

  router.get('/api/me', async (ctx) => {
    const { customerId } = await identify(ctx, deps.customers);
    ctx.body = { customerId, credits: await deps.ledger.balance(customerId) };
  });

  return router;
}
