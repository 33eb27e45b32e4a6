/**
 * The operator console's HTML (`/ops`): server-rendered, dense tables, no script (the CSP allows
 * none inline, and a console that works without one works everywhere). Every value goes through
 * the `html` template below, which escapes whatever it is given unless it is already `Html`, so
 * nothing from an order (a hostile shipping name) can become markup. Its stylesheet is the
 * shop's (site.css: colours, focus rings, forms) followed by the console's own denser rules, served
 * as one content-hashed file by the ops routes, so the login page has it too.
 */
import { createHash } from 'node:crypto';
import { EMAIL_KINDS, type EmailKind } from '../email/port.js';
import type { SentEmail } from '../email/sent-emails.js';
import { describeProduct, formatAmount } from '../orders/catalog.js';
import type { AvailableAction, OpsActionKind, OpsActionResult } from '../ops/port.js';
import type { AlertRow, Dashboard, OpsActionRow, OrderDetail, OrderFilter, OrderSummary, StatusCounts } from '../ops/queries.js';
import { escapeHtml, safeHref } from '../text/html.js';
import { ORDER_STATUSES, type OrderRefund, type OrderStatus, type TimelineEntry } from '../workflows/sticker-order/api.js';
import { staticAssets } from './assets.js';
import { COUNTRIES } from './countries.js';

// --- escaping: one template that escapes by default ---

/** Markup that is already safe (made by `html`, or escaped by hand). */
export class Html {
  constructor(readonly value: string) {}
  toString() {
    return this.value;
  }
}

type Part = Html | string | number | boolean | null | undefined | Part[];

const renderPart = (v: Part): string =>
  v instanceof Html ? v.value : Array.isArray(v) ? v.map(renderPart).join('') : v === null || v === undefined || v === false ? '' : escapeHtml(String(v));

/** Every interpolated value is escaped unless it is `Html`; arrays are joined; null, undefined and false vanish. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => (out += renderPart(v) + strings[i + 1]!));
  return new Html(out);
}

/** An absolute link to elsewhere (the Temporal UI, a carrier), only when it is http(s). */
const external = (url: string, label: Part) => html`<a href="${new Html(safeHref(url))}" rel="noopener noreferrer" target="_blank">${label}<span class="visually-hidden"> (opens in a new tab)</span> ↗</a>`;

// --- the console's URLs ---

export const OPS_PATHS = {
  dashboard: '/ops',
  login: '/ops/login',
  logout: '/ops/logout',
  orders: (f: { status?: string; q?: string; cursor?: string } = {}) => {
    const query = new URLSearchParams(Object.entries(f).filter((e): e is [string, string] => Boolean(e[1])));
    return `/ops/orders${query.size ? `?${query}` : ''}`;
  },
  order: (id: string) => `/ops/orders/${encodeURIComponent(id)}`,
  confirm: (id: string, action: OpsActionKind) => `/ops/orders/${encodeURIComponent(id)}/confirm/${action}`,
  act: (id: string, action: OpsActionKind) => `/ops/orders/${encodeURIComponent(id)}/actions/${action}`,
  emails: (cursor?: string) => `/ops/emails${cursor ? `?${new URLSearchParams({ cursor })}` : ''}`,
  eml: (key: string) => `/ops/emails/${encodeURIComponent(key)}/eml`,
};

// --- words ---

