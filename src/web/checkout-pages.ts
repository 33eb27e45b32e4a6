/**
 * The local payment provider's hosted checkout pages (pay, paid, expired, failed delivery):
 * self-contained HTML in the shop's look (layout.ts), every value escaped. Served by
 * `checkoutPageRoutes` in api/payments.ts.
 */
import type { Context } from 'koa';
import { formatAmount } from '../orders/catalog.js';
import type { LocalCheckoutSession } from '../payments/local.js';
import { staticAssets } from './assets.js';
import { escapeHtml, renderPage, safeHref, sendHtml } from './layout.js';

/**
 * Answers with one of these pages: private (the session id in the URL is the key to the page, so
 * never cached nor leaked to another site), under a CSP that allows exactly the inline stylesheet.
 */
export function sendPage(ctx: Context, status: number, html: string) {
  sendHtml(ctx, status, html, {
    private: true,
    csp: `default-src 'none'; style-src ${staticAssets().stylesheet.inlineSource}; base-uri 'none'; frame-ancestors 'none'`,
  });
}

/** The shop's shell, self-contained: this page's CSP allows exactly the shared stylesheet inline. */
const page = (title: string, body: string) =>
  renderPage({
    title,
    main: `<div class="card">${body}
<p class="hint">Local payment provider: no card is charged and no money moves.</p></div>`,
    badge: 'Test payment',
    narrow: true,
    selfContained: true,
    noindex: true,
  });

const payForm = (s: LocalCheckoutSession, token: string, label: string) =>
  `<form method="post" action="/checkout/${escapeHtml(s.sessionId)}">
<input type="hidden" name="token" value="${escapeHtml(token)}"><button type="submit" class="wide">${escapeHtml(label)}</button></form>`;

const summary = (s: LocalCheckoutSession) =>
  `<h1>${escapeHtml(s.description)}</h1>
<p class="amount">${escapeHtml(formatAmount(s.amountCents, s.currency))}</p>
${s.email ? `<p class="muted">Receipt to ${escapeHtml(s.email)}</p>` : ''}`;

export function payPage(s: LocalCheckoutSession, token: string): string {
  return page(
    'Checkout',
    `${summary(s)}
${payForm(s, token, `Pay ${formatAmount(s.amountCents, s.currency)}`)}
<p class="center"><a href="${safeHref(s.cancelUrl)}">Cancel and return to the shop</a></p>`,
  );
}

export function paidPage(s: LocalCheckoutSession, token: string): string {
  return page('Already paid', `${summary(s)}<p><strong>This order is already paid.</strong></p>${payForm(s, token, 'Continue to your order')}`);
}

export function deliveryFailedPage(s: LocalCheckoutSession, token: string): string {
  return page(
    'Payment not confirmed yet',
    `${summary(s)}<p><strong>Your payment is recorded, but the shop could not be told yet.</strong>
You will not be charged twice: try again in a moment.</p>${payForm(s, token, 'Try again')}`,
  );
}

export function expiredPage(s: LocalCheckoutSession): string {
  return page(
    'Checkout expired',
    `<h1>This checkout has expired</h1><p class="muted">${escapeHtml(s.description)}: nothing was charged.</p>
<p><a href="${safeHref(s.cancelUrl)}">Return to the shop</a></p>`,
  );
}

export function unknownPage(): string {
  return page('Not found', '<h1>No such checkout</h1><p class="muted">Check the link you followed, or start again from the shop.</p>');
}

export function forbiddenPage(sessionId: string): string {
  return page(
    'Please try again',
    `<h1>This form is not valid</h1><p class="muted">Nothing was charged.</p>
<p><a href="/checkout/${escapeHtml(encodeURIComponent(sessionId))}">Reload the checkout page</a></p>`,
  );
}
