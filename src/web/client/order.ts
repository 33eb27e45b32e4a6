/**
 * The order page (`/orders/:id#token=…`): the same HTML for every order; this script reads the
 * order with the private link's token (taken from the fragment, which never reaches a server; once
 * the API has accepted it, kept in localStorage and dropped from the address bar), shows it, and
 * polls until the order is over. With no token known here it still asks: the API's order cookie,
 * set when the order was made in this browser, may open it. Without either it shows nothing but
 * how to get in.
 */
import { describeProduct, formatAmount, type Product, type ShippingAddress } from '../../orders/catalog.js';
import { apiMessage, byId, isHttpUrl, NETWORK_ERROR, readOrderToken, saveOrderToken, say, SERVER_ERROR, wireCopy } from './common.js';

type OrderStatus = 'awaiting_payment' | 'paid' | 'rendering' | 'submitted' | 'in_production' | 'shipped' | 'delivered' | 'failed' | 'cancelled';

/** `GET /api/orders/:id` (PRODUCT.md §4). */
interface OrderView {
  id: string;
  status: OrderStatus;
  timeline: Array<{ at: string; status: OrderStatus; note?: string }>;
  product: Product;
  shipping: ShippingAddress;
  amount: { totalCents: number; currency: string };
  tracking?: { carrier: string; number: string; url?: string };
  payment?: { paidAt: string };
  refund?: { status: 'not_needed' | 'pending' | 'refunded' | 'failed'; amountCents?: number; error?: string };
  error?: string;
}

const STATUS: Record<OrderStatus, { label: string; next: string }> = {
  awaiting_payment: { label: 'Waiting for payment', next: 'As soon as your payment is confirmed, we prepare your stickers for print.' },
  paid: { label: 'Paid', next: 'Thank you! We are preparing your stickers for print.' },
  rendering: { label: 'Preparing the print file', next: 'Your stickers’ print file is being made; then it goes to the printer.' },
  submitted: { label: 'Sent to the printer', next: 'The printer has your order and will start on it soon.' },
  in_production: { label: 'Being printed', next: 'Your stickers are being printed.' },
  shipped: { label: 'Shipped', next: 'Your stickers are on their way.' },
  delivered: { label: 'Delivered', next: 'Your stickers have arrived. Enjoy your buddy!' },
  failed: { label: 'Failed', next: 'We could not complete this order.' },
  cancelled: { label: 'Cancelled', next: 'This order is cancelled.' },
};
const OVER: OrderStatus[] = ['delivered', 'cancelled', 'failed'];
/** The workflow accepts a cancel until the order is submitted to the printer. */
const CANCELLABLE: OrderStatus[] = ['awaiting_payment', 'paid', 'rendering'];
const POLL_MS = 4000;

const orderId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const loading = byId('order-loading');
const details = byId('order-details');

/**
 * The private link's token, else the one kept here. The fragment stays in the address bar until
 * the API has accepted it (in load): a reload after a failed first request must still have it.
 */
const fromLink = new URLSearchParams(location.hash.slice(1)).get('token') || undefined;
const token = fromLink ?? readOrderToken(orderId);
const api = `/api/orders/${encodeURIComponent(orderId)}`;
/** With the token when there is one; without, the same-origin request still carries the order cookie. */
const authorized = (init: RequestInit = {}): RequestInit => ({
  ...init,
  cache: 'no-store',
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});

function needsPrivateLink() {
  say(loading);
  details.hidden = true;
  byId('order-missing').hidden = false;
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string) => Object.assign(document.createElement(tag), text === undefined ? {} : { textContent: text });

function facts(list: HTMLElement, rows: Array<[string, string | Node | undefined]>) {
  list.replaceChildren(
    ...rows.flatMap(([term, value]) => {
      if (value === undefined || value === '') return [];
      const dd = el('dd');
      dd.append(value);
      return [el('dt', term), dd];
    }),
  );
}

