/**
 * The shopper's pages over real HTTP (a real app, PGlite): every page is HTML the default
 * Content-Security-Policy allows (no inline script, style or handler), its assets resolve at
 * content-hashed URLs with immutable caching, unknown ids and assets are 404, the order page is
 * the same shell for any id and carries nothing of the order, and the local checkout pages wear
 * the shop's look while still escaping every value.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimationRepository, type AnimationRecord } from '../../src/animations/repository.js';
import { createApp } from '../../src/api/app.js';
import { Customers } from '../../src/customers/customers.js';
import { openPGlite, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { CreditLedger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/logger.js';
import { formatAmount, priceOf } from '../../src/orders/catalog.js';
import type { LocalCheckoutSession } from '../../src/payments/local.js';
import { expiredPage, payPage, sendPage } from '../../src/web/checkout-pages.js';
import { pageRoutes } from '../../src/web/pages.js';
import { DEFAULT_PRODUCT } from '../../src/web/views.js';
import { ANIMATION_STEPS } from '../../src/workflows/animation/api.js';

let db: Database;
let server: Server;
let base: string;
let animation: AnimationRecord;

beforeAll(async () => {
  db = await openPGlite();
  await migrate(db);
  const ledger = new CreditLedger(db);
  const animations = new AnimationRepository(db);
  ({ record: animation } = await animations.create(await new Customers(db, ledger, 1).create()));
  const app = createApp({ logger: createLogger('error'), probes: [], routers: [pageRoutes({ animations, maxUploadBytes: 20 * 1024 * 1024 })] });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await db?.close();
});

async function page(path: string) {
  const res = await fetch(`${base}${path}`);
  return { res, html: await res.text() };
}

/** What the default CSP (script-src 'self'; style-src 'self') would block. */
function inlineCode(html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    const attrs = m[1]!;
    if (/\btype="application\/json"/.test(attrs)) continue;
    if (!/\bsrc="\/assets\//.test(attrs) || m[2]!.trim()) found.push(m[0]);
  }
  for (const m of html.matchAll(/<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:/gi)) found.push(m[0]);
  return found;
}

const assetUrls = (html: string) => [...html.matchAll(/(?:href|src)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);

function expectHtmlPage(res: Response, html: string, status = 200) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
  expect(html).toContain('<meta name="viewport" content="width=device-width,initial-scale=1">');
  expect(html).toMatch(/<main id="main"/);
  expect(inlineCode(html)).toEqual([]);
  expect(html.match(/<link rel="stylesheet" href="\/assets\/site\.[0-9a-f]{16}\.css">/g)).toHaveLength(1);
}

