/**
 * A real-browser smoke of the shopper's pages (headless Chromium, a phone-sized context), served
 * by the real page routes under the default Content-Security-Policy, over a scripted API: the
 * upload preview and a refusal's message, the live progress and the finished buddy (with the
 * WebP fallback when the video cannot play), the checkout's live total (equal to priceOf) and its
 * hand-over to the order page, and the order page with and without its private link. No console
 * errors, no CSP violations (that catches inline code), no axe WCAG A/AA findings.
 */
import Router from '@koa/router';
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
import { CreditLedger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/logger.js';
import { formatAmount, priceOf } from '../../src/orders/catalog.js';
import { pageRoutes } from '../../src/web/pages.js';
import { accessibilityProblems, launchBrowser, phoneContext, watchProblems } from '../support/browser.js';

const photo = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/photos/coffee.png');
const TOKEN = 'the-private-token';
let db: Database;
let server: Server;
let base: string;
let browser: Browser;
let animation: AnimationRecord;
const posted: unknown[] = [];

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

/** The API as the pages see it, scripted. */
function fakeApi(): Router {
  const router = new Router();
  router.post('/api/animations', (ctx) => {
    ctx.req.resume();
    ctx.status = 429;
    ctx.set('Retry-After', '30');
    ctx.body = { error: { code: 'too_many_uploads', message: 'too many uploads' } };
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
      assets: { webm: `${base}/files/fake/buddy.webm`, webp: `${base}/files/fake/buddy.webp`, poster: `${base}/files/fake/buddy.webp` },
      viewerUrl: `${base}/a/v_viewer`,
    };
  });
  // A "video" no browser can play, so the page must fall back to the animated WebP.
  router.get('/files/fake/buddy.webm', (ctx) => {
    ctx.type = 'video/webm';
    ctx.body = Buffer.from('not a video at all');
  });
  router.get('/files/fake/buddy.webp', async (ctx) => {
    ctx.type = 'image/png';
    ctx.body = await readFile(photo);
  });
  router.post('/api/orders', async (ctx) => {
    const chunks: Buffer[] = [];
    for await (const c of ctx.req) chunks.push(c as Buffer);
    posted.push(JSON.parse(Buffer.concat(chunks).toString()));
    ctx.status = 201;
    ctx.body = { id: order.id, status: 'awaiting_payment', accessToken: TOKEN, checkoutUrl: `/orders/${order.id}` };
  });
  router.get('/api/orders/:id', (ctx) => {
    if (ctx.params.id !== order.id || ctx.get('authorization') !== `Bearer ${TOKEN}`) {
      ctx.status = 404;
      ctx.body = { error: { code: 'not_found', message: 'no order with that id and access token' } };
      return;
    }
    ctx.body = order;
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
    routers: [customerRoutes({ customers, ledger }), fakeApi(), pageRoutes({ animations, maxUploadBytes: 20 * 1024 * 1024 })],
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

async function open(url: string): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await phoneContext(browser);
  const page = await context.newPage();
  const problems = watchProblems(page);
  await page.goto(`${base}${url}`);
  return { context, page, problems };
}

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
});
