/**
 * What we email shoppers, as plain text and HTML from one description of each message, so the
 * two never say different things. Every value goes through `clean` (control and bidirectional
 * override characters out: a name cannot turn the rest of a line around) and, in the HTML,
 * `escapeHtml`; links only when http(s). Subjects carry no value from outside.
 *
 * Each message has a stable idempotency key, `email:order:<orderId>:<what>`: a retried
 * activity, or a workflow replaying, asks for the same message and gets it sent once.
 */
import { formatAmount, describeProduct, type Product, type ShippingAddress } from '../orders/catalog.js';
import type { Tracking } from '../print-adapters/port.js';
import { escapeHtml, safeHref } from '../text/html.js';
import type { EmailKind, EmailMessage } from './port.js';

/** What every order email needs: whom to write to and the order's private link. */
export interface OrderEmailBase {
  to: string;
  orderId: string;
  /** Whom to greet: the shipping name. */
  name: string;
  /** A copy an operator sent again from the console: a key of its own, and said so in the message. */
  resend?: number;
}

/** The input of the `sendEmail` activity: one message, by kind. */
export type EmailRequest =
  | (OrderEmailBase & { kind: 'order_confirmation'; product: Product; amountCents: number; currency: string; shipping: ShippingAddress })
  | (OrderEmailBase & { kind: 'order_shipped'; tracking: Tracking })
  | (OrderEmailBase & { kind: 'order_delivered'; viewerUrl?: string })
  | (OrderEmailBase & { kind: 'order_refunded'; amountCents: number; currency: string; reason: string })
  | (OrderEmailBase & { kind: 'buddy_ready'; viewerUrl: string });

const KEY_SUFFIX: Record<EmailKind, string> = {
  order_confirmation: 'confirmation',
  order_shipped: 'shipped',
  order_delivered: 'delivered',
  order_refunded: 'refunded',
  buddy_ready: 'buddy-ready',
};

export const emailIdempotencyKey = (r: Pick<EmailRequest, 'kind' | 'orderId' | 'resend'>) =>
  `email:order:${r.orderId}:${KEY_SUFFIX[r.kind]}${r.resend ? `:resend-${r.resend}` : ''}`;

/** The order's private page; the token stays in the fragment, which browsers never send on. */
export const privateOrderUrl = (publicUrl: string, orderId: string, accessToken: string) =>
  `${publicUrl}/orders/${encodeURIComponent(orderId)}#token=${encodeURIComponent(accessToken)}`;

/** A message as blocks of plain values, rendered twice: to text and to escaped HTML. */
type Block =
  | { p: string }
  | { rows: Array<[label: string, value: string]> }
  | { lines: string[]; title: string }
  | { link: string; label: string }
  | { small: string };

interface Draft {
  subject: string;
  /** The first line a mail client previews. */
  preview: string;
  blocks: Block[];
}

/**
 * `links.accessToken`: the order's token, for its private link; without it (an order from before
 * derived tokens) the link opens the page only in the browser the order was placed from.
 */
export function renderEmail(request: EmailRequest, links: { publicUrl: string; accessToken?: string }): EmailMessage {
  const orderUrl = links.accessToken
    ? privateOrderUrl(links.publicUrl, request.orderId, links.accessToken)
    : `${links.publicUrl}/orders/${encodeURIComponent(request.orderId)}`;
  const draft = draftOf(request, orderUrl);
  if (request.resend) draft.blocks.splice(1, 0, { p: 'We’re sending you this message again.' });
  draft.blocks.push({ small: `Order ${request.orderId}. You get this email because you ordered stickers of a buddy at stickerflow with this address.` });
  return {
    to: request.to,
    subject: draft.subject,
    text: toText(draft),
    html: toHtml(draft),
    idempotencyKey: emailIdempotencyKey(request),
    kind: request.kind,
    reference: request.orderId,
  };
}