export const STATUS_LABELS: Record<OrderStatus, string> = {
  awaiting_payment: 'Awaiting payment',
  paid: 'Paid',
  rendering: 'Rendering',
  submitted: 'Submitted',
  in_production: 'In production',
  shipped: 'Shipped',
  delivered: 'Delivered',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

const EMAIL_KIND_LABELS: Record<EmailKind, string> = {
  order_confirmation: 'Order confirmation',
  order_shipped: 'Shipped',
  order_delivered: 'Delivered',
  order_refunded: 'Refunded',
  buddy_ready: 'Buddy ready',
};
const emailKindLabel = (kind: string) => EMAIL_KIND_LABELS[kind as EmailKind] ?? kind;

interface ActionWords {
  label: string;
  /** What the button's confirmation page says will happen. */
  effect: string;
  /** Money or the shopper is affected: the button is drawn as dangerous. */
  danger?: boolean;
}

export const ACTION_WORDS: Record<OpsActionKind, ActionWords> = {
  refund: {
    label: 'Refund',
    effect: 'Refunds what is left of the payment to the shopper, once, and emails them. The reason is shown to the shopper.',
    danger: true,
  },
  cancel: {
    label: 'Cancel order',
    effect:
      'Stops the order. Before it reaches the printer, the checkout is closed or the payment refunded; at the printer, it is cancelled there if the printer still can, then refunded.',
    danger: true,
  },
  retry_submission: {
    label: 'Retry submission',
    effect: 'The order has been failing to reach the printer; it submits again now, its retries started afresh. The printer takes our order id, so no second order is made.',
  },
  resend_email: {
    label: 'Resend email',
    effect: 'Sends a new copy of one of the emails this order has had, marked as resent.',
  },
  reprint: {
    label: 'Reprint',
    effect: 'Makes a new order of the same stickers to the same address, for no payment (a quality claim). It goes to the printer at once and is listed under this order’s reprints.',
  },
};

const countryNames = new Map(COUNTRIES.map((c) => [c.code, c.name]));

// --- time ---

const DATE_TIME = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

/** "4 d 3 h", "12 min": the two largest units. */
export function duration(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
  ];
  const parts: string[] = [];
  let rest = Math.max(ms, 0);
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n || parts.length) parts.push(`${n} ${name}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  const shown = parts.filter((p) => !p.startsWith('0 '));
  return shown.length ? shown.join(' ') : 'just now';
}

const ago = (iso: string, now: number) => {
  const d = duration(now - Date.parse(iso));
  return d === 'just now' ? d : `${d} ago`;
};

/** A timestamp in UTC, with how long ago underneath when `now` is given. */
function when(iso: string | undefined, now?: number): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  const shown = DATE_TIME.format(new Date(iso));
  return html`<time datetime="${iso}" title="${iso}">${shown}</time>${now === undefined ? '' : html`<span class="ago">${ago(iso, now)}</span>`}`;
}

/** How long ago, the timestamp itself on hover: for columns where recency is what matters. */
const since = (iso: string | undefined, now: number) =>
  iso ? html`<time datetime="${iso}" title="${DATE_TIME.format(new Date(iso))} UTC">${ago(iso, now)}</time>` : html`<span class="muted">—</span>`;

// --- small parts ---

const mono = (s: string | undefined) => (s ? html`<span class="mono">${s}</span>` : html`<span class="muted">—</span>`);

const statusBadge = (status: string | undefined) =>
  status
    ? html`<span class="pill" data-status="${status}">${STATUS_LABELS[status as OrderStatus] ?? status}</span>`
    : html`<span class="pill" data-status="none">No record yet</span>`;

const REFUND_LABELS: Record<OrderRefund['status'], string> = {
  not_needed: 'No refund needed',
  pending: 'Refund pending',
  refunded: 'Refunded',
  failed: 'Refund failed',
};
const refundBadge = (refund: OrderRefund | undefined) =>
  refund ? html`<span class="pill" data-refund="${refund.status}">${REFUND_LABELS[refund.status] ?? refund.status}</span>` : '';

const EMAIL_STATUS_LABELS: Record<SentEmail['status'], string> = {
  sending: 'Sending',
  sent: 'Sent',
  unknown: 'Outcome unknown',
  failed: 'Failed, retrying',
  refused: 'Refused',
};
const emailBadge = (e: SentEmail) =>
  html`<span class="pill" data-email="${e.status}">${EMAIL_STATUS_LABELS[e.status] ?? e.status}</span>${e.possibleDuplicate ? html` <span class="pill" data-flag="duplicate" title="A copy went out after an attempt whose outcome was unknown: the shopper may have two">Possible duplicate</span>` : ''}`;

const orderLink = (id: string) => html`<a class="mono" href="${OPS_PATHS.order(id)}">${id}</a>`;

const empty = (text: string) => html`<p class="empty">${text}</p>`;

const section = (title: string, body: Part, opts: { id?: string; count?: number; aside?: Part } = {}) =>
  html`<section class="panel"${opts.id ? html` id="${opts.id}" aria-labelledby="${opts.id}-h"` : ''}>
<div class="panel-head"><h2${opts.id ? html` id="${opts.id}-h"` : ''}>${title}${opts.count === undefined ? '' : html` <span class="count">${opts.count}</span>`}</h2>${opts.aside ?? ''}</div>
${body}
</section>`;

const table = (head: string[], rows: Html[], emptyText: string, cls = '') =>
  rows.length
    ? html`<div class="table-wrap"><table class="grid ${cls}"><thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div>`
    : empty(emptyText);

const amount = (cents: number, currency: string) => html`<span class="num">${formatAmount(cents, currency)}</span>`;

const customer = (o: OrderSummary) => html`${o.shipName ? html`<span class="strong">${o.shipName}</span><br>` : ''}<span class="muted">${o.email}</span>`;

// --- the shell ---

export interface ConsoleLinks {
  /** The workflow's page in the Temporal UI. */
  workflow(workflowId: string): string;
}

let stylesheet: { url: string; body: Buffer } | undefined;

/** The console's one stylesheet: the shop's, then the console's own rules. */
export function opsStylesheet(): { url: string; body: Buffer } {
  if (stylesheet) return stylesheet;
  const body = Buffer.from(`${staticAssets().stylesheet.css}\n${OPS_CSS}`);
  stylesheet = { url: `/ops/assets/ops.${createHash('sha256').update(body).digest('hex').slice(0, 16)}.css`, body };
  return stylesheet;
}

type Section = 'dashboard' | 'orders' | 'emails';

function shell(opts: { title: string; main: Html; current?: Section; signedIn?: boolean; q?: string }): string {
  const nav = (section: Section, href: string, label: string) =>
    html`<a href="${href}"${opts.current === section ? html` aria-current="page"` : ''}>${label}</a>`;
  const signedIn = opts.signedIn ?? true;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(opts.title)} · stickerflow ops</title>
<link rel="stylesheet" href="${opsStylesheet().url}">
<link rel="icon" href="${staticAssets().icon.url}" type="image/svg+xml">
</head>
<body class="ops">
<a class="skip-link" href="#main">Skip to content</a>
${html`<header class="ops-bar">
<a class="ops-brand" href="${OPS_PATHS.dashboard}">${new Html(staticAssets().icon.svg)}<span>stickerflow</span><span class="ops-tag">ops</span></a>
${
  signedIn
    ? html`<nav class="ops-nav" aria-label="Console">${nav('dashboard', OPS_PATHS.dashboard, 'Dashboard')}${nav('orders', OPS_PATHS.orders(), 'Orders')}${nav('emails', OPS_PATHS.emails(), 'Emails')}</nav>
<form class="ops-search" method="get" action="/ops/orders" role="search"><label class="visually-hidden" for="ops-q">Search orders</label><input id="ops-q" type="search" name="q" value="${opts.q ?? ''}" placeholder="Order id, email, buddy id, payment, tracking, name"><button type="submit">Search</button></form>
<form class="ops-logout" method="post" action="${OPS_PATHS.logout}"><button type="submit" class="quiet">Sign out</button></form>`
    : ''
}
</header>`}
<main id="main" class="ops-main" tabindex="-1">
${opts.main}
</main>
<footer class="ops-foot">All times are UTC.</footer>
</body>
</html>
`;
}

