/**
 * Credit packs (PRODUCT.md §4): the catalogue, a checkout for one pack, and the shopper's return
 * from it. Thin: the purchase's workflow adds the credits, once, whether the signed webhook or
 * the return brings the payment first; refunds of the payment reach the same workflow.
 */
import Router from '@koa/router';
import type { Client } from '@temporalio/client';
import { WorkflowIdReusePolicy, type SignalDefinition } from '@temporalio/common';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { creditPack, presentPacks } from '../credits/packs.js';
import type { CreditPurchase, CreditPurchases } from '../credits/purchases.js';
import type { Customers } from '../customers/customers.js';
import type { RateLimiter } from '../limits/rate-limits.js';
import type { Logger } from '../logger.js';
import { amountMismatch, type PaymentProvider, type PaymentReceived, type PaymentRefunded } from '../payments/port.js';
import {
  CREDIT_PURCHASE_WORKFLOW_TYPE,
  creditPaymentSignal,
  creditPurchaseWorkflowId,
  creditRefundSignal,
  type CreditPurchaseInput,
} from '../workflows/credit-purchase/api.js';
import { readJson } from './body.js';
import { HttpError } from './errors.js';
import { identify } from './identity.js';
import { answerCheckoutReturn } from './checkout-return.js';
import { noLimit } from './rate-limit.js';

/** How long a pack's checkout can be paid: bought in one sitting (Stripe takes 30 minutes to 24 hours). */
const CHECKOUT_MINUTES = 60;

export interface CreditRoutesDeps {
  temporal: Client;
  taskQueue: string;
  customers: Customers;
  creditPurchases: CreditPurchases;
  payments: PaymentProvider;
  /** The providers by id: a return is checked with the provider its purchase used. */
  providers: ReadonlyMap<string, PaymentProvider>;
  publicUrl: string;
  newCustomers: RateLimiter;
  /**
   * False when packs must not be sold: the local payment provider takes no money, so with a model
   * back end that costs money per buddy (fal) every "paid" pack would be free spend.
   */
  onSale: boolean;
  /** Marks returns past a per-client limit; they skip asking the provider (see payments.ts). */
  limitReturns?: Middleware;
  returnWaitMs?: number;
  logger?: Logger;
}

const checkoutSchema = z.strictObject({
  pack: z.string().max(64),
  email: z.email('must be an email address').max(254).optional(),
});

/** The workflow's input, from the purchase row: the same for the first run and any later one. */
function workflowInput(p: CreditPurchase): CreditPurchaseInput {
  return {
    purchaseId: p.id,
    customerId: p.customerId,
    pack: p.pack,
    credits: p.credits,
    amountCents: p.amountCents,
    currency: p.currency,
    payment: { provider: p.paymentProvider, sessionId: p.checkoutSessionId! },
    checkoutExpiresAt: p.checkoutExpiresAt ?? p.createdAt,
  };
}

/** Why the payment cannot be this purchase's, or undefined when it matches. */
export function purchaseMismatch(p: CreditPurchase, payment: PaymentReceived): string | undefined {
  if (payment.orderId !== p.id) return `the payment is for ${payment.orderId.slice(0, 64)}`;
  return amountMismatch(p, payment, 'pack');
}

interface HandOverDeps {
  temporal: Client;
  taskQueue: string;
  creditPurchases: CreditPurchases;
}

/**
 * Tells the purchase's workflow: a signal when it runs, else a new run that starts with the
 * signal (whatever it did before is a no-op by its ledger keys).
 */
function tellPurchase<T>(deps: HandOverDeps, purchase: CreditPurchase, signal: SignalDefinition<[T]>, arg: T) {
  return deps.temporal.workflow.signalWithStart(CREDIT_PURCHASE_WORKFLOW_TYPE, {
    workflowId: creditPurchaseWorkflowId(purchase.id),
    taskQueue: deps.taskQueue,
    args: [workflowInput(purchase)],
    signal,
    signalArgs: [arg],
  });
}

/** Hands a matching payment to the purchase's workflow (its grant is a no-op when the credits were added before). */
export async function handOverCreditPayment(deps: HandOverDeps, purchase: CreditPurchase, payment: PaymentReceived): Promise<void> {
  await deps.creditPurchases.recordPayment(purchase.id, payment.paymentIntentId);
  await tellPurchase(deps, purchase, creditPaymentSignal, payment);
}

/** Hands a refund of the purchase's payment to its workflow, the same way. */
export async function handOverCreditRefund(deps: HandOverDeps, purchase: CreditPurchase, refund: PaymentRefunded): Promise<void> {
  await tellPurchase(deps, purchase, creditRefundSignal, refund);
}

