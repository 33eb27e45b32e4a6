/**
 * The local payment provider's hosted checkout pages (pay, paid, expired, failed delivery):
 * self-contained HTML, every value escaped. Served by `checkoutPageRoutes` in api/payments.ts.
 */
import type { Context } from 'koa';
import type { LocalCheckoutSession } from '../payments/local.js';

export function sendPage(ctx: Context, status: number, html: string) {
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
