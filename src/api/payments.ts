/**
 * The payment routes. `POST /webhooks/stripe` serves Stripe and the local provider alike: it
 * verifies the signature over the raw body, drops events seen before, checks the payment against
 * the order and hands it to the order's workflow as a signal (or, when that workflow has already
 * closed, to a `LatePaymentWorkflow` of its own, which refunds it through the order's provider).
 * No refund is made here: a crash between receiving and refunding loses nothing.
 * `GET /orders/:id/paid` is where the checkout sends the customer back: when the session has been
 * paid it hands the payment over the same way, so the order moves on even if the webhook is late
 * (the workflow keeps one payment per payment intent, so both arriving is harmless). The local
 * checkout page (`/checkout/:sessionId`) stands in for Stripe's hosted one when the local
 * provider is configured.
 */
import Router from '@koa/router';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import { LATE_PAYMENT_WORKFLOW_TYPE, latePaymentWorkflowId, type LatePaymentInput } from '../workflows/late-payment/api.js';
import type { Middleware } from 'koa';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type Stripe from 'stripe';
import type { Logger } from '../logger.js';
import { countWebhooks } from '../metrics/http.js';
import type { OrderRecord, OrderRepository, WebhookEvents } from '../orders/repository.js';
import { DeliveryFailed, type LocalPayments } from '../payments/local.js';
import { amountMismatch, WebhookRejected, type PaymentProvider, type PaymentReceived } from '../payments/port.js';
import { paymentReceivedFrom, paymentRefundedFrom, verifyEvent } from '../payments/stripe-events.js';
import { PURCHASE_ID, type CreditPurchases } from '../credits/purchases.js';
import { handOverCreditPayment, handOverCreditRefund, purchaseMismatch } from './credits.js';
import { orderWorkflowId, paymentReceivedSignal, type OrderView } from '../workflows/sticker-order/api.js';
import {
  deliveryFailedPage,
  expiredPage,
  forbiddenPage,
  paidPage,
  payPage,
  sendPage,
  unknownPage,
} from '../web/checkout-pages.js';
import { readForm, readRawBody } from './body.js';
import { HttpError } from './errors.js';
import { answerCheckoutReturn } from './checkout-return.js';
import { noLimit } from './rate-limit.js';

/** The configured payment providers by id (an order names the one it was paid through). */
export type PaymentProviders = ReadonlyMap<PaymentProvider['id'], PaymentProvider>;

export interface PaymentRoutesDeps {
  /** The providers by id: a late payment is refunded through the one its order used. */
  providers: PaymentProviders;
  orders: OrderRepository;
  /** Credit packs: their payments and refunds go to the purchase's workflow (on `taskQueue`). */
  creditPurchases: CreditPurchases;
  taskQueue: string;
  events: WebhookEvents;
  temporal: Client;
  webhookSecret: string;
  logger?: Logger;
  /** How long the customer's return waits for the provider and the hand-over before moving on (default 8 s). */
  returnWaitMs?: number;
  /**
   * Marks returns past a per-client limit (`rateLimit` with `whenLimited: 'mark'`): they still
   * go to the order page, without asking the provider (its API is rate-limited per account).
   */
  limitReturns?: Middleware;
  /** Guards the webhook per sending address, before its body is read. */
  limitWebhooks?: Middleware;
}

/** Stripe's (or the local provider's) event source name in `webhook_events`. */
const SOURCE = 'stripe';

/** Paid with a delayed method that then failed: nothing to fulfil, the order waits for its deadline. */
const ASYNC_PAYMENT_FAILED = 'checkout.session.async_payment_failed';

/**
 * What handing a payment to its order came to. 'unknown': Temporal no longer has the order's
 * workflow and the order has no record (placed before records): logged for the operator.
 */
export type HandOver = 'signalled' | 'already_taken' | 'refunding' | 'unknown';

/** Webhook and customer return alike: the payment's order and its provider. */
function orderLookups(deps: PaymentRoutesDeps) {
  return {
    providerOf(order: OrderRecord): PaymentProvider {
      const provider = deps.providers.get(order.paymentProvider as PaymentProvider['id']);
      if (!provider) throw new Error(`order ${order.id} was paid through "${order.paymentProvider}", which is not configured`);
      return provider;
    },
    /** Why the payment cannot be this order's, or undefined when it matches. */
    mismatch: (order: OrderRecord, payment: PaymentReceived) => amountMismatch(order, payment, 'order'),
  };
}

/**
 * Hands a payment that matches its order to the order's workflow. If the workflow has closed, it
 * reads how it ended: closed with this very payment (a redelivery after fulfilment), nothing to
 * do; closed without it (payment deadline, cancel) or with another payment, a LatePaymentWorkflow
 * (one per payment) gives the money back through the order's own provider, under the order's
 * refund key (which the order's workflow uses too) or the payment's own, so it is refunded once.
 * Throws when the order's state cannot be read: the caller retries (the provider redelivers).
 */
