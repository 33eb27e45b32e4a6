/**
 * The payment routes. `POST /webhooks/stripe` serves Stripe and the local provider alike: it
 * verifies the signature over the raw body, drops events seen before, checks the payment against
 * the order and hands it to the order's workflow as a signal (or, when that workflow has already
 * closed, refunds it at once). The local checkout page (`/checkout/:sessionId`) stands in for
 * Stripe's hosted one when the local provider is configured.
 */
import Router from '@koa/router';
import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { OrderRepository, WebhookEvents } from '../orders/repository.js';
import { DeliveryFailed, type LocalPayments } from '../payments/local.js';
import { WebhookRejected, type PaymentProvider } from '../payments/port.js';
import { paymentReceivedFrom, verifyEvent } from '../payments/stripe-events.js';
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

export interface StripeWebhookDeps {
  /** Refunds a payment whose order's workflow has closed. */
  provider: PaymentProvider;
  orders: OrderRepository;
  events: WebhookEvents;
  temporal: Client;
  webhookSecret: string;
  logger?: Logger;
}

/** Stripe's (or the local provider's) event source name in `webhook_events`. */
const SOURCE = 'stripe';

export function stripeWebhookRoutes(deps: StripeWebhookDeps): Router {
  const router = new Router();

  router.post('/webhooks/stripe', async (ctx) => {
    const raw = await readRawBody(ctx);
    const event = badRequestOn('invalid_signature', () => verifyEvent(raw, ctx.get('stripe-signature') || undefined, deps.webhookSecret));
    if (await deps.events.seen(SOURCE, event.id)) {
      ctx.body = { received: true, duplicate: true };
      return;
    }
    const payment = badRequestOn('invalid_event', () => paymentReceivedFrom(event));
    if (!payment) {
      ctx.body = { received: true, ignored: true };
      return;
    }
    const order = await deps.orders.get(payment.orderId);
    if (!order) throw new HttpError(404, 'order_not_found', `no order ${payment.orderId}`);
    if (payment.amountCents !== order.amountCents || payment.currency !== order.currency.toLowerCase()) {
      deps.logger?.error('payment does not match its order', {
        orderId: order.id,
        eventId: event.id,
        paid: `${payment.amountCents} ${payment.currency}`,
        due: `${order.amountCents} ${order.currency}`,
      });
      throw new HttpError(400, 'amount_mismatch', `the payment is ${payment.amountCents} ${payment.currency}, the order ${order.amountCents} ${order.currency}`);
    }
    let refunded = false;
    const handle = deps.temporal.workflow.getHandle(orderWorkflowId(order.id));
    try {
      await handle.signal(paymentReceivedSignal, payment);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // The order has closed. If it closed with this very payment (a redelivery after it was
      // fulfilled), there is nothing to do; if it gave up before the money arrived (payment
      // deadline, cancel), give the money back. The workflow refunds with the same key, so a
      // refund happens once. When its status cannot be read, answer 500: the provider retries.
      const closed = await closedOrderView(handle);
      if (closed?.payment?.paymentIntentId === payment.paymentIntentId) {
        await deps.events.record(SOURCE, event.id);
        ctx.body = { received: true };
        return;
      }
      const refund = await deps.provider.refund({
        paymentIntentId: payment.paymentIntentId,
        amountCents: payment.amountCents,
        idempotencyKey: `refund:order:${order.id}`,
        reason: 'paid after the order closed',
      });
      deps.logger?.warn('payment arrived after its order closed: refunded', { orderId: order.id, eventId: event.id, refundId: refund.refundId });
      refunded = true;
    }
    await deps.events.record(SOURCE, event.id);
    ctx.body = refunded ? { received: true, refunded: true } : { received: true };
  });

  return router;
}

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