const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function render(order: OrderView) {
  const status = STATUS[order.status] ?? { label: order.status, next: '' };
  const badge = byId('order-status');
  // The badge is read out (aria-live) whenever it changes: only when the status does.
  if (badge.dataset.orderStatus !== order.status) {
    badge.dataset.orderStatus = order.status;
    badge.textContent = status.label;
    byId('order-next').textContent = status.next;
  }
  say(byId('order-problem'), order.error);

  const refund = order.refund;
  const money = (cents: number) => formatAmount(cents, order.amount.currency);
  say(
    byId('order-refund'),
    refund?.status === 'refunded'
      ? `Refunded: ${money(refund.amountCents ?? order.amount.totalCents)} goes back to your card.`
      : refund?.status === 'pending'
        ? 'A refund of your payment is on its way.'
        : refund?.status === 'failed'
          ? 'Your refund has not gone through yet; we have been told and will put it right.'
          : undefined,
  );

  const s = order.shipping;
  facts(byId('order-facts'), [
    ['Stickers', describeProduct(order.product)],
    ['Total', money(order.amount.totalCents)],
    ['Paid', order.payment ? when(order.payment.paidAt) : undefined],
    ['Ship to', [s.name, s.line1, s.line2, `${s.postalCode} ${s.city}`, s.region, s.country].filter(Boolean).join(', ')],
  ]);

  const tracking = order.tracking;
  byId('tracking').hidden = !tracking;
  byId('tracking').toggleAttribute('data-tracking', Boolean(tracking));
  if (tracking) {
    let link: Node | undefined;
    if (isHttpUrl(tracking.url)) {
      const a = el('a', 'Track the parcel');
      a.href = tracking.url;
      a.rel = 'noreferrer';
      link = a;
    }
    facts(byId('tracking-facts'), [
      ['Carrier', tracking.carrier],
      ['Tracking number', tracking.number],
      ['Follow it', link],
    ]);
  }

  byId('timeline').replaceChildren(
    ...order.timeline.map((entry) => {
      const li = el('li');
      const time = el('time', when(entry.at));
      time.dateTime = entry.at;
      li.append(time, el('strong', STATUS[entry.status]?.label ?? entry.status));
      if (entry.note) li.append(` · ${entry.note}`);
      return li;
    }),
  );

  byId('cancel-box').hidden = !CANCELLABLE.includes(order.status);
  if (byId('cancel-box').hidden) byId('cancel-confirm').hidden = true;
  say(loading);
  details.hidden = false;
}

let timer: ReturnType<typeof setTimeout> | undefined;
let accepted = false;

/** The first time the API accepts the token: keep it here and take it out of the address bar. */
function tokenAccepted() {
  if (accepted) return;
  accepted = true;
  if (!token) return;
  // Kept only now, so a wrong link never replaces a good token.
  saveOrderToken(orderId, token);
  if (fromLink) history.replaceState(history.state, '', location.pathname + location.search);
}

async function load() {
  clearTimeout(timer);
  try {
    const res = await fetch(api, authorized());
    if (res.status === 404) return needsPrivateLink();
    if (!res.ok) throw new Error(res.status < 500 ? ((await apiMessage(res)) ?? SERVER_ERROR) : SERVER_ERROR);
    const order = (await res.json()) as OrderView;
    tokenAccepted();
    render(order);
    if (OVER.includes(order.status)) return;
  } catch (err) {
    // Keep what is shown; say why it is not fresh, and try again.
    if (details.hidden) say(loading, `${err instanceof TypeError ? NETWORK_ERROR : (err as Error).message} Trying again…`);
  }
  timer = setTimeout(() => void load(), POLL_MS);
}

function wireCancel() {
  const ask = byId<HTMLButtonElement>('cancel-order');
  const confirm = byId('cancel-confirm');
  const yes = byId<HTMLButtonElement>('cancel-yes');
  const message = byId('cancel-message');
  ask.addEventListener('click', () => {
    confirm.hidden = false;
    yes.focus();
  });
  byId('cancel-no').addEventListener('click', () => {
    confirm.hidden = true;
    ask.focus();
  });
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    try {
      const res = await fetch(`${api}/cancel`, authorized({ method: 'POST' }));
      if (res.ok) {
        render((await res.json()) as OrderView);
        message.className = 'message success';
        say(message, 'Your order is cancelled.');
      } else if (res.status === 409) {
        message.className = 'message note';
        say(message, 'It is too late to cancel: the order is already with the printer.');
        void load();
      } else if (res.status === 404) {
        needsPrivateLink();
      } else {
        message.className = 'message error';
        say(message, res.status < 500 ? ((await apiMessage(res)) ?? SERVER_ERROR) : SERVER_ERROR);
      }
    } catch {
      message.className = 'message error';
      say(message, NETWORK_ERROR);
    } finally {
      yes.disabled = false;
      confirm.hidden = true;
      // The confirm box held the focus: hand it to what says what happened.
      if (!message.hidden) message.focus();
      else if (!byId('order-missing').hidden) byId('missing-heading').focus();
    }
  });
}

// Following another private link to this page changes only the fragment: start again with it.
addEventListener('hashchange', () => {
  if (new URLSearchParams(location.hash.slice(1)).has('token')) location.reload();
});

if (!orderId) {
  needsPrivateLink();
} else {
  if (token) {
    const link = byId<HTMLInputElement>('private-link');
    link.defaultValue = `${location.origin}/orders/${encodeURIComponent(orderId)}#token=${encodeURIComponent(token)}`;
    wireCopy(byId<HTMLButtonElement>('copy-private-link'), link);
  } else {
    // Opened by the order cookie alone: there is no link to show here.
    byId('private-link-card').hidden = true;
  }
  wireCancel();
  void load();
}