// --- pages ---

export function loginPage(opts: { error?: string; next?: string } = {}): string {
  return shell({
    title: 'Sign in',
    signedIn: false,
    main: html`<div class="login panel">
<h1>Operator console</h1>
<p class="muted">Sign in with the operator token (<span class="mono">OPS_TOKEN</span>). The session lasts 12 hours.</p>
${opts.error ? html`<p class="message error" role="alert">${opts.error}</p>` : ''}
<form method="post" action="${OPS_PATHS.login}">
<input type="hidden" name="next" value="${opts.next ?? OPS_PATHS.dashboard}">
<div class="field"><label for="token">Operator token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus></div>
<button type="submit" class="wide">Sign in</button>
</form>
</div>`,
  });
}

export function errorPage(status: number, message: string): string {
  const title = status === 404 ? 'Not found' : status === 403 ? 'Forbidden' : status === 400 ? 'Bad request' : 'Something went wrong';
  return shell({
    title,
    main: html`<div class="panel"><h1>${title}</h1><p>${message}</p><p><a href="${OPS_PATHS.dashboard}">Back to the dashboard</a></p></div>`,
  });
}

function statusTiles(counts: StatusCounts, current?: string): Html {
  const tile = (href: string, label: string, n: number, status: string, active: boolean) =>
    html`<li><a class="tile" href="${href}" data-status="${status}"${active ? html` aria-current="true"` : ''}><span class="tile-n">${n}</span><span class="tile-label">${label}</span></a></li>`;
  return html`<ul class="tiles" aria-label="Orders by status">
${tile(OPS_PATHS.orders(), 'All orders', counts.total, 'all', current === undefined)}
${ORDER_STATUSES.map((s) => tile(OPS_PATHS.orders({ status: s }), STATUS_LABELS[s], counts.byStatus[s], s, current === s))}
</ul>`;
}

const stuckRows = (orders: OrderSummary[], now: number) =>
  orders.map(
    (o) => html`<tr>
<td>${orderLink(o.id)}</td>
<td>${statusBadge(o.status)}</td>
<td class="num strong">${o.updatedAt ? duration(now - Date.parse(o.updatedAt)) : '—'}</td>
<td>${o.lastEvent?.note ?? ''}${o.lastEvent ? html`<div class="muted small">${when(o.lastEvent.at)}</div>` : ''}</td>
<td>${customer(o)}</td>
<td>${o.printerId}</td>
</tr>`,
  );

const refundRows = (orders: OrderSummary[], now: number) =>
  orders.map(
    (o) => html`<tr>
<td>${orderLink(o.id)}</td>
<td>${refundBadge(o.refund)}</td>
<td>${amount(o.amountCents, o.currency)}</td>
<td class="wrap">${o.refund && 'error' in o.refund ? o.refund.error : ''}</td>
<td>${statusBadge(o.status)}</td>
<td>${customer(o)}</td>
<td>${since(o.updatedAt, now)}</td>
</tr>`,
  );

function alertRows(alerts: AlertRow[], links: ConsoleLinks, now: number, withReference = true): Html[] {
  return alerts.map(
    (a) => html`<tr>
<td>${when(a.createdAt, now)}</td>
<td><span class="strong">${a.title}</span><div class="muted small">step: <span class="mono">${a.failedStep}</span></div></td>
<td class="wrap error-text">${a.error}</td>
<td>${a.refund ?? ''}</td>
${withReference ? html`<td>${a.reference?.startsWith('or_') ? orderLink(a.reference) : mono(a.reference)}</td>` : ''}
<td>${a.workflowId ? external(links.workflow(a.workflowId), 'Workflow') : ''}</td>
</tr>`,
  );
}

function emailRows(emails: SentEmail[], opts: { hasOutbox: boolean; now: number; withReference: boolean }): Html[] {
  return emails.map(
    (e) => html`<tr>
<td>${when(e.sentAt ?? e.createdAt, opts.now)}</td>
<td class="wrap"><span class="strong">${emailKindLabel(e.kind)}</span>${/:resend-\d+$/.test(e.idempotencyKey) ? html` <span class="pill" data-flag="resend">Resent</span>` : ''}<div>${e.subject}</div><div class="muted small">to ${e.recipient}</div></td>
<td>${emailBadge(e)}${e.attempts > 1 ? html`<div class="muted small">${e.attempts} attempts</div>` : ''}${e.lastError ? html`<div class="error-text small wrap">${e.lastError}</div>` : ''}</td>
${opts.withReference ? html`<td>${e.reference.startsWith('or_') ? orderLink(e.reference) : mono(e.reference)}</td>` : ''}
<td>${e.transport === 'outbox' ? 'Outbox' : 'SMTP'}${opts.hasOutbox && e.transport === 'outbox' && e.outboxFile ? html`<div><a href="${OPS_PATHS.eml(e.idempotencyKey)}">View .eml</a></div>` : ''}</td>
</tr>`,
  );
}

const EMAIL_HEAD = ['When', 'Email', 'Status'];

