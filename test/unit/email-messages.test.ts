/**
 * The messages we email shoppers: what each says and links to, in text and HTML alike; every
 * value from outside escaped in the HTML and stripped of control and bidirectional override
 * characters in both; stable idempotency keys.
 */
import { describe, expect, it } from 'vitest';
import { clean, emailIdempotencyKey, privateOrderUrl, renderEmail, type EmailRequest } from '../../src/email/messages.js';
import { EMAIL_KINDS, IDEMPOTENCY_KEY } from '../../src/email/port.js';

const PUBLIC_URL = 'https://stickers.example';
const TOKEN = 'ot_t0k3n-_';
const base = { to: 'ada@example.com', orderId: 'or_Abc-123_x', name: 'Ada Lovelace' };
const ORDER_URL = 'https://stickers.example/orders/or_Abc-123_x#token=ot_t0k3n-_';
const VIEWER_URL = 'https://stickers.example/a/vt_viewer';
const shipping = { name: 'Ada Lovelace', line1: '12 St James Sq', line2: 'Flat 2', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' };

const all: EmailRequest[] = [
  { ...base, kind: 'order_confirmation', product: { shape: 'circle', sizeInches: 2, quantity: 1 }, amountCents: 799, currency: 'usd', shipping },
  { ...base, kind: 'order_shipped', tracking: { carrier: 'DHL', number: 'JD0141', url: 'https://dhl.example/track?n=JD0141&x=1' } },
  { ...base, kind: 'order_delivered', viewerUrl: VIEWER_URL },
  { ...base, kind: 'order_refunded', amountCents: 4099, currency: 'usd', reason: 'The printer could not print it' },
  { ...base, kind: 'buddy_ready', viewerUrl: VIEWER_URL },
];
const OUR_TAGS = ['!doctype', 'html', 'head', 'meta', 'title', 'body', 'div', 'p', 'table', 'tr', 'th', 'td', 'strong', 'br', 'a'];
const render = (r: EmailRequest) => renderEmail(r, { publicUrl: PUBLIC_URL, accessToken: TOKEN });
const hrefs = (html: string) => [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!);
/** The HTML's visible text, tags dropped and entities read back. */
const visible = (html: string) =>
  html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!);