export async function handOverPayment(deps: PaymentRoutesDeps, order: OrderRecord, payment: PaymentReceived): Promise<HandOver> {
  const handle = deps.temporal.workflow.getHandle(orderWorkflowId(order.id));
  try {
    await handle.signal(paymentReceivedSignal, payment);
    return 'signalled';
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  // How the order ended: its closed workflow's result, or (once Temporal has deleted the
  // workflow after its retention) the record the workflow wrote.
  const fromTemporal: OrderView | undefined | typeof GONE = await closedOrderView(handle).catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) return GONE;
    throw err;
  });
  if (fromTemporal === GONE && !order.view) {
    deps.logger?.error('a payment for an order Temporal no longer has, and with no record: check it and refund by hand', {
      orderId: order.id,
      eventId: payment.eventId,
      paymentIntentId: payment.paymentIntentId,
    });
    return 'unknown';
  }
  const closed = fromTemporal === GONE ? order.view : fromTemporal;
  if (closed?.payment?.paymentIntentId === payment.paymentIntentId) return 'already_taken';
  // The refund is the late payment workflow's, one per payment (a redelivery finds it started).
  const input: LatePaymentInput = { orderId: order.id, provider: order.paymentProvider, payment, orderPaidWith: closed?.payment?.paymentIntentId };
  try {
    await deps.temporal.workflow.start(LATE_PAYMENT_WORKFLOW_TYPE, {
      workflowId: latePaymentWorkflowId(payment.paymentIntentId),
      taskQueue: deps.taskQueue,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  deps.logger?.warn('payment arrived after its order closed: handed to its refund', {
    orderId: order.id,
    eventId: payment.eventId,
    provider: order.paymentProvider,
  });
  return 'refunding';
}

/** `POST /webhooks/stripe` and `GET /orders/:id/paid`, both ending in `handOverPayment`. */
export function paymentRoutes(deps: PaymentRoutesDeps): Router {
  const router = new Router();
  const { mismatch, providerOf } = orderLookups(deps);

  router.post('/webhooks/stripe', countWebhooks(() => SOURCE), deps.limitWebhooks ?? noLimit, async (ctx) => {
    const raw = await readRawBody(ctx);
    const event = badRequestOn('invalid_signature', () => verifyEvent(raw, ctx.get('stripe-signature') || undefined, deps.webhookSecret));
    if (await deps.events.seen(SOURCE, event.id)) {
      ctx.body = { received: true, duplicate: true };
      return;
    }
    if (event.type === ASYNC_PAYMENT_FAILED) {
      const session = event.data.object as Partial<Stripe.Checkout.Session>;
      deps.logger?.warn('a delayed payment failed: the order waits for another payment until its deadline', {
        orderId: session.client_reference_id ?? session.metadata?.orderId,
        sessionId: session.id,
        eventId: event.id,
      });
      await deps.events.record(SOURCE, event.id);
      ctx.body = { received: true };
      return;
    }
    const refund = badRequestOn('invalid_event', () => paymentRefundedFrom(event));
    if (refund) {
      // Refunds we make of orders need nothing more; a refunded credit pack takes its credits back.
      const purchase = await deps.creditPurchases.byPaymentIntent(refund.paymentIntentId);
      if (purchase) await handOverCreditRefund(deps, purchase, refund);
      await deps.events.record(SOURCE, event.id);
      ctx.body = purchase ? { received: true } : { received: true, ignored: true };
      return;
    }
    const payment = badRequestOn('invalid_event', () => paymentReceivedFrom(event));
    if (!payment) {
      ctx.body = { received: true, ignored: true };
      return;
    }
    if (PURCHASE_ID.test(payment.orderId)) {
      const purchase = await deps.creditPurchases.get(payment.orderId);
      const problem = purchase ? purchaseMismatch(purchase, payment) : 'no such credit purchase';
      if (problem || !purchase) {
        deps.logger?.error('a paid checkout does not match a credit purchase of ours: check it and refund by hand', {
          purchaseId: payment.orderId,
          eventId: event.id,
          problem,
        });
        await deps.events.record(SOURCE, event.id);
        ctx.body = { received: true, ignored: true, reason: problem };
        return;
      }
      await handOverCreditPayment(deps, purchase, payment);
      await deps.events.record(SOURCE, event.id);
      ctx.body = { received: true };
      return;
    }
    const order = await deps.orders.get(payment.orderId);
    if (!order) {
      // Nothing to hand it to, and redelivering will not change that (a 4xx makes Stripe retry for
      // days, then disable the endpoint): acknowledge, and tell the operator to look at it.
      deps.logger?.error('a paid checkout names no order of ours: check it and refund by hand', {
        orderId: payment.orderId.slice(0, 64),
        sessionId: payment.sessionId,
        eventId: event.id,
      });
      await deps.events.record(SOURCE, event.id);
      ctx.body = { received: true, ignored: true, reason: 'unknown order' };
      return;
    }
    const problem = mismatch(order, payment);
    if (problem) {
      deps.logger?.error('payment does not match its order', { orderId: order.id, eventId: event.id, problem });
      throw new HttpError(400, 'amount_mismatch', problem);
    }
    const outcome = await handOverPayment(deps, order, payment);
    await deps.events.record(SOURCE, event.id);
    // 'unknown' is acknowledged too: redelivering cannot make Temporal remember (logged above).
    ctx.body = outcome === 'refunding' ? { received: true, refunding: true } : outcome === 'unknown' ? { received: true, unknown: true } : { received: true };
  });

  /**
   * The customer's return from the checkout (`successUrl`). Whatever happens it answers 303 to
   * the order's page, reveals nothing and never fails the customer: problems are logged.
   */
  router.get('/orders/:id/paid', deps.limitReturns ?? noLimit, async (ctx) => {
    const orderId = ctx.params.id!;
    const sessionId = typeof ctx.query.session_id === 'string' ? ctx.query.session_id : undefined;
    const fulfil = async () => {
      // Past the client's limit the provider is not asked: the webhook pays the order anyway.
      if (ctx.state.rateLimited) return;
      const order = await deps.orders.get(orderId);
      if (!order || !sessionId || order.checkoutSessionId !== sessionId) {
        deps.logger?.info('checkout return ignored: no such order, or not its session', { orderId: orderId.slice(0, 64) });
        return;
      }
      const payment = await providerOf(order).paidCheckout(sessionId);
      if (!payment) return; // not paid (yet): the webhook fulfils it when it is
      const problem = payment.orderId === order.id ? mismatch(order, payment) : `the session is order ${payment.orderId}'s`;
      if (problem) {
        deps.logger?.error('paid session does not match its order', { orderId: order.id, sessionId, problem });
        return;
      }
      await handOverPayment(deps, order, payment);
    };
    await answerCheckoutReturn(ctx, fulfil, {
      waitMs: deps.returnWaitMs,
      location: `/orders/${encodeURIComponent(orderId)}`,
      onError: (err) => deps.logger?.warn('checkout return: could not confirm the payment now (the webhook will)', { orderId, error: String(err) }),
    });
  });

  return router;
}


const GONE: unique symbol = Symbol('the workflow is gone');

/**
 * How a closed order ended, read from its history (no worker needed): the view it completed
 * with, or the one its OrderFailed failure carries; undefined when it was terminated or timed out.
 */
async function closedOrderView(handle: WorkflowHandle): Promise<OrderView | undefined> {
  try {
    return (await handle.result()) as OrderView;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    return err.cause instanceof ApplicationFailure ? (err.cause.details?.[0] as OrderView | undefined) : undefined;
  }
}

/** A rejected webhook is the sender's fault: 400 with `code`, nothing changed. */
function badRequestOn<T>(code: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof WebhookRejected) throw new HttpError(400, code, err.message);
    throw err;
  }
}