export function dashboardPage(d: Dashboard, opts: { stallAfterMs: number; links: ConsoleLinks; hasOutbox: boolean; now?: number }): string {
  const now = opts.now ?? Date.now();
  const attention = d.stuck.length + d.refundProblems.length;
  return shell({
    title: 'Dashboard',
    current: 'dashboard',
    main: html`<div class="page-head"><h1>Dashboard</h1><p class="muted">${d.counts.total} orders${d.counts.unrecorded ? html`, ${d.counts.unrecorded} not recorded yet` : ''} · ${attention ? html`<span class="strong error-text">${attention} need attention</span>` : 'nothing needs attention'}</p></div>
${statusTiles(d.counts)}
${section(
  `Stuck orders`,
  html`<p class="muted small">Should be moving, yet nothing recorded for more than ${duration(opts.stallAfterMs)}.</p>${table(['Order', 'Status', 'Stuck for', 'Last event', 'Customer', 'Printer'], stuckRows(d.stuck, now), 'No order is stuck.')}`,
  { id: 'stuck', count: d.stuck.length },
)}
${section(`Refunds failed or pending`, table(['Order', 'Refund', 'Amount', 'Error', 'Order status', 'Customer', 'Updated'], refundRows(d.refundProblems, now), 'Every refund went through.'), { id: 'refunds', count: d.refundProblems.length })}
${section('Recent alerts', table(['When', 'Alert', 'Error', 'Refund', 'About', ''], alertRows(d.alerts, opts.links, now), 'No alerts.'), { id: 'alerts' })}
${section(
  'Recent emails',
  table([...EMAIL_HEAD, 'About', 'Sent by'], emailRows(d.emails, { hasOutbox: opts.hasOutbox, now, withReference: true }), 'No email sent yet.'),
  { id: 'emails', aside: html`<a href="${OPS_PATHS.emails()}">All emails</a>` },
)}`,
  });
}

export function ordersPage(opts: { orders: OrderSummary[]; nextCursor?: string; filter: OrderFilter; counts: StatusCounts; now?: number }): string {
  const now = opts.now ?? Date.now();
  const { status, q } = opts.filter;
  const heading = q ? `Orders matching “${q}”` : status ? `${STATUS_LABELS[status]} orders` : 'All orders';
  const rows = opts.orders.map(
    (o) => html`<tr>
<td>${orderLink(o.id)}${o.reprintOf ? html` <span class="pill" data-flag="reprint">Reprint</span>` : ''}</td>
<td>${when(o.createdAt)}</td>
<td>${customer(o)}</td>
<td>${o.product ? describeProduct(o.product) : html`<span class="muted">—</span>`}${o.shipCountry ? html`<div class="muted small">to ${countryNames.get(o.shipCountry) ?? o.shipCountry}</div>` : ''}</td>
<td class="num">${amount(o.amountCents, o.currency)}</td>
<td>${statusBadge(o.status)} ${o.refund && o.refund.status !== 'not_needed' ? refundBadge(o.refund) : ''}</td>
<td>${since(o.updatedAt, now)}</td>
</tr>`,
  );
  return shell({
    title: heading,
    current: 'orders',
    q,
    main: html`<div class="page-head"><h1>${heading}</h1>${q || status ? html`<p><a href="${OPS_PATHS.orders()}">Clear the filter</a></p>` : ''}</div>
${q ? '' : statusTiles(opts.counts, status)}
${section(
  `${opts.orders.length}${opts.nextCursor ? '+' : ''} order${opts.orders.length === 1 ? '' : 's'}`,
  html`${table(['Order', 'Placed', 'Customer', 'Product', 'Amount', 'Status', 'Updated'], rows, q ? 'No order matches. Search by order id (or_…), email, buddy id (an_…), payment or checkout id, printer order id, tracking number or a part of the shipping name.' : 'No orders here.')}
${opts.nextCursor ? html`<p class="pager"><a class="button secondary" href="${OPS_PATHS.orders({ status, q, cursor: opts.nextCursor })}">Older orders →</a></p>` : ''}`,
)}`,
  });
}

export interface Flash {
  ok: boolean;
  message: string;
  action?: OpsActionKind;
  newOrderId?: string;
  repeated?: boolean;
}

export interface OrderPageModel {
  detail: OrderDetail;
  /** Undefined when they could not be read (Temporal did not answer). */
  actions?: AvailableAction[];
  workflowId: string;
  links: ConsoleLinks;
  printFileUrl?: string;
  flash?: Flash;
  hasOutbox: boolean;
  now?: number;
}

function timeline(entries: TimelineEntry[]): Html {
  if (!entries.length) return empty('Nothing recorded yet.');
  return html`<ol class="ops-timeline">${[...entries].reverse().map(
    (e) => html`<li data-status="${e.status}"><div class="tl-head">${statusBadge(e.status)} ${when(e.at)}</div>${e.note ? html`<p>${e.note}</p>` : ''}</li>`,
  )}</ol>`;
}

const facts = (rows: [string, Part][]) =>
  html`<dl class="facts">${rows.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;

function actionResult(r: OpsActionResult | undefined): Html {
  if (!r) return html`<span class="pill" data-email="sending">In progress</span>`;
  return html`<span class="pill" data-outcome="${r.outcome}">${r.outcome === 'done' ? 'Done' : 'Started'}</span> ${r.message}${r.newOrderId ? html` — ${orderLink(r.newOrderId)}` : ''}`;
}

const actionRows = (rows: OpsActionRow[], now: number) =>
  rows.map(
    (a) => html`<tr>