function draftOf(r: EmailRequest, orderUrl: string): Draft {
  const hi = { p: `Hi ${r.name},` };
  const seeOrder = { link: orderUrl, label: 'See your order' };
  switch (r.kind) {
    case 'order_confirmation': {
      const a = r.shipping;
      return {
        subject: 'Your sticker order is confirmed',
        preview: `Thanks for your order: ${describeProduct(r.product)}.`,
        blocks: [
          hi,
          { p: 'Thanks for your order! Your payment came through, and your buddy’s stickers are next in line at the printer.' },
          { rows: [['Stickers', describeProduct(r.product)], ['Paid', formatAmount(r.amountCents, r.currency)]] },
          { title: 'Shipping to', lines: [a.name, a.line1, ...(a.line2 ? [a.line2] : []), [a.city, a.region, a.postalCode].filter(Boolean).join(' '), a.country] },
          { p: 'Until it goes to the printer you can change the address, or cancel the order, on its page:' },
          seeOrder,
          { p: 'That link is yours alone: whoever has it can see and change the order, so keep it to yourself.' },
        ],
      };
    }
    case 'order_shipped': {
      const track = trackingLink(r.tracking.url);
      return {
        subject: 'Your stickers are on their way',
        preview: `Shipped with ${r.tracking.carrier}, tracking number ${r.tracking.number}.`,
        blocks: [
          hi,
          { p: 'Good news: your stickers have left the printer and are on their way to you.' },
          { rows: [['Carrier', r.tracking.carrier], ['Tracking number', r.tracking.number]] },
          ...(track ? [{ link: track, label: 'Track your parcel' }] : []),
          seeOrder,
        ],
      };
    }
    case 'order_delivered':
      return {
        subject: 'Your stickers have arrived',
        preview: 'The carrier says your stickers were delivered.',
        blocks: [
          hi,
          { p: 'The carrier says your stickers were delivered. Point a phone’s camera at the QR code on one and your buddy comes to life.' },
          ...(r.viewerUrl ? [{ link: r.viewerUrl, label: 'Watch your buddy' }] : []),
          { p: 'Not there, or not right? Your order’s page has everything we know about it:' },
          seeOrder,
        ],
      };
    case 'order_refunded':
      return {
        subject: 'We’ve refunded your sticker order',
        preview: `${formatAmount(r.amountCents, r.currency)} is on its way back to you.`,
        blocks: [
          hi,
          { p: 'We’re sorry: your sticker order did not work out, and we’ve refunded it.' },
          { rows: [['Refunded', formatAmount(r.amountCents, r.currency)], ['Why', r.reason]] },
          { p: 'The money goes back the way you paid; banks usually show it within 5 to 10 business days.' },
          seeOrder,
        ],
      };
    case 'buddy_ready':
      return {
        subject: 'Your buddy is ready',
        preview: 'Drawn, cut out and moving: come and see.',
        blocks: [
          hi,
          { p: 'Your buddy is ready: drawn, cut out and moving. Anyone you share this link with can watch it too, no app needed.' },
          { link: r.viewerUrl, label: 'Meet your buddy' },
          { p: 'Your stickers are printed from this very buddy. Follow your order here:' },
          seeOrder,
        ],
      };
  }
}

/** Only http(s) tracking links from a printer become links; anything else is left out. */
const trackingLink = (url: string | undefined) => (url && /^https?:\/\//i.test(url) ? url : undefined);

/**
 * Control characters (C0, DEL, C1) and the bidirectional marks, embeddings, overrides and
 * isolates, then runs of white space: none belongs in a name, an address or a reason, and an
 * override (U+202E) would show the rest of its line reversed.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
export const clean = (s: string) => s.replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim();

function toText(d: Draft): string {
  const out = d.blocks.map((b): string => {
    if ('p' in b) return clean(b.p);
    if ('rows' in b) return b.rows.map(([k, v]) => `${k}: ${clean(v)}`).join('\n');
    if ('lines' in b) return [`${b.title}:`, ...b.lines.map((l) => `  ${clean(l)}`)].join('\n');
    if ('link' in b) return `${b.label}:\n${clean(b.link)}`;
    return `-- \n${clean(b.small)}`;
  });
  return `${out.join('\n\n')}\n`;
}

const FONT = 'font-family:-apple-system,BlinkMacSystemFont,\'Segoe UI\',Roboto,Helvetica,Arial,sans-serif';

function toHtml(d: Draft): string {
  const h = (s: string) => escapeHtml(clean(s));
  const body = d.blocks
    .map((b) => {
      if ('p' in b) return `<p style="margin:0 0 16px">${h(b.p)}</p>`;
      if ('rows' in b) {
        const rows = b.rows.map(([k, v]) => `<tr><th align="left" style="padding:4px 16px 4px 0;color:#6b5646;font-weight:600">${h(k)}</th><td style="padding:4px 0">${h(v)}</td></tr>`);
        return `<table role="presentation" style="margin:0 0 16px;border-collapse:collapse">${rows.join('')}</table>`;
      }
      if ('lines' in b) return `<p style="margin:0 0 16px"><strong>${h(b.title)}</strong><br>${b.lines.map(h).join('<br>')}</p>`;
      if ('link' in b) {
        return `<p style="margin:0 0 20px"><a href="${safeHref(clean(b.link))}" style="display:inline-block;padding:10px 18px;border-radius:999px;background:#c2410c;color:#ffffff;text-decoration:none;font-weight:600">${h(b.label)}</a></p>`;
      }
      return `<p style="margin:24px 0 0;padding-top:12px;border-top:1px solid #ecdccb;color:#6b5646;font-size:13px">${h(b.small)}</p>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${h(d.subject)}</title></head>
<body style="margin:0;padding:0;background:#fff7ed">
<div style="display:none;max-height:0;overflow:hidden">${h(d.preview)}</div>
<div style="max-width:560px;margin:0 auto;padding:24px;${FONT};font-size:16px;line-height:1.5;color:#2a1f17">
<p style="margin:0 0 20px;font-size:20px;font-weight:700;color:#c2410c">stickerflow</p>
${body}
</div>
</body>
</html>
`;
}