export function creditRoutes(deps: CreditRoutesDeps): Router {
  const router = new Router();

  router.get('/api/credit-packs', (ctx) => {
    ctx.body = deps.onSale ? { packs: presentPacks(), checkout: '/api/credits/checkout' } : { packs: [] };
  });

  router.post('/api/credits/checkout', async (ctx) => {
    if (!deps.onSale) {
      // Answered here rather than thrown: the error middleware shows no 5xx's message (and logs it
      // as a failure), and this one is the deployment's choice, with a message worth reading.
      ctx.status = 503;
      ctx.body = {
        error: { code: 'credit_packs_unavailable', message: 'credit packs are not on sale here: they need PAYMENT_PROVIDER=stripe with this model back end' },
      };
      return;
    }
    const parsed = checkoutSchema.safeParse(await readJson(ctx));
    if (!parsed.success) {
      throw new HttpError(400, 'invalid_request', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    const pack = creditPack(parsed.data.pack);
    if (!pack) throw new HttpError(400, 'unknown_pack', `no credit pack "${parsed.data.pack.slice(0, 64)}": see GET /api/credit-packs`);
    const { customerId } = await identify(ctx, deps.customers, deps.newCustomers);
    const purchase = await deps.creditPurchases.create(customerId, pack, deps.payments.id);
    try {
      const checkout = await deps.payments.createCheckout({
        orderId: purchase.id,
        amountCents: pack.priceCents,
        currency: pack.currency,
        description: `${pack.credits} buddy credits`,
        email: parsed.data.email,
        successUrl: `${deps.publicUrl}/credits/${purchase.id}/paid?session_id={CHECKOUT_SESSION_ID}`,
        cancelUrl: `${deps.publicUrl}/`,
        expiresAt: new Date(Date.now() + CHECKOUT_MINUTES * 60_000).toISOString(),
      });
      await deps.creditPurchases.setCheckoutSession(purchase.id, checkout.sessionId, checkout.expiresAt);
      // The workflow exists before the shopper can pay, so the payment always finds it.
      await deps.temporal.workflow.start(CREDIT_PURCHASE_WORKFLOW_TYPE, {
        workflowId: creditPurchaseWorkflowId(purchase.id),
        taskQueue: deps.taskQueue,
        args: [workflowInput({ ...purchase, checkoutSessionId: checkout.sessionId, checkoutExpiresAt: checkout.expiresAt })],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
      ctx.status = 201;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        purchaseId: purchase.id,
        pack: pack.id,
        credits: pack.credits,
        amount: { totalCents: pack.priceCents, currency: pack.currency },
        checkoutUrl: checkout.url,
        expiresAt: checkout.expiresAt,
      };
    } catch (err) {
      // Nothing half-made stays behind: no purchase row, no open checkout.
      const session = (await deps.creditPurchases.get(purchase.id))?.checkoutSessionId;
      if (session) await deps.payments.expireCheckout(session).catch(() => undefined);
      await deps.creditPurchases.delete(purchase.id).catch(() => undefined);
      throw err;
    }
  });

  /**
   * The shopper's return from the checkout: hands the payment over when the session is paid (the
   * webhook may be late), then always 303 to the upload page, revealing nothing.
   */
  router.get('/credits/:id/paid', deps.limitReturns ?? noLimit, async (ctx) => {
    const purchaseId = ctx.params.id!;
    const sessionId = typeof ctx.query.session_id === 'string' ? ctx.query.session_id : undefined;
    const fulfil = async () => {
      if (ctx.state.rateLimited) return; // the webhook adds the credits anyway
      const purchase = await deps.creditPurchases.get(purchaseId);
      if (!purchase || !sessionId || purchase.checkoutSessionId !== sessionId) return;
      const provider = deps.providers.get(purchase.paymentProvider);
      const payment = await provider?.paidCheckout(sessionId);
      if (!payment) return;
      const problem = purchaseMismatch(purchase, payment);
      if (problem) {
        deps.logger?.error('paid session does not match its credit purchase', { purchaseId, sessionId, problem });
        return;
      }
      await handOverCreditPayment(deps, purchase, payment);
    };
    await answerCheckoutReturn(ctx, fulfil, {
      waitMs: deps.returnWaitMs,
      location: `/?purchase=${encodeURIComponent(purchaseId.slice(0, 64))}`,
      onError: (err) => deps.logger?.warn('credit checkout return: could not confirm the payment now (the webhook will)', { purchaseId, error: String(err) }),
    });
  });

  return router;
}