<td>${when(a.createdAt, now)}</td>
<td><span class="strong">${ACTION_WORDS[a.action]?.label ?? a.action}</span>${a.result?.email ? html`<div class="small">${emailKindLabel(a.result.email.kind)}</div>` : ''}<div class="muted small mono" title="Request id">${a.requestId}</div></td>
<td class="wrap">${a.actor}</td>
<td class="wrap">${a.reason ?? ''}</td>
<td class="wrap wide-text">${actionResult(a.result)}</td>
</tr>`,
  );

function actionPanel(id: string, actions: AvailableAction[] | undefined): Html {
  if (!actions) return html`<p class="message error">The order’s workflow could not be asked which actions apply now (is Temporal up?). Reload to try again.</p>`;
  return html`<ul class="action-list">${actions.map((a) => {
    const words = ACTION_WORDS[a.action];
    return a.available
      ? html`<li><a class="button${words.danger ? ' danger' : ' secondary'}" href="${OPS_PATHS.confirm(id, a.action)}">${words.label}…</a></li>`
      : html`<li class="unavailable"><span class="button disabled" aria-disabled="true">${words.label}</span><span class="why">${a.why ?? 'not available now'}</span></li>`;
  })}</ul>`;
}

function flashMessage(f: Flash): Html {
  return html`<div class="message ${f.ok ? 'success' : 'error'}" role="status">${f.action ? html`<span class="strong">${ACTION_WORDS[f.action].label}:</span> ` : ''}${f.message}${f.newOrderId ? html` — new order ${orderLink(f.newOrderId)}` : ''}${f.repeated ? html`<div class="small">This request had been carried out before: nothing was done again.</div>` : ''}</div>`;
}

export function orderPage(m: OrderPageModel): string {
  const now = m.now ?? Date.now();
  const { order, emails, alerts, operatorActions, reprints, reprintOf } = m.detail;
  const v = order.view;
  const ship = v?.shipping;
  const refund = v?.refund;
  const head = html`<div class="page-head order-head">
<p class="crumbs"><a href="${OPS_PATHS.orders()}">Orders</a> /</p>
<h1><span class="mono">${order.id}</span> ${statusBadge(order.status ?? v?.status)} ${refundBadge(refund)}${order.reprintOf ? html` <span class="pill" data-flag="reprint">Reprint</span>` : ''}</h1>
<p class="muted">Placed ${when(order.createdAt)} by ${order.email} · ${amount(order.amountCents, order.currency)}${order.updatedAt ? html` · last recorded ${ago(order.updatedAt, now)}` : ''}</p>
</div>`;

  const main = html`
${m.flash ? flashMessage(m.flash) : ''}
${v?.error ? html`<div class="message error"><span class="strong">${v.status === 'cancelled' ? 'Cancelled' : 'Failed'}:</span> ${v.error}</div>` : ''}
${section('Timeline', v ? timeline(v.timeline) : empty('The workflow has recorded nothing for this order yet.'), { id: 'timeline' })}
${section(
  'Emails sent',
  table(
    [...EMAIL_HEAD, 'Sent by'],
    emailRows(emails, { hasOutbox: m.hasOutbox, now, withReference: false }),
    'No email was sent about this order.',
  ),
  { id: 'emails', count: emails.length },
)}
${section('Alerts', table(['When', 'Alert', 'Error', 'Refund', ''], alertRows(alerts, m.links, now, false), 'No alert was raised about this order.'), { id: 'alerts', count: alerts.length })}
${section(
  'Operator actions',
  table(['When', 'Action', 'By', 'Reason', 'Outcome'], actionRows(operatorActions, now), 'No operator has acted on this order.'),
  { id: 'operator-actions', count: operatorActions.length },
)}
${
  reprints.length || reprintOf
    ? section(
        'Reprints',
        html`${reprintOf ? html`<p>This order reprints ${orderLink(reprintOf.id)} ${statusBadge(reprintOf.status)}, for no payment.</p>` : ''}${
          reprints.length
            ? table(
                ['Reprint', 'Made', 'Status'],
                reprints.map((r) => html`<tr><td>${orderLink(r.id)}</td><td>${when(r.createdAt, now)}</td><td>${statusBadge(r.status)}</td></tr>`),
                '',
              )
            : ''
        }`,
        { id: 'reprints' },
      )
    : ''
}`;

  const side = html`