describe('the messages', () => {
  it('one per kind, each with its own stable key, the order as its reference and the private order link', () => {
    expect(all.map((r) => r.kind).sort()).toEqual([...EMAIL_KINDS].sort());
    const keys = all.map((r) => render(r).idempotencyKey);
    expect(keys).toEqual([
      'email:order:or_Abc-123_x:confirmation',
      'email:order:or_Abc-123_x:shipped',
      'email:order:or_Abc-123_x:delivered',
      'email:order:or_Abc-123_x:refunded',
      'email:order:or_Abc-123_x:buddy-ready',
    ]);
    for (const [i, r] of all.entries()) {
      const m = render(r);
      expect(IDEMPOTENCY_KEY.test(m.idempotencyKey)).toBe(true);
      expect(render({ ...r, name: 'Someone Else' }).idempotencyKey).toBe(keys[i]); // the key names the message, not its wording
      expect(m).toMatchObject({ to: 'ada@example.com', kind: r.kind, reference: 'or_Abc-123_x' });
      expect(m.text).toContain(ORDER_URL);
      expect(hrefs(m.html)).toContain(ORDER_URL);
      expect(m.text).toMatch(/^Hi Ada Lovelace,\n/);
      expect(m.html).toMatch(/^<!doctype html>/);
      expect(m.html).toContain('lang="en"');
    }
    expect(new Set(all.map((r) => render(r).subject)).size).toBe(all.length);
  });

  it('the confirmation says what was ordered, what it cost and where it goes', () => {
    const m = render(all[0]!);
    expect(m.subject).toBe('Your sticker order is confirmed');
    for (const part of [m.text, visible(m.html)]) {
      expect(part).toContain('1 × 2-inch circle sticker');
      expect(part).toContain('$7.99');
      for (const line of ['12 St James Sq', 'Flat 2', 'London SW1Y 4JH', 'GB']) expect(part).toContain(line);
    }
    expect(renderEmail({ ...(all[0] as Extract<EmailRequest, { kind: 'order_confirmation' }>), amountCents: 1200, currency: 'jpy' }, { publicUrl: PUBLIC_URL, accessToken: TOKEN }).text).toContain('¥1,200');
  });

  it('shipped names the carrier and tracking number, and links the tracking page only when it is http(s)', () => {
    const m = render(all[1]!);
    for (const part of [m.text, visible(m.html)]) {
      expect(part).toContain('DHL');
      expect(part).toContain('JD0141');
    }
    expect(m.text).toContain('https://dhl.example/track?n=JD0141&x=1');
    expect(hrefs(m.html)).toContain('https://dhl.example/track?n=JD0141&amp;x=1');
    for (const url of ['javascript:alert(1)', 'data:text/html,hi', undefined]) {
      const hostile = render({ ...base, kind: 'order_shipped', tracking: { carrier: 'DHL', number: 'JD0141', url } });
      expect(hrefs(hostile.html)).toEqual([ORDER_URL]);
      if (url) {
        expect(hostile.text).not.toContain(url);
        expect(hostile.html).not.toContain(url.slice(0, 10));
      }
      expect(hostile.text).not.toContain('Track your parcel');
    }
  });

  it('delivered and "your buddy is ready" link the buddy; refunded says how much and why', () => {
    for (const m of [render(all[2]!), render(all[4]!)]) {
      expect(m.text).toContain(VIEWER_URL);
      expect(hrefs(m.html)).toContain(VIEWER_URL);
    }
    expect(render({ ...base, kind: 'order_delivered' }).text).not.toContain('/a/');
    const refund = render(all[3]!);
    for (const part of [refund.text, visible(refund.html)]) {
      expect(part).toContain('$40.99');
      expect(part).toContain('The printer could not print it');
    }
  });

  it('escapes every value in the HTML: a hostile name, address, reason and carrier stay text', () => {
    const hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>';
    const quoted = '"A\u202e" \'onmouseover=\'alert(1)';
    const requests: EmailRequest[] = [
      { ...all[0]!, name: hostile, shipping: { ...shipping, name: quoted, line1: hostile, city: '</p><a href="https://evil.example">' } } as EmailRequest,
      { ...base, name: quoted, kind: 'order_shipped', tracking: { carrier: hostile, number: quoted, url: 'https://t.example/?q="><script>alert(1)</script>' } },
      { ...base, name: hostile, kind: 'order_refunded', amountCents: 100, currency: 'usd', reason: hostile },
    ];
    for (const r of requests) {
      const { html, text } = render(r);
      // Only the tags of our own layout, none with an event handler.
      for (const [tag, name] of html.matchAll(/<\/?([a-z!]+)[^>]*>/gi)) {
        expect(OUR_TAGS, tag).toContain(name!.toLowerCase());
        expect(tag).not.toMatch(/\son\w+\s*=/i);
      }
      expect(visible(html)).toContain(hostile); // shown, as text
      // Every link is one of ours or the tracking page, intact and escaped.
      for (const href of hrefs(html)) expect(href).toMatch(/^https:\/\/(stickers\.example\/|t\.example\/\?q=&quot;&gt;&lt;script&gt;)/);
      for (const part of [html, text]) expect(part).not.toContain('\u202e');
    }
    expect(visible(render(requests[1]!).html)).toContain('Hi "A " \'onmouseover=\'alert(1),');
  });

  it('strips control and bidirectional characters, so a value cannot turn a line around or break it', () => {
    expect(clean('A\u202egnp.exe')).toBe('A gnp.exe');
    expect(clean('Ada\r\nBcc: everyone@example.com')).toBe('Ada Bcc: everyone@example.com');
    for (const c of ['\u0000', '\u0007', '\u001b', '\u007f', '\u0085', '\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u2066', '\u2067', '\u2068', '\u2069']) {
      expect(clean(`a${c}b`)).toBe('a b');
    }
    expect(clean('  Zoë   Ñúñez 李雷 שלום  ')).toBe('Zoë Ñúñez 李雷 שלום');
    const m = render({ ...base, kind: 'buddy_ready', viewerUrl: VIEWER_URL, name: 'Ada\r\n\r\nClick http://evil.example' });
    expect(m.text).toMatch(/^Hi Ada Click http:\/\/evil\.example,\n/);
  });

  it('the private link encodes the id and token and keeps the token in the fragment', () => {
    expect(privateOrderUrl('https://s.example', 'or_1', 'ot_a/b?c#d')).toBe('https://s.example/orders/or_1#token=ot_a%2Fb%3Fc%23d');
    expect(emailIdempotencyKey({ kind: 'order_refunded', orderId: 'or_1' })).toBe('email:order:or_1:refunded');
  });

  it('a copy sent again from the console has a key of its own and says so; without a token the link is the bare page', () => {
    const again = render({ ...base, kind: 'order_delivered', viewerUrl: VIEWER_URL, resend: 2 });
    expect(again.idempotencyKey).toBe('email:order:or_Abc-123_x:delivered:resend-2');
    expect(again.text.split('\n\n')[1]).toBe('We’re sending you this message again.');
    expect(again.html).toContain('We’re sending you this message again.');
    const bare = renderEmail({ ...base, kind: 'order_delivered' }, { publicUrl: PUBLIC_URL });
    expect(bare.text).toContain(`${PUBLIC_URL}/orders/or_Abc-123_x\n`);
    expect(bare.text).not.toContain('#token=');
  });
});