describe('pages', () => {
  it('GET / is the upload page: the Photo field, the button, its script', async () => {
    const { res, html } = await page('/');
    expectHtmlPage(res, html);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(html).toContain('<label for="photo">Photo</label>');
    expect(html).toMatch(/<input type="file" id="photo" name="photo"/);
    expect(html).toContain('>Make my buddy</button>');
    expect(html).toContain('data-max-bytes="20971520"');
    expect(html).toContain('up to 20 MB');
    expect(html).toMatch(/<script type="module" src="\/assets\/upload\.[0-9a-f]{16}\.js"><\/script>/);
  });

  it('serves every asset a page names, content-hashed and immutable, with its type', async () => {
    const urls = new Set<string>();
    for (const path of ['/', `/animations/${animation.id}`, `/animations/${animation.id}/order`, '/orders/or_x']) {
      for (const url of assetUrls((await page(path)).html)) urls.add(url);
    }
    const types = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' } as const;
    expect([...urls].map((u) => u.split('.').pop()).sort()).toEqual(['css', 'js', 'js', 'js', 'js', 'svg']);
    for (const url of urls) {
      const res = await fetch(`${base}${url}`);
      const body = Buffer.from(await res.arrayBuffer());
      expect(res.status, url).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-type')).toBe(types[url.split('.').pop() as keyof typeof types]);
      // The name carries the content's hash: a changed file gets a new URL.
      expect(url).toContain(`.${createHash('sha256').update(body).digest('hex').slice(0, 16)}.`);
      expect(body.length).toBeGreaterThan(100);
    }
  });

  it('answers 404 for an unknown asset', async () => {
    const { html } = await page('/');
    const script = assetUrls(html).find((u) => u.endsWith('.js'))!;
    for (const url of [script.replace(/\.[0-9a-f]{16}\./, '.0000000000000000.'), '/assets/site.css', '/assets/nope.js', '/assets/..%2Fpackage.json']) {
      expect((await fetch(`${base}${url}`)).status, url).toBe(404);
    }
  });

  it('GET /animations/:id is the progress page: every step, the Progress list, the id for the script', async () => {
    const { res, html } = await page(`/animations/${animation.id}`);
    expectHtmlPage(res, html);
    expect(html).toContain(`data-animation-id="${animation.id}"`);
    expect(html).toContain('<h2 id="progress-heading">Progress</h2>');
    expect(html).toContain('<ol id="steps" class="steps" aria-labelledby="progress-heading">');
    for (const step of ANIMATION_STEPS) expect(html).toContain(`<li data-step="${step}" data-status="pending">`);
    expect(html).toContain(`href="/animations/${animation.id}/order">Order stickers</a>`);
    expect(html).toContain('aria-live="polite"');
    expect(html).toMatch(/src="\/assets\/progress\.[0-9a-f]{16}\.js"/);
  });

  it('answers an unknown or malformed animation id with a 404 page that reflects nothing', async () => {
    for (const id of ['an_AAAAAAAAAAAAAAAAAAAAAA', 'not-an-id', '%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'an_' + 'x'.repeat(300)]) {
      for (const path of [`/animations/${id}`, `/animations/${id}/order`]) {
        const { res, html } = await page(path);
        expectHtmlPage(res, html, 404);
        expect(html).toContain('We could not find that buddy');
        expect(html).not.toContain(decodeURIComponent(id));
      }
    }
  });

  it('GET /animations/:id/order is the checkout: the labels, the countries, the price the server charges', async () => {
    const { res, html } = await page(`/animations/${animation.id}/order`);
    expectHtmlPage(res, html);
    expect(html).toContain(`data-animation-id="${animation.id}"`);
    const labels = [...html.matchAll(/<label for="([^"]+)">([^<]+)<\/label>/g)].map((m) => [m[1], m[2]]);
    expect(labels).toEqual([
      ['shape', 'Shape'],
      ['size', 'Size'],
      ['quantity', 'Quantity'],
      ['total', 'Total'],
      ['name', 'Full name'],
      ['line1', 'Address line 1'],
      ['line2', 'Address line 2 (optional)'],
      ['city', 'City'],
      ['postalCode', 'Postal code'],
      ['region', 'State, province or region'],
      ['country', 'Country'],
      ['email', 'Email'],
    ]);
    expect(html).toContain(`<output id="total" for="shape size quantity">${formatAmount(priceOf(DEFAULT_PRODUCT).totalCents, 'usd')}</output>`);
    expect(html).toContain('>Continue to payment</button>');
    const countries = [...html.matchAll(/<option value="([A-Z]{2})">/g)].map((m) => m[1]);
    expect(countries).toHaveLength(249);
    expect(countries).toEqual(expect.arrayContaining(['US', 'DE', 'GB', 'JP', 'CI', 'AX']));
    expect(html).toContain('<option value="CI">Côte d’Ivoire</option>');
    for (const [value, label] of [['die-cut', 'Die-cut'], ['circle', 'Circle'], ['square', 'Square'], ['2', '2 in'], ['3', '3 in'], ['4', '4 in']]) {
      expect(html).toMatch(new RegExp(`<option value="${value}"( selected)?>${label}`));
    }
  });

  it('GET /orders/:id is one shell for every id, with nothing of the order, never cached or referred', async () => {
    const pages = await Promise.all(['or_abcdefghijklmnopqrstuv', 'or_zzz', 'anything', '%3Cb%3E'].map((id) => page(`/orders/${id}`)));
    for (const { res, html } of pages) {
      expectHtmlPage(res, html);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(html).toBe(pages[0]!.html);
    }
    const html = pages[0]!.html;
    expect(html).not.toMatch(/or_abc|token=[^…]/);
    expect(html).toContain('private link');
    expect(html).toContain('data-order-status=""');
    expect(html).toContain('<meta name="robots" content="noindex">');
    expect(html).toMatch(/src="\/assets\/order\.[0-9a-f]{16}\.js"/);
  });

  it('the forms post (never a GET with the photo or the address in the URL), to a URL that keeps the data', async () => {
    const forms = async (path: string) => [...(await page(path)).html.matchAll(/<form\b[^>]*>/g)].map((m) => m[0]);
    expect(await forms('/')).toEqual([
      expect.stringMatching(/^<form id="upload-form" class="card" method="post" action="\/api\/animations" enctype="multipart\/form-data" /),
    ]);
    const orderForm = `/animations/${animation.id}/order`;
    expect(await forms(orderForm)).toEqual([expect.stringMatching(new RegExp(`^<form id="order-form" method="post" action="${orderForm}" `))]);
    // Without JavaScript the order form posts to its own page, which takes no POST and echoes nothing.
    const res = await fetch(`${base}${orderForm}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: 'Ada Lovelace', email: 'ada@example.com' }),
    });
    expect(res.status).toBe(405);
    expect(await res.text()).not.toContain('Lovelace');
  });

  it('does not take the payment return path', async () => {
    expect((await fetch(`${base}/orders/or_abc/paid`)).status).toBe(404);
  });
});

describe('the local checkout pages', () => {
  const session: LocalCheckoutSession = {
    sessionId: 'cs_local_"><b>',
    orderId: 'or_1',
    amountCents: 2199,
    currency: 'usd',
    description: '10 × <b>3-inch</b> "die-cut" & co',
    email: "o'brien<script>@example.com",
    successUrl: 'http://shop.test/orders/or_1',
    cancelUrl: 'javascript:alert(1)',
    status: 'open',
    paymentIntentId: null,
    expiresAt: new Date().toISOString(),
  };

  it('wear the shop look, self-contained, and still escape every value', () => {
    const html = payPage(session, 'tok"en');
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html).toContain('class="site-header"');
    expect(html).toContain('<span class="badge">Test payment</span>');
    expect(html).toContain('.checkerboard'); // the one stylesheet, inline
    expect(html).not.toMatch(/<(script|link|img)\b/);
    expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/);
    expect(html).toContain('<h1>10 × &lt;b&gt;3-inch&lt;/b&gt; &quot;die-cut&quot; &amp; co</h1>');
    expect(html).toContain('Receipt to o&#39;brien&lt;script&gt;@example.com');
    expect(html).toContain('action="/checkout/cs_local_&quot;&gt;&lt;b&gt;"');
    expect(html).toContain('value="tok&quot;en"');
    expect(html).toContain('<a href="#">Cancel and return to the shop</a>');
    expect(html).toContain('$21.99');
    expect(expiredPage(session)).toContain('<a href="#">Return to the shop</a>');
  });

  it('are served with a CSP that allows exactly their stylesheet', () => {
    const headers: Record<string, string> = {};
    const ctx = { set: (h: Record<string, string>) => Object.assign(headers, h) } as unknown as Parameters<typeof sendPage>[0];
    const html = payPage(session, 'token');
    sendPage(ctx, 200, html);
    const css = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const csp = headers['content-security-policy']!;
    expect(csp).toContain(`style-src 'sha256-${createHash('sha256').update(css).digest('base64')}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(headers['cache-control']).toBe('no-store');
    expect(headers['x-content-type-options']).toBe('nosniff');
  });
});