${section('Actions', actionPanel(order.id, m.actions), { id: 'actions' })}
${section(
  'Items',
  v
    ? facts([
        ['Product', describeProduct(v.product)],
        ['Shape', v.product.shape],
        ['Size', `${v.product.sizeInches} in`],
        ['Quantity', v.product.quantity],
        ['Buddy', html`<a class="mono" href="${OPS_PATHS.orders({ q: order.animationId })}" title="Other orders of this buddy">${order.animationId}</a>`],
      ])
    : facts([['Buddy', mono(order.animationId)]]),
  { id: 'items' },
)}
${section(
  'Customer',
  html`${facts([['Email', html`<a href="${OPS_PATHS.orders({ q: order.email })}" title="Other orders of this customer">${order.email}</a>`]])}
${
  ship
    ? html`<h3>Ship to</h3><address class="address">${ship.name}<br>${ship.line1}<br>${ship.line2 ? html`${ship.line2}<br>` : ''}${ship.city}${ship.region ? html`, ${ship.region}` : ''} ${ship.postalCode}<br>${countryNames.get(ship.country) ?? ship.country} (${ship.country})</address>`
    : ''
}`,
  { id: 'customer' },
)}
${section(
  'Payment',
  facts([
    ['Total', amount(order.amountCents, order.currency)],
    ['Provider', order.paymentProvider],
    ['Status', v?.payment ? html`<span class="pill" data-outcome="done">Paid</span> ${when(v.payment.paidAt)}` : order.reprintOf ? 'Nothing to pay (reprint)' : html`<span class="muted">Not paid</span>`],
    ['Paid', v?.payment ? amount(v.payment.amountCents, v.payment.currency) : undefined],
    ['Payment id', v?.payment ? mono(v.payment.paymentIntentId) : undefined],
    ['Checkout', order.checkoutSessionId ? mono(order.checkoutSessionId) : undefined],
  ]),
  { id: 'payment' },
)}
${section(
  'Refund',
  refund
    ? facts([
        ['Status', refundBadge(refund)],
        ['Amount', refund.status === 'refunded' ? amount(refund.amountCents, v?.payment?.currency ?? order.currency) : undefined],
        ['Refund id', refund.status === 'refunded' ? mono(refund.refundId) : undefined],
        ['Error', 'error' in refund && refund.error ? html`<span class="error-text">${refund.error}</span>` : undefined],
      ])
    : empty('No refund.'),
  { id: 'refund' },
)}
${section(
  'Fulfilment',
  facts([
    ['Printer', order.printerId],
    ['Printer order', v?.vendorOrderId ? mono(v.vendorOrderId) : undefined],
    ['Print file', m.printFileUrl ? html`<a href="${new Html(safeHref(m.printFileUrl))}">Print file (PDF)</a><div class="muted small">link valid for an hour</div>` : html`<span class="muted">Not rendered yet</span>`],
    [
      'Tracking',
      v?.tracking
        ? html`${v.tracking.carrier} ${v.tracking.url ? external(v.tracking.url, html`<span class="mono">${v.tracking.number}</span>`) : mono(v.tracking.number)}`
        : undefined,
    ],
  ]),
  { id: 'fulfilment' },
)}
${section('Workflow', html`<p class="mono small wrap">${m.workflowId}</p><p>${external(m.links.workflow(m.workflowId), 'Open in the Temporal UI')}</p>`, { id: 'workflow' })}`;

  return shell({
    title: order.id,
    current: 'orders',
    main: html`${head}<div class="order-grid"><div class="order-main">${main}</div><aside class="order-side" aria-label="Order facts and actions">${side}</aside></div>`,
  });
}

export interface ConfirmModel {
  detail: OrderDetail;
  action: OpsActionKind;
  available?: AvailableAction;
  requestId: string;
  actor?: string;
  reason?: string;
  kind?: EmailKind;
  /** Why the last try was refused (409), shown above the form. */
  error?: string;
}

/** What exactly the action will do to this order, in its own numbers. */
function specifics(m: ConfirmModel): Html {
  const { order } = m.detail;
  const v = order.view;
  switch (m.action) {
    case 'refund':
      return v?.payment
        ? html`<p>Refund <span class="strong">${formatAmount(v.payment.amountCents, v.payment.currency)}</span> of payment ${mono(v.payment.paymentIntentId)} (${order.paymentProvider}) to ${order.email}.</p>`
        : html`<p class="error-text">This order has no recorded payment.</p>`;
    case 'cancel':
      return html`<p>Order status now: ${statusBadge(order.status)}${v?.vendorOrderId ? html` at the printer ${order.printerId} as ${mono(v.vendorOrderId)}` : ''}.${v?.payment ? html` The payment of ${formatAmount(v.payment.amountCents, v.payment.currency)} is refunded.` : ''}</p>`;
    case 'retry_submission':
      return html`<p>Submit to the printer <span class="strong">${order.printerId}</span> again now.</p>`;
    case 'resend_email':
      return html`<p>To ${order.email}.</p>`;
    case 'reprint':
      return v
        ? html`<p>${describeProduct(v.product)} to ${v.shipping.name}, ${v.shipping.city}, ${countryNames.get(v.shipping.country) ?? v.shipping.country}, through ${order.printerId}. Nothing is charged.</p>`
        : html`<p class="error-text">This order has no record to reprint from.</p>`;
  }
}

export function confirmPage(m: ConfirmModel): string {
  const { order, emails } = m.detail;
  const words = ACTION_WORDS[m.action];
  const sentKinds = EMAIL_KINDS.filter((k) => emails.some((e) => e.kind === k && e.status === 'sent'));
  const kinds = sentKinds.length ? sentKinds : EMAIL_KINDS;
  const blocked = m.available && !m.available.available;
  return shell({
    title: `${words.label} ${order.id}`,
    current: 'orders',
    main: html`<div class="confirm panel">
<p class="crumbs"><a href="${OPS_PATHS.order(order.id)}">← Back to <span class="mono">${order.id}</span></a></p>
<h1>${words.label}?</h1>
<p>${words.effect}</p>
${specifics(m)}
${m.error ? html`<p class="message error" role="alert">${m.error}</p>` : ''}
${blocked ? html`<p class="message note">Not available now: ${m.available!.why ?? 'it does not apply to the order as it stands'}. You may still try; the order’s workflow decides.</p>` : ''}
<form method="post" action="${OPS_PATHS.act(order.id, m.action)}">
<input type="hidden" name="requestId" value="${m.requestId}">
${
  m.action === 'resend_email'
    ? html`<div class="field"><label for="kind">Email</label><select id="kind" name="kind" required>${kinds.map((k) => html`<option value="${k}"${m.kind === k ? ' selected' : ''}>${emailKindLabel(k)}</option>`)}</select></div>`
    : ''
}
<div class="field"><label for="reason">Reason${m.action === 'refund' ? ' (shown to the shopper)' : ''}</label><textarea id="reason" name="reason" rows="3" maxlength="500">${m.reason ?? ''}</textarea></div>
<div class="field"><label for="actor">Your name</label><input id="actor" name="actor" type="text" maxlength="100" value="${m.actor ?? ''}" autocomplete="name"><p class="hint">Kept with the action, for the record.</p></div>
<div class="actions"><button type="submit"${words.danger ? html` class="danger-solid"` : ''}>${words.label}</button><a class="button secondary" href="${OPS_PATHS.order(order.id)}">Keep it as it is</a></div>
</form>
</div>`,
  });
}

export function emailsPage(opts: { emails: SentEmail[]; nextCursor?: string; hasOutbox: boolean; now?: number }): string {
  const now = opts.now ?? Date.now();
  return shell({
    title: 'Emails',
    current: 'emails',
    main: html`<div class="page-head"><h1>Emails to shoppers</h1><p class="muted">Newest first.${opts.hasOutbox ? ' Messages written to the embedded outbox open as .eml text.' : ''}</p></div>
