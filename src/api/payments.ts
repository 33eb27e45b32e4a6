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
import type { Context } from 'koa';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { OrderRepository, WebhookEvents } from '../orders/repository.js';
import { DeliveryFailed, type LocalCheckoutSession, type LocalPayments } from '../payments/local.js';
import { WebhookRejected, type PaymentProvider } from '../payments/port.js';
import { paymentReceivedFrom, verifyEvent } from '../payments/stripe-events.js';
import { orderWorkflowId, paymentReceivedSignal, type OrderView } from '../workflows/sticker-order/api.js';
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

// ---- pages: self-contained HTML, every value escaped ----

function sendPage(ctx: Context, status: number, html: string) {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set({
    'cache-control': 'no-store',
    // The session id in the URL is the key to the page: never leak it to another site.
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
  });
  ctx.body = html;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Only http(s) links are rendered as links. */
const safeHref = (url: string) => (/^https?:\/\//i.test(url) ? escapeHtml(url) : '#');

/** Minor units to a price, with the currency's own number of decimals (none for JPY). */
export function formatAmount(amountMinor: number, currency: string): string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amountMinor / 10 ** digits);
}

const STYLE = `
  *{box-sizing:border-box}
  body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f4f1ec;color:#1f2328;
    font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;padding:24px}
  main{width:100%;max-width:420px;background:#fff;border-radius:16px;box-shadow:0 8px 30px rgba(0,0,0,.08);padding:32px}
  .brand{display:flex;justify-content:space-between;align-items:center;font-weight:700;margin-bottom:24px}
  .badge{font-size:12px;font-weight:600;background:#fff4d6;color:#8a5a00;border-radius:999px;padding:2px 10px}
  h1{font-size:20px;margin:0 0 8px}
  .amount{font-size:36px;font-weight:700;margin:8px 0 4px}
  .muted{color:#656d76;font-size:14px}
  form{margin:24px 0 12px}
  button{width:100%;border:0;border-radius:10px;padding:14px;font:inherit;font-weight:600;color:#fff;background:#5b4bdb;cursor:pointer}
  button:hover{background:#4a3bc8}
  a{color:#5b4bdb}
  .center{text-align:center}
  .note{margin-top:24px;font-size:12px;color:#8c959f}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)} · stickerflow</title><style>${STYLE}</style></head>
<body><main><div class="brand"><span>stickerflow</span><span class="badge">Test payment</span></div>
${body}
<p class="note">Local payment provider: no card is charged and no money moves.</p></main></body></html>`;
}

const payForm = (s: LocalCheckoutSession, token: string, label: string) =>
  `<form method="post" action="/checkout/${escapeHtml(s.sessionId)}">
<input type="hidden" name="token" value="${escapeHtml(token)}"><button type="submit">${escapeHtml(label)}</button></form>`;

const summary = (s: LocalCheckoutSession) =>
  `<h1>${escapeHtml(s.description)}</h1>
<p class="amount">${escapeHtml(formatAmount(s.amountCents, s.currency))}</p>
<p class="muted">Receipt to ${escapeHtml(s.email)}</p>`;

function payPage(s: LocalCheckoutSession, token: string): string {
  return page(
    'Checkout',
    `${summary(s)}
${payForm(s, token, `Pay ${formatAmount(s.amountCents, s.currency)}`)}
<p class="center"><a href="${safeHref(s.cancelUrl)}">Cancel and return to the shop</a></p>`,
  );
}

function paidPage(s: LocalCheckoutSession, token: string): string {
  return page('Already paid', `${summary(s)}<p><strong>This order is already paid.</strong></p>${payForm(s, token, 'Continue to your order')}`);
}

function deliveryFailedPage(s: LocalCheckoutSession, token: string): string {
  return page(
    'Payment not confirmed yet',
    `${summary(s)}<p><strong>Your payment is recorded, but the shop could not be told yet.</strong>
You will not be charged twice: try again in a moment.</p>${payForm(s, token, 'Try again')}`,
  );
}

function expiredPage(s: LocalCheckoutSession): string {
  return page(
    'Checkout expired',
    `<h1>This checkout has expired</h1><p class="muted">${escapeHtml(s.description)}: nothing was charged.</p>
<p><a href="${safeHref(s.cancelUrl)}">Return to the shop</a></p>`,
  );
}

function unknownPage(): string {
  return page('Not found', '<h1>No such checkout</h1><p class="muted">Check the link you followed, or start again from the shop.</p>');
}

function forbiddenPage(sessionId: string): string {
  return page(
    'Please try again',
    `<h1>This form is not valid</h1><p class="muted">Nothing was charged.</p>
<p><a href="/checkout/${escapeHtml(encodeURIComponent(sessionId))}">Reload the checkout page</a></p>`,
  );
}