export interface CheckoutPageDeps {
  payments: LocalPayments;
  /** Keys the pay form's token (a key derived from it, never the secret itself). */
  webhookSecret: string;
  logger?: Logger;
}

/** The local provider's hosted checkout page: pay (or cancel) one session. */
export function checkoutPageRoutes(deps: CheckoutPageDeps): Router {
  const router = new Router();
  // The form token is an HMAC of the session id under a key of its own, derived from the secret.
  const formKey = createHmac('sha256', deps.webhookSecret).update('stickerflow local checkout form').digest();
  const formToken = (sessionId: string) => createHmac('sha256', formKey).update(sessionId).digest('base64url');
  const tokenMatches = (sessionId: string, given: string | null) => {
    const expected = Buffer.from(formToken(sessionId));
    const actual = Buffer.from(given ?? '');
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  };

  router.get('/checkout/:sessionId', async (ctx) => {
    const session = await deps.payments.getCheckout(ctx.params.sessionId!);
    if (!session) return sendPage(ctx, 404, unknownPage());
    if (session.status === 'expired') return sendPage(ctx, 410, expiredPage(session));
    sendPage(ctx, 200, session.status === 'complete' ? paidPage(session, formToken(session.sessionId)) : payPage(session, formToken(session.sessionId)));
  });

  router.post('/checkout/:sessionId', async (ctx) => {
    const sessionId = ctx.params.sessionId!;
    const form = await readForm(ctx, 4096);
    if (!tokenMatches(sessionId, form.get('token'))) return sendPage(ctx, 403, forbiddenPage(sessionId));
    const completion = await deps.payments.completeCheckout(sessionId);
    if (!completion) return sendPage(ctx, 404, unknownPage());
    if (completion.status === 'expired') return sendPage(ctx, 410, expiredPage(completion.session));
    try {
      await deps.payments.deliverEvent(completion.event);
    } catch (err) {
      if (!(err instanceof DeliveryFailed)) throw err;
      deps.logger?.warn('local checkout: the payment event was not delivered', { sessionId, error: err.message });
      return sendPage(ctx, 502, deliveryFailedPage(completion.session, formToken(sessionId)));
    }
    ctx.status = 303;
    ctx.redirect(completion.session.successUrl);
  });

  return router;
}
