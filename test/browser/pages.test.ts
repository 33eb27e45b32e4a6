/**
 * A real-browser smoke of the shopper's pages (headless Chromium, a phone-sized context), served
 * by the real page routes under the default Content-Security-Policy, over a scripted API: the
 * upload preview and a refusal's message, the credit packs (up front with no credit or on a 402,
 * behind "Buy more credits" otherwise, absent where none are sold), a pack's checkout and the
 * return from it, the live progress and the finished buddy (with the
 * WebP fallback when the video cannot play), the checkout's live total (equal to priceOf) and its
 * hand-over to the order page, and the order page with and without its private link; a browser
 * that cannot keep the token (the private link to copy, the order cookie); the token kept in the
 * address bar until the order loads; a buddy gone (404) or a failing API on the progress page; the
 * buttons given back when a page comes back from the back/forward cache. No console errors, no CSP
 * violations (that catches inline code), no axe WCAG A/AA findings.
 */
import Router, { type RouterContext } from '@koa/router';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimationRepository, type AnimationRecord } from '../../src/animations/repository.js';
import { createApp } from '../../src/api/app.js';
import { customerRoutes } from '../../src/api/customers.js';
import { Customers } from '../../src/customers/customers.js';
import { openPGlite, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { creditPack, presentPacks } from '../../src/credits/packs.js';
import { CreditLedger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/logger.js';
import { formatAmount, priceOf } from '../../src/orders/catalog.js';
import { pageRoutes } from '../../src/web/pages.js';
import { accessibilityProblems, keepScreenshot, launchBrowser, phoneContext, watchProblems } from '../support/browser.js';
import { testLimiter } from '../support/limits.js';

const photo = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/photos/coffee.png');
const TOKEN = 'the-private-token';
let db: Database;
let server: Server;
let base: string;
let browser: Browser;
let animation: AnimationRecord;
const posted: unknown[] = [];
/** The order `POST /api/orders` makes next, and where its checkout is. */
const nextOrder = { id: 'or_smoke', checkoutUrl: '/orders/or_smoke' };
/** Every request to an order, with the Authorization it carried. */
const orderRequests: Array<{ method: string; path: string; authorization: string }> = [];

const order = {
  id: 'or_smoke',
  status: 'shipped',
  product: { shape: 'circle', sizeInches: 3, quantity: 12 },
  shipping: { name: 'Ada <b>Lovelace</b>', line1: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
  amount: { totalCents: priceOf({ shape: 'circle', sizeInches: 3, quantity: 12 }).totalCents, currency: 'usd' },
  timeline: [
    { at: '2025-05-01T10:00:00.000Z', status: 'awaiting_payment' },
    { at: '2025-05-01T10:02:00.000Z', status: 'paid' },
    { at: '2025-05-01T10:05:00.000Z', status: 'submitted', note: 'at the printer' },
    { at: '2025-05-02T09:00:00.000Z', status: 'shipped' },
  ],
  tracking: { carrier: 'Sim Post', number: 'SP123', url: 'https://track.example/SP123' },
  payment: { paidAt: '2025-05-01T10:02:00.000Z' },
};

/** Orders still open (cancellable): one opened by its private link, one by the order cookie alone. */
const openOrders = {
  or_open: { ...order, id: 'or_open', status: 'paid', tracking: undefined, timeline: order.timeline.slice(0, 2) },
  or_cookie: { ...order, id: 'or_cookie', status: 'paid', tracking: undefined, timeline: order.timeline.slice(0, 2) },
};
const orders: Record<string, typeof order | (typeof openOrders)['or_open']> = { [order.id]: order, ...openOrders };
const COOKIE = 'sf_order_token';
/** The bodies `POST /api/credits/checkout` received. */
const packCheckouts: unknown[] = [];
const PURCHASE = 'cp_0123456789abcdefghijkl';

/** The API as the pages see it, scripted. */
function fakeApi(): Router {
  const router = new Router();
  router.post('/api/animations', (ctx) => {
    ctx.req.resume();
    ctx.status = 429;
    ctx.set('Retry-After', '30');
    ctx.body = { error: { code: 'too_many_uploads', message: 'too many uploads' } };
  });
  router.get('/api/credit-packs', (ctx) => {
    ctx.body = { packs: presentPacks(), checkout: '/api/credits/checkout' };
  });
  router.post('/api/credits/checkout', async (ctx) => {
    const chunks: Buffer[] = [];
    for await (const c of ctx.req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { pack: string };
    packCheckouts.push(body);
    const pack = creditPack(body.pack)!;
    ctx.status = 201;
    ctx.body = {
      purchaseId: PURCHASE,
      pack: pack.id,
      credits: pack.credits,
      amount: { totalCents: pack.priceCents, currency: pack.currency },
      checkoutUrl: `${base}/checkout/cs_local_fake`,
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    };
  });
  router.get('/api/animations/:id/events', (ctx) => {
    const stream = new PassThrough();
    ctx.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    ctx.body = stream;
    const events: Array<{ type: string; step?: string; status: string }> = ['moderate', 'analyze', 'cartoonize'].flatMap((step) => [
      { type: 'step', step, status: 'running' },
      { type: 'step', step, status: 'succeeded' },
    ]);
    events.push({ type: 'step', step: 'expand', status: 'skipped' }, { type: 'finished', status: 'succeeded' });
    let id = 0;
    const timer = setInterval(() => {
      const e = events[id++]!;
      stream.write(`id: ${id}\nevent: ${e.type === 'finished' ? 'finished' : 'progress'}\ndata: ${JSON.stringify({ id, ...e })}\n\n`);
      if (e.type === 'finished') stop();
    }, 60);
    const stop = () => {
      clearInterval(timer);
      stream.end();
    };
    ctx.req.on('close', stop);
  });
  router.get('/api/animations/:id', (ctx) => {
    const steps = ['moderate', 'analyze', 'cartoonize', 'expand', 'segment', 'animate', 'transcode'].map((name) => ({
      name,
      status: name === 'expand' ? 'skipped' : 'succeeded',
      attempts: 1,
    }));
    ctx.body = {
      id: ctx.params.id,
      status: 'succeeded',
      steps,
      // As the API links them: under the viewer token.
      assets: { webm: `${base}/a/v_viewer/buddy.webm`, webp: `${base}/a/v_viewer/buddy.webp`, gif: `${base}/a/v_viewer/buddy.gif`, poster: `${base}/a/v_viewer/poster.png` },
      viewerUrl: `${base}/a/v_viewer`,
    };
  });
  // A "video" no browser can play, so the page must fall back to the animated WebP.
  router.get('/a/v_viewer/buddy.webm', (ctx) => {
    ctx.type = 'video/webm';
    ctx.body = Buffer.from('not a video at all');
  });
  router.get(['/a/v_viewer/buddy.webp', '/a/v_viewer/poster.png'], async (ctx) => {
    ctx.type = 'image/png';
    ctx.body = await readFile(photo);
  });
  router.post('/api/orders', async (ctx) => {
    const chunks: Buffer[] = [];
    for await (const c of ctx.req) chunks.push(c as Buffer);
    posted.push(JSON.parse(Buffer.concat(chunks).toString()));
    const { id, checkoutUrl } = nextOrder;
    // As the API does: the token also in an HttpOnly cookie for this order's API paths only.
    ctx.cookies.set(COOKIE, TOKEN, { signed: false, httpOnly: true, sameSite: 'strict', path: `/api/orders/${id}` });
    ctx.status = 201;
    ctx.body = { id, status: 'awaiting_payment', accessToken: TOKEN, checkoutUrl, orderUrl: `${base}/orders/${id}#token=${TOKEN}` };
  });
  /** The order, for its token in the Authorization header or, without one, in the cookie. */
  const authorized = (ctx: RouterContext) => {
    orderRequests.push({ method: ctx.method, path: ctx.path, authorization: ctx.get('authorization') });
    const header = ctx.get('authorization');
    const token = header ? /^Bearer (.+)$/.exec(header)?.[1] : ctx.cookies.get(COOKIE, { signed: false });
    const found = token === TOKEN ? orders[ctx.params.id!] : undefined;
    if (!found) {
      ctx.status = 404;
      ctx.body = { error: { code: 'not_found', message: 'no order with that id and access token' } };
    }
    return found;
  };
  router.get('/api/orders/:id', (ctx) => {
    const found = authorized(ctx);
    if (found) ctx.body = found;
  });
  router.post('/api/orders/:id/cancel', (ctx) => {
    const found = authorized(ctx);
    if (!found) return;
    found.status = 'cancelled';
    found.timeline = [...found.timeline, { at: new Date().toISOString(), status: 'cancelled' }];
    ctx.body = found;
  });
  return router;
}

beforeAll(async () => {
  db = await openPGlite();
  await migrate(db);
  const ledger = new CreditLedger(db);
  const customers = new Customers(db, ledger, 3);
  const animations = new AnimationRepository(db);
  ({ record: animation } = await animations.create(await customers.create()));
  const app = createApp({
    logger: createLogger('error'),
    probes: [],
    keys: ['pages-browser-test-key-0123456789abcdef'],
    routers: [customerRoutes({ customers, ledger, newCustomers: testLimiter(), starterCredits: 3 }), fakeApi(), pageRoutes({ animations, maxUploadBytes: 20 * 1024 * 1024 })],
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await db?.close();
});

/** Opens `url` in a new context (a phone's unless told); `before` scripts the context or page before it loads. */
async function open(
  url: string,
  before?: (context: BrowserContext, page: Page) => Promise<unknown>,
  newContext: (browser: Browser) => Promise<BrowserContext> = phoneContext,
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await newContext(browser);
  const page = await context.newPage();
  const problems = watchProblems(page);
  await before?.(context, page);
  await page.goto(`${base}${url}`);
  return { context, page, problems };
}

/** A valid checkout: 12 × 3-inch circles to the test address. */
async function fillOrderForm(page: Page) {
  await page.getByLabel('Shape').selectOption('circle');
  await page.getByLabel('Size').selectOption('3');
  await page.getByLabel('Quantity').fill('12');
  await page.getByLabel('Full name').fill(order.shipping.name);
  await page.getByLabel('Address line 1').fill(order.shipping.line1);
  await page.getByLabel('City').fill(order.shipping.city);
  await page.getByLabel('Postal code').fill(order.shipping.postalCode);
  await page.getByLabel('Country').selectOption('GB');
  await page.getByLabel('Email').fill('ada@example.com');
}

const activeId = (page: Page) => page.evaluate(() => document.activeElement?.id);
const orderStatus = (page: Page) => page.locator('[data-order-status]').getAttribute('data-order-status');
/** Failed loads the test caused on purpose. */
const expected = (problem: string) => /status of (402|404|429|503)|ERR_INTERNET_DISCONNECTED/.test(problem);
const desktop = (b: Browser) => b.newContext({ viewport: { width: 1280, height: 900 } });

/** Answers requests to `url` with `status` and a JSON body, as the API would. */
const answer = (page: Page, url: string, status: number, body: unknown, headers: Record<string, string> = {}, times?: number) =>
  page.route(`${base}${url}`, (route) => route.fulfill({ status, contentType: 'application/json', headers, body: JSON.stringify(body) }), { times });
/** `GET /api/me` answers `credits(n)` on its n-th call. */
const balances = (credits: (call: number) => number) => {
  let calls = 0;
  return (_context: BrowserContext, page: Page) => page.route(`${base}/api/me`, (route) => route.fulfill({ json: { customerId: 'cu_test', credits: credits(++calls) } }));
};
const noCredit = { error: { code: 'insufficient_credit', message: 'no credit left', packs: presentPacks(), checkout: '/api/credits/checkout' } };
const text = (page: Page, selector: string) => page.locator(selector).textContent();

/**
 * Chromium under Playwright runs without the back/forward cache: a page leaves for a 204 (which
 * keeps it where it is, buttons disabled), then gets the restore's pageshow event.
 */
const restored = (page: Page) => page.evaluate(() => dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })));
const left = (page: Page, url: string) =>
  new Promise<void>((resolve) =>
    void page.route(url, async (route) => {
      await route.fulfill({ status: 204 });
      resolve();
    }),
  );

describe('the pages in Chromium', () => {
  it('upload: the chosen photo is previewed, credits shown, a refusal explained and the photo kept', async () => {
    const { context, page, problems } = await open('/');
    await expect.poll(() => page.locator('#credits').textContent()).toBe('You have 3 credits left. Making a buddy uses one.');
    await page.getByRole('button', { name: 'Make my buddy' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Choose a photo first.');
    await page.getByLabel('Photo').setInputFiles(photo);
    const preview = page.locator('img[src^="blob:"]');
    await preview.waitFor({ state: 'visible' });
    expect(await preview.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    expect(await page.getByRole('alert').isHidden()).toBe(true);
    await page.getByRole('button', { name: 'Make my buddy' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('try again in 30 seconds');
    expect(await preview.isVisible()).toBe(true);
    expect(await page.getByLabel('Photo').evaluate((i: HTMLInputElement) => i.files?.length)).toBe(1);
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(problems.filter((p) => !/429/.test(p))).toEqual([]);
    await context.close();
  });

  it('upload: with no credit left the packs come first; a pack’s button starts its checkout, and its refusals are said', async () => {
    packCheckouts.length = 0;
    const { context, page, problems } = await open('/', balances(() => 0));
    const packs = page.getByRole('region', { name: 'Buy credits' });
    await packs.waitFor({ state: 'visible' });
    expect(await text(page, '#credits')).toBe('You have no credits left: buy a pack below to make a buddy.');
    expect(await page.getByRole('button', { name: 'Buy more credits' }).isVisible()).toBe(false);
    expect(await packs.locator('.pack-credits').allTextContents()).toEqual(['5 credits', '20 credits', '50 credits']);
    expect(await packs.locator('.pack-price').allTextContents()).toEqual(['$4.99', '$14.99', '$29.99']);
    expect(await packs.locator('.pack-each').allTextContents()).toEqual(['$1.00 a buddy', '$0.75 a buddy save 25%', '$0.60 a buddy save 40%']);
    expect(await accessibilityProblems(page)).toEqual([]);
    await keepScreenshot(page, 'upload-packs-phone');

    const buy = page.getByRole('button', { name: 'Buy 20 credits' });
    const refused = async (status: number, said: string, headers: Record<string, string> = {}) => {
      await answer(page, '/api/credits/checkout', status, { error: { code: 'scripted', message: 'scripted' } }, headers, 1);
      await buy.click();
      await expect.poll(() => text(page, '#packs-error')).toBe(said);
      expect(await buy.isEnabled()).toBe(true);
    };
    await refused(429, 'We are getting a lot of new shoppers from your network just now. Please try again in 2 minutes.', { 'Retry-After': '120' });
    await refused(503, 'Credit packs cannot be bought here at the moment. Please try again later.');
    await page.route(`${base}/api/credits/checkout`, (route) => route.abort('internetdisconnected'), { times: 1 });
    await buy.click();
    await expect.poll(() => text(page, '#packs-error')).toBe('We could not reach stickerflow. Check your connection and try again.');
    expect(packCheckouts).toEqual([]);

    // The API's checkout: off to its page, with what the return needs kept for this tab.
    const paying = left(page, `${base}/checkout/cs_local_fake`);
    await buy.click();
    await paying;
    expect(packCheckouts).toEqual([{ pack: 'pack-20' }]);
    expect(await page.locator('#packs-error').isHidden()).toBe(true);
    expect(await page.locator('.pack button').evaluateAll((bs) => bs.map((b) => [b.textContent, (b as HTMLButtonElement).disabled]))).toEqual([
      ['Buy 5 credits', true],
      ['Opening the checkout…', true],
      ['Buy 50 credits', true],
    ]);
    expect(await page.evaluate((key) => sessionStorage.getItem(key), `stickerflow:purchase:${PURCHASE}`)).toBe(JSON.stringify({ bought: 20, before: 0 }));
    await restored(page);
    expect(await buy.isEnabled()).toBe(true);
    expect(problems.filter((p) => !expected(p))).toEqual([]);
    await context.close();

    const wide = await open('/', balances(() => 0), desktop);
    await wide.page.getByRole('region', { name: 'Buy credits' }).waitFor({ state: 'visible' });
    expect(await accessibilityProblems(wide.page)).toEqual([]);
    await keepScreenshot(wide.page, 'upload-packs-desktop');
    expect(wide.problems).toEqual([]);
    await wide.context.close();
  });

  it('upload: with credit left the packs wait behind “Buy more credits”', async () => {
    for (const newContext of [phoneContext, desktop]) {
      const { context, page, problems } = await open('/', undefined, newContext);
      const toggle = page.getByRole('button', { name: 'Buy more credits' });
      await toggle.waitFor({ state: 'visible' });
      expect(await text(page, '#credits')).toBe('You have 3 credits left. Making a buddy uses one.');
      const packs = page.getByRole('region', { name: 'Buy credits' });
      expect([await packs.isVisible(), await toggle.getAttribute('aria-expanded')]).toEqual([false, 'false']);
      await toggle.click();
      await packs.waitFor({ state: 'visible' });
      expect(await toggle.getAttribute('aria-expanded')).toBe('true');
      expect(await accessibilityProblems(page)).toEqual([]);
      await keepScreenshot(page, `upload-more-credits-${newContext === desktop ? 'desktop' : 'phone'}`);
      await toggle.click();
      await packs.waitFor({ state: 'hidden' });
      expect(problems).toEqual([]);
      await context.close();
    }
  });

  it('upload: a 402 brings the packs of its answer up front, with the focus on them', async () => {
    const { context, page, problems } = await open('/', async (_context, page) => {
      // The catalogue could not be read: the packs come from the refusal alone.
      await page.route(`${base}/api/credit-packs`, (route) => route.abort('internetdisconnected'));
      await answer(page, '/api/animations', 402, noCredit);
    });
    await expect.poll(() => text(page, '#credits')).toBe('You have 3 credits left. Making a buddy uses one.');
    expect(await page.locator('#packs-toggle-row').isHidden()).toBe(true);
    await page.getByLabel('Photo').setInputFiles(photo);
    await page.getByRole('button', { name: 'Make my buddy' }).click();
    await expect.poll(() => text(page, '#upload-error')).toBe('You have no credits left: making a buddy uses one. Buy a pack below to go on.');
    const packs = page.getByRole('region', { name: 'Buy credits' });
    expect(await packs.isVisible()).toBe(true);
    expect(await activeId(page)).toBe('packs-heading');
    expect(await packs.getByRole('button').count()).toBe(3);
    expect(await page.locator('#credits').isHidden()).toBe(true); // the alert says it already
    expect(await page.getByRole('button', { name: 'Buy more credits' }).isVisible()).toBe(false);
    expect(await accessibilityProblems(page)).toEqual([]);
    await keepScreenshot(page, 'upload-402-phone');
    // Another photo: the alert goes, the balance line comes back in its place.
    await page.getByLabel('Photo').setInputFiles([]);
    expect(await page.locator('#upload-error').isHidden()).toBe(true);
    expect(await text(page, '#credits')).toBe('You have no credits left: buy a pack below to make a buddy.');
    expect(problems.filter((p) => !expected(p))).toEqual([]);
    await context.close();
  });

  it('upload: where no packs are sold, the page does without them', async () => {
    const { context, page, problems } = await open('/', async (context, page) => {
      await balances(() => 0)(context, page);
      await answer(page, '/api/credit-packs', 200, { packs: [] });
      await answer(page, '/api/animations', 402, { error: { code: 'insufficient_credit', message: 'no credit left: an animation costs 1 credit' } });
    });
    await expect.poll(() => text(page, '#credits')).toBe('You have no credits left.');
    await page.getByLabel('Photo').setInputFiles(photo);
    await page.getByRole('button', { name: 'Make my buddy' }).click();
    await expect.poll(() => text(page, '#upload-error')).toBe('You have no credits left: making a buddy uses one.');
    expect([await page.locator('#packs').isHidden(), await page.locator('#packs-toggle-row').isHidden()]).toEqual([true, true]);
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(problems.filter((p) => !expected(p))).toEqual([]);
    await context.close();
  });

  it('upload: back from a pack’s checkout, thanks and the new balance; a calm word while the credits are late', async () => {
    /** The return to `/?purchase=…` in the tab that left for the checkout, with what it kept (if it could). */
    const back = async (kept: object | undefined, credits: (call: number) => number) => {
      const opened = await open('/', balances(credits));
      if (kept) await opened.page.evaluate(([key, value]) => sessionStorage.setItem(key, value), [`stickerflow:purchase:${PURCHASE}`, JSON.stringify(kept)] as const);
      await opened.page.goto(`${base}/?purchase=${PURCHASE}`);
      return opened;
    };
    const note = (page: Page) => text(page, '#purchase-note');
    await Promise.all([
      (async () => {
        // The first call is the visit before the checkout; the credits are in from the fourth.
        const { context, page, problems } = await back({ bought: 20, before: 0 }, (call) => (call < 4 ? 0 : 20));
        await expect.poll(() => note(page)).toBe('Thank you! Adding your credits…');
        expect(await activeId(page)).toBe('purchase-note');
        expect(await text(page, '#credits')).toBe('You have no credits yet.');
        expect(await page.locator('#packs').isHidden()).toBe(true); // just bought: not offered again up front
        await expect.poll(() => note(page), { timeout: 8000 }).toBe('Thank you! Your 20 credits are here: you have 20 credits.');
        expect(await text(page, '#credits')).toBe('You have 20 credits left. Making a buddy uses one.');
        expect(page.url()).toBe(`${base}/`);
        expect(await page.evaluate((key) => sessionStorage.getItem(key), `stickerflow:purchase:${PURCHASE}`)).toBeNull();
        expect(await page.getByRole('button', { name: 'Buy more credits' }).isVisible()).toBe(true);
        expect(await accessibilityProblems(page)).toEqual([]);
        await keepScreenshot(page, 'upload-thanks-phone');
        expect(problems).toEqual([]);
        await context.close();
      })(),
      (async () => {
        const { context, page, problems } = await back({ bought: 5, before: 0 }, () => 0);
        await expect.poll(() => text(page, '#credits')).toBe('You have no credits yet.');
        // The balance line is a live region: the polls that find nothing new leave it alone.
        await page.evaluate(() => {
          const w = window as unknown as { creditChanges: number };
          w.creditChanges = 0;
          new MutationObserver((records) => (w.creditChanges += records.length)).observe(document.getElementById('credits')!, {
            subtree: true,
            childList: true,
            characterData: true,
            attributes: true,
          });
        });
        await expect.poll(() => note(page), { timeout: 15_000 }).toBe('Thank you! Your payment is being confirmed: your credits will appear in a moment.');
        expect(await accessibilityProblems(page)).toEqual([]);
        expect(await page.evaluate(() => (window as unknown as { creditChanges: number }).creditChanges)).toBe(0);
        await keepScreenshot(page, 'upload-thanks-late-phone');
        expect(problems).toEqual([]);
        await context.close();
      })(),
      (async () => {
        // Storage refused before the checkout: the page cannot tell whether 5 includes the new ones.
        const { context, page, problems } = await back(undefined, () => 5);
        await expect
          .poll(() => note(page), { timeout: 15_000 })
          .toBe('Thank you! You have 5 credits; if your new ones are not counted yet, they will appear in a moment.');
        expect(problems).toEqual([]);
        await context.close();
      })(),
    ]);
  }, 30_000);

  it('progress: the steps follow the event stream, then the buddy shows over the checkerboard', async () => {
    const { context, page, problems } = await open(`/animations/${animation.id}`);
    const ready = page.locator('[data-animation-ready]');
    await ready.waitFor({ state: 'visible' });
    const steps = page.getByRole('list', { name: 'Progress' }).locator('li[data-step]');
    expect(await steps.evaluateAll((lis) => lis.map((li) => `${li.dataset.step}:${li.dataset.status}`))).toEqual([
      'moderate:succeeded',
      'analyze:succeeded',
      'cartoonize:succeeded',
      'expand:skipped',
      'segment:succeeded',
      'animate:succeeded',
      'transcode:succeeded',
    ]);
    // The video cannot play: the animated WebP takes its place.
    const img = ready.locator('.checkerboard img');
    await img.waitFor({ state: 'visible' });
    expect(await img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)).toBe(true);
    expect(await page.getByLabel('Viewer link').inputValue()).toBe(`${base}/a/v_viewer`);
    expect(await page.getByRole('link', { name: 'Order stickers' }).getAttribute('href')).toBe(`/animations/${animation.id}/order`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Your buddy is ready!');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('checkout: the total follows the choices and equals priceOf; the order goes on with its token kept', async () => {
    const { context, page, problems } = await open(`/animations/${animation.id}/order`);
    const total = page.getByRole('status', { name: 'Total' });
    for (const [shape, size, quantity] of [
      ['circle', 3, 12],
      ['square', 2, 1],
      ['die-cut', 4, 100],
    ] as const) {
      await page.getByLabel('Shape').selectOption(shape);
      await page.getByLabel('Size').selectOption(String(size));
      await page.getByLabel('Quantity').fill(String(quantity));
      await expect.poll(() => total.textContent()).toBe(formatAmount(priceOf({ shape, sizeInches: size, quantity }).totalCents, 'usd'));
    }
    await page.getByLabel('Quantity').fill('501');
    await expect.poll(() => page.locator('#quantity-error').textContent()).toBe('Order between 1 and 500 stickers.');
    await page.getByLabel('Quantity').fill('12');
    await page.getByLabel('Shape').selectOption('circle');
    await page.getByLabel('Size').selectOption('3');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await expect.poll(() => page.locator('#form-error').textContent()).toBe('Please check the highlighted fields.');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('name');
    expect(posted).toEqual([]);
    await page.getByLabel('Full name').fill(order.shipping.name);
    await page.getByLabel('Address line 1').fill(order.shipping.line1);
    await page.getByLabel('City').fill(order.shipping.city);
    await page.getByLabel('Postal code').fill('bad!');
    await page.getByLabel('Country').selectOption('GB');
    await page.getByLabel('Email').fill('ada@example.com');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await expect.poll(() => page.locator('#postalCode-error').textContent()).toBe('The postal code must be 2–11 letters, digits, spaces or dashes.');
    await page.getByLabel('Postal code').fill(` ${order.shipping.postalCode} `);
    // A US address needs its state code, as the server and the printers do.
    await page.getByLabel('Country').selectOption('US');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await expect.poll(() => page.locator('#region-error').textContent()).toMatch(/^The state, province or region is required for this country/);
    expect(posted).toEqual([]);
    await page.getByLabel('Country').selectOption('GB');
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL(`${base}/orders/${order.id}`);
    expect(posted).toEqual([{ animationId: animation.id, product: order.product, shipping: order.shipping, email: 'ada@example.com' }]);
    expect(await page.evaluate((id) => localStorage.getItem(`stickerflow:order:${id}`), order.id)).toBe(JSON.stringify({ accessToken: TOKEN }));
    // The order page opens with the kept token.
    await expect.poll(() => page.locator('[data-order-status]').getAttribute('data-order-status')).toBe('shipped');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('order: without its private link (or with a wrong one) nothing private; with it, the order', async () => {
    for (const url of [`/orders/${order.id}`, `/orders/${order.id}#token=wrong`, '/orders/or_other']) {
      const { context, page, problems } = await open(url);
      await page.getByRole('heading', { name: 'This page needs the order’s private link' }).waitFor({ state: 'visible' });
      expect(await page.locator('[data-order-status]').getAttribute('data-order-status')).toBe('');
      expect(await page.locator('#order-details').isHidden()).toBe(true);
      expect(await page.textContent('body')).not.toContain('Lovelace');
      expect(problems.filter((p) => !/404/.test(p))).toEqual([]);
      await context.close();
    }

    const { context, page, problems } = await open(`/orders/${order.id}#token=${TOKEN}`);
    await expect.poll(() => page.locator('[data-order-status]').getAttribute('data-order-status')).toBe('shipped');
    expect(new URL(page.url()).hash).toBe('');
    expect(await page.locator('[data-order-status]').textContent()).toBe('Shipped');
    const body = (await page.textContent('body'))!;
    expect(body).toContain('12 × 3-inch circle stickers');
    expect(body).toContain('Ada <b>Lovelace</b>'); // as text, not markup
    expect(body).toContain(formatAmount(order.amount.totalCents, 'usd'));
    expect(await page.locator('#timeline li time').evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime')))).toEqual(order.timeline.map((e) => e.at));
    expect(await page.getByRole('link', { name: 'Track the parcel' }).getAttribute('href')).toBe(order.tracking.url);
    expect(await page.getByLabel('Private link', { exact: true }).inputValue()).toBe(`${base}/orders/${order.id}#token=${TOKEN}`);
    expect(await page.getByRole('button', { name: 'Cancel order' }).isVisible()).toBe(false); // shipped: too late
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('checkout: a browser that cannot keep the token shows the private link to copy first; the order cookie opens the order', async () => {
    Object.assign(nextOrder, { id: 'or_cookie', checkoutUrl: '/orders/or_cookie' });
    const { context, page, problems } = await open(`/animations/${animation.id}/order`, async (ctx) => {
      // As Safari with storage blocked: every write to localStorage throws.
      await ctx.addInitScript(() => {
        Storage.prototype.setItem = () => {
          throw new DOMException('The operation is insecure.', 'SecurityError');
        };
      });
      await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    });
    await fillOrderForm(page);
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.getByRole('heading', { name: 'Copy your order’s private link first' }).waitFor({ state: 'visible' });
    expect(page.url()).toBe(`${base}/animations/${animation.id}/order`); // not gone to pay without it
    expect(await activeId(page)).toBe('keep-link-heading');
    expect(await page.locator('#order-form').isHidden()).toBe(true);
    const link = `${base}/orders/or_cookie#token=${TOKEN}`;
    expect(await page.getByLabel('Private link', { exact: true }).inputValue()).toBe(link);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.locator('#copy-order-link').textContent()).toBe('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
    expect(await accessibilityProblems(page)).toEqual([]);

    // Back from paying, with no token in the address bar nor in storage: the cookie opens the order.
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL(`${base}/orders/or_cookie`);
    await expect.poll(() => orderStatus(page)).toBe('paid');
    expect(await page.locator('#order-details').isVisible()).toBe(true);
    expect(await page.locator('#private-link-card').isHidden()).toBe(true); // no token here to show
    const requests = () => orderRequests.filter((r) => r.path.startsWith('/api/orders/or_cookie'));
    expect(requests().map((r) => r.authorization)).toEqual(requests().map(() => ''));

    // Cancelling works the same way; the focus goes from the vanished confirm box to what happened.
    await page.getByRole('button', { name: 'Cancel order' }).click();
    await page.getByRole('button', { name: 'Yes, cancel it' }).click();
    await expect.poll(() => page.locator('#cancel-message').textContent()).toBe('Your order is cancelled.');
    expect(await activeId(page)).toBe('cancel-message');
    expect(await orderStatus(page)).toBe('cancelled');
    expect(requests().find((r) => r.method === 'POST')).toEqual({ method: 'POST', path: '/api/orders/or_cookie/cancel', authorization: '' });
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('order: the private link stays in the address bar until the order loads; the status is announced only when it changes', async () => {
    const { context, page, problems } = await open(`/orders/or_open#token=${TOKEN}`, (_ctx, page) =>
      page.route(`${base}/api/orders/or_open`, (route) => route.abort('internetdisconnected'), { times: 1 }),
    );
    await expect.poll(() => page.locator('#order-loading').textContent()).toMatch(/Trying again…$/);
    expect(new URL(page.url()).hash).toBe(`#token=${TOKEN}`);
    // The shopper reloads: the token is still there, and this time it is accepted.
    await page.reload();
    await expect.poll(() => orderStatus(page)).toBe('paid');
    expect(new URL(page.url()).hash).toBe('');
    expect(await page.evaluate(() => localStorage.getItem('stickerflow:order:or_open'))).toBe(JSON.stringify({ accessToken: TOKEN }));
    expect(await page.getByLabel('Private link', { exact: true }).inputValue()).toBe(`${base}/orders/or_open#token=${TOKEN}`);

    // The badge sits in an aria-live region: a poll with the same status leaves it alone.
    await page.evaluate(() => {
      const w = window as unknown as { badgeChanges: number };
      w.badgeChanges = 0;
      new MutationObserver((records) => (w.badgeChanges += records.length)).observe(document.getElementById('order-status')!, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true,
      });
    });
    const gets = () => orderRequests.filter((r) => r.method === 'GET' && r.path === '/api/orders/or_open').length;
    const before = gets();
    await expect.poll(gets, { timeout: 10_000 }).toBeGreaterThan(before);
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => (window as unknown as { badgeChanges: number }).badgeChanges)).toBe(0);
    expect(await page.locator('#order-status').textContent()).toBe('Paid');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(problems.filter((p) => !expected(p))).toEqual([]);
    await context.close();
  });

  it('progress: a buddy the API no longer knows is final; failures are said and retried less and less often', async () => {
    const api = `${base}/api/animations/${animation.id}`;
    const calls = { gone: 0, failing: 0 };
    const scripted = (kind: keyof typeof calls, status: number) => async (_ctx: BrowserContext, page: Page) => {
      const body = JSON.stringify({ error: { code: status === 404 ? 'not_found' : 'unavailable', message: 'scripted' } });
      await page.route(`${api}/events`, (route) => route.fulfill({ status, contentType: 'application/json', body }));
      await page.route(api, (route) => {
        calls[kind]++;
        return route.fulfill({ status, contentType: 'application/json', body });
      });
    };
    await Promise.all([
      (async () => {
        const { context, page, problems } = await open(`/animations/${animation.id}`, scripted('gone', 404));
        await page.getByRole('heading', { level: 1, name: 'We could not find this buddy' }).waitFor({ state: 'visible' });
        expect(await page.locator('#summary').textContent()).toMatch(/^It no longer exists/);
        expect(await page.getByRole('alert').getByRole('link', { name: 'Try another photo' }).getAttribute('href')).toBe('/');
        await page.waitForTimeout(4000); // longer than any retry would wait
        expect(calls.gone).toBe(1);
        expect(await accessibilityProblems(page)).toEqual([]);
        expect(problems.filter((p) => !expected(p))).toEqual([]);
        await context.close();
      })(),
      (async () => {
        const { context, page, problems } = await open(`/animations/${animation.id}`, scripted('failing', 503));
        const summary = page.locator('#summary');
        const retrying = (seconds: number) => `We could not get your buddy’s progress (error 503). Trying again in ${seconds} seconds…`;
        await expect.poll(() => summary.textContent()).toBe(retrying(3));
        await expect.poll(() => summary.textContent(), { timeout: 8000 }).toBe(retrying(6));
        expect(calls.failing).toBe(2);
        expect(problems.filter((p) => !expected(p))).toEqual([]);
        await context.close();
      })(),
    ]);
  });

  it('upload and checkout: a page back from the back/forward cache has its button again', async () => {
    const upload = await open('/', (_ctx, page) =>
      page.route(`${base}/api/animations`, (route) => route.fulfill({ status: 202, contentType: 'application/json', body: JSON.stringify({ id: 'an_elsewhere' }) })),
    );
    const uploaded = left(upload.page, `${base}/animations/an_elsewhere`);
    await upload.page.getByLabel('Photo').setInputFiles(photo);
    await upload.page.getByRole('button', { name: 'Make my buddy' }).click();
    await uploaded;
    const uploadButton = upload.page.locator('#upload-submit');
    expect([await uploadButton.textContent(), await uploadButton.isDisabled()]).toEqual(['Uploading…', true]);
    await restored(upload.page);
    expect([await uploadButton.textContent(), await uploadButton.isDisabled()]).toEqual(['Make my buddy', false]);
    expect(upload.problems).toEqual([]);
    await upload.context.close();

    Object.assign(nextOrder, { id: 'or_smoke', checkoutUrl: '/pay-elsewhere' });
    const checkout = await open(`/animations/${animation.id}/order`);
    const paying = left(checkout.page, `${base}/pay-elsewhere`);
    await fillOrderForm(checkout.page);
    await checkout.page.getByRole('button', { name: 'Continue to payment' }).click();
    await paying;
    const orderButton = checkout.page.locator('#order-submit');
    expect([await orderButton.textContent(), await orderButton.isDisabled()]).toEqual(['Opening the payment page…', true]);
    await restored(checkout.page);
    expect([await orderButton.textContent(), await orderButton.isDisabled()]).toEqual(['Continue to payment', false]);
    expect(checkout.problems).toEqual([]);
    await checkout.context.close();
  });
});