${section(
  `${opts.emails.length}${opts.nextCursor ? '+' : ''} emails`,
  html`${table([...EMAIL_HEAD, 'About', 'Sent by'], emailRows(opts.emails, { hasOutbox: opts.hasOutbox, now, withReference: true }), 'No email sent yet.')}
${opts.nextCursor ? html`<p class="pager"><a class="button secondary" href="${OPS_PATHS.emails(opts.nextCursor)}">Older emails →</a></p>` : ''}`,
)}`,
  });
}

// --- the console's own rules, after site.css ---

const OPS_CSS = `
body.ops {
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  --info: #1d4ed8;
  --info-soft: #dbeafe;
  --grey: #52525b;
  --grey-soft: #ececec;
}
.ops h1 { font-size: 1.45rem; margin: 0 0 4px; display: flex; flex-wrap: wrap; align-items: center; gap: 8px; }
.ops h2 { font-size: 1rem; margin: 0; }
.ops h3 { font-size: 0.9rem; margin: 14px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
.ops p { margin: 0 0 8px; }
.ops-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 20px; padding: 8px 20px; background: var(--ink); color: #fff; }
.ops-brand { display: inline-flex; align-items: center; gap: 8px; color: #fff; font-weight: 800; font-size: 1.05rem; text-decoration: none; }
.ops-brand:hover { color: #fff; }
.ops-brand svg { width: 26px; height: 26px; }
.ops-tag { background: var(--accent); color: #fff; border-radius: 6px; padding: 0 6px; font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.06em; }
.ops-nav { display: flex; gap: 4px; }
.ops-nav a { color: #f5e9dd; text-decoration: none; font-weight: 600; padding: 6px 10px; border-radius: 8px; }
.ops-nav a:hover { background: rgba(255, 255, 255, 0.12); color: #fff; }
.ops-nav a[aria-current="page"] { background: rgba(255, 255, 255, 0.18); color: #fff; }
.ops-search { display: flex; gap: 6px; flex: 1; min-width: 260px; max-width: 560px; margin-left: auto; }
.ops-search input { min-height: 34px; padding: 4px 10px; border: 1px solid #8c7361; border-radius: 8px; flex: 1; min-width: 0; font: inherit; }
.ops .ops-search button { background: var(--surface); color: var(--ink); border-color: var(--surface); }
.ops .ops-search button:hover { background: var(--accent-soft); color: var(--ink); }
.ops-logout { margin: 0; }
.ops .ops-logout button { background: transparent; border-color: #8c7361; color: #f5e9dd; }
.ops .ops-logout button:hover { background: rgba(255, 255, 255, 0.12); color: #fff; }
.ops-main { flex: 1; width: 100%; max-width: 1360px; margin: 0 auto; padding: 18px 20px 32px; }
.ops-foot { max-width: 1360px; width: 100%; margin: 0 auto; padding: 10px 20px 20px; color: var(--muted); font-size: 0.85rem; }
.ops .button, .ops button { min-height: 34px; padding: 5px 14px; border-width: 1px; border-radius: 8px; font-size: 0.92rem; font-weight: 650; }
.ops .button.secondary { background: var(--surface); border-color: var(--line); color: var(--ink); }
.ops .button.secondary:hover { background: var(--accent-soft); color: var(--ink); }
.ops .button.danger { background: var(--surface); border-color: var(--bad); color: var(--bad); }
.ops .button.danger:hover { background: var(--bad-soft); color: var(--bad); }
.ops button.danger-solid { background: var(--bad); border-color: var(--bad); color: #fff; }
.ops button.danger-solid:hover { background: #991b1b; border-color: #991b1b; }
.ops .button.disabled { background: var(--grey-soft); border-color: var(--grey-soft); color: var(--grey); cursor: not-allowed; }
.ops .button.disabled:hover { background: var(--grey-soft); color: var(--grey); }
.ops input[type="text"], .ops input[type="password"], .ops select, .ops textarea { width: 100%; min-height: 38px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 8px; background: var(--surface); color: var(--ink); font: inherit; }
.ops textarea { resize: vertical; }
.ops .field { margin: 0 0 12px; }
.ops .field label { margin: 0 0 4px; }
.ops .message { padding: 10px 14px; margin: 0 0 14px; border-radius: 10px; font-weight: 500; }
.page-head { margin: 0 0 14px; }
.crumbs { margin: 0 0 2px; font-size: 0.9rem; }
.panel { background: var(--surface); border: 1px solid var(--soft-line); border-radius: 12px; padding: 14px 16px; margin: 0 0 16px; min-width: 0; }
.panel-head { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; margin: 0 0 10px; }
.count { display: inline-block; min-width: 22px; padding: 0 7px; border-radius: 999px; background: var(--grey-soft); color: var(--grey); font-size: 0.8rem; text-align: center; }
.tiles { list-style: none; padding: 0; margin: 0 0 16px; display: grid; gap: 8px; grid-template-columns: repeat(auto-fill, minmax(118px, 1fr)); grid-auto-rows: 1fr; }
.tiles li { display: flex; }
.tile { flex: 1; display: flex; flex-direction: column; padding: 10px 12px; background: var(--surface); border: 1px solid var(--soft-line); border-left: 4px solid var(--line); border-radius: 10px; color: var(--ink); text-decoration: none; }
.tile:hover { border-color: var(--line); color: var(--ink); }
.tile[aria-current="true"] { outline: 2px solid var(--ink); outline-offset: -1px; }
.tile-n { font-size: 1.45rem; font-weight: 800; font-variant-numeric: tabular-nums; line-height: 1.2; }
.tile-label { color: var(--muted); font-size: 0.85rem; }
.tile[data-status="all"] { border-left-color: var(--ink); }
/* positioned: a visually hidden label (absolute) inside the table stays inside its scroller */
.table-wrap { position: relative; overflow-x: auto; margin: 0 -4px; }
table.grid { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
.grid th { text-align: left; font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); font-weight: 700; padding: 6px 8px; border-bottom: 1px solid var(--soft-line); white-space: nowrap; }
.grid td { padding: 7px 8px; border-bottom: 1px solid var(--soft-line); vertical-align: top; white-space: nowrap; }
.grid tbody tr:last-child td { border-bottom: 0; }
.grid tbody tr:hover { background: #fffaf4; }
.grid td.wrap, .wrap { white-space: normal; overflow-wrap: anywhere; min-width: 8em; }
.grid td.wide-text { min-width: 16em; }
.num { font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em; }
.strong { font-weight: 700; }
.small { font-size: 0.82rem; }
.error-text { color: var(--bad); }
.ago { display: block; color: var(--muted); font-size: 0.8rem; }
.empty { color: var(--muted); font-style: italic; margin: 4px 0; }
.pager { margin: 12px 0 0; }
.pill { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 0.78rem; font-weight: 700; line-height: 1.6; white-space: nowrap; vertical-align: middle; background: var(--grey-soft); color: var(--grey); }
.ops h1 .pill { font-size: 0.85rem; }
.pill[data-status="awaiting_payment"], .tile[data-status="awaiting_payment"] { --c: var(--note); --s: var(--note-soft); }
.pill[data-status="paid"], .pill[data-status="rendering"], .pill[data-status="submitted"], .pill[data-status="in_production"],
.tile[data-status="paid"], .tile[data-status="rendering"], .tile[data-status="submitted"], .tile[data-status="in_production"] { --c: var(--info); --s: var(--info-soft); }
.pill[data-status="shipped"], .pill[data-status="delivered"], .tile[data-status="shipped"], .tile[data-status="delivered"] { --c: var(--ok); --s: var(--ok-soft); }
.pill[data-status="failed"], .tile[data-status="failed"] { --c: var(--bad); --s: var(--bad-soft); }
.pill[data-status="cancelled"], .tile[data-status="cancelled"] { --c: var(--grey); --s: var(--grey-soft); }
.pill[data-status] { background: var(--s, var(--grey-soft)); color: var(--c, var(--grey)); }
.tile[data-status] { border-left-color: var(--c, var(--line)); }
.pill[data-refund="refunded"], .pill[data-email="sent"], .pill[data-outcome="done"] { background: var(--ok-soft); color: var(--ok); }
.pill[data-refund="pending"], .pill[data-email="sending"], .pill[data-email="unknown"], .pill[data-outcome="started"], .pill[data-flag="duplicate"] { background: var(--note-soft); color: var(--note); }
.pill[data-refund="failed"], .pill[data-email="failed"], .pill[data-email="refused"] { background: var(--bad-soft); color: var(--bad); }
.pill[data-flag="reprint"], .pill[data-flag="resend"] { background: var(--info-soft); color: var(--info); }
.order-head h1 .mono { font-size: 1.2rem; }
.order-grid { display: grid; gap: 0 16px; grid-template-columns: minmax(0, 1fr); }
@media (min-width: 1000px) { .order-grid { grid-template-columns: minmax(0, 1fr) 340px; } }
.order-side .facts { grid-template-columns: 7.5em 1fr; gap: 4px 10px; font-size: 0.9rem; }
.address { font-style: normal; line-height: 1.5; }
.ops-timeline { list-style: none; margin: 0; padding: 0 0 0 16px; border-left: 2px solid var(--soft-line); }
.ops-timeline li { position: relative; padding: 0 0 12px 12px; }
.ops-timeline li::before { content: ""; position: absolute; left: -23px; top: 5px; width: 12px; height: 12px; border-radius: 50%; background: var(--c, var(--line)); border: 2px solid var(--surface); }
.ops-timeline li[data-status="paid"], .ops-timeline li[data-status="rendering"], .ops-timeline li[data-status="submitted"], .ops-timeline li[data-status="in_production"] { --c: var(--info); }
.ops-timeline li[data-status="shipped"], .ops-timeline li[data-status="delivered"] { --c: var(--ok); }
.ops-timeline li[data-status="failed"] { --c: var(--bad); }
.ops-timeline li[data-status="awaiting_payment"] { --c: var(--note); }
.ops-timeline li:first-child .tl-head .pill { box-shadow: 0 0 0 2px var(--surface), 0 0 0 3px var(--c, var(--line)); }
.tl-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; color: var(--muted); font-size: 0.85rem; }
.ops-timeline p { margin: 3px 0 0; }
.action-list { list-style: none; margin: 0; padding: 0; display: grid; gap: 8px; }
.action-list .button { width: 100%; justify-content: flex-start; }
.action-list .unavailable { display: grid; gap: 2px; }
.action-list .why { color: var(--muted); font-size: 0.8rem; padding: 0 2px; }
.login { max-width: 420px; margin: 40px auto; }
.confirm { max-width: 640px; }
.confirm .actions { margin: 8px 0 0; }
`;
