/**
 * The shopper's whole journey in real headless Chromium, on the real stack (`npm start`: Temporal
 * dev server, worker, API and pages, local models, local payments, the printer simulator set fast;
 * no free credits, as a shop that sells packs only): the upload refused for want of credit → buy a
 * pack on the local checkout page → back on the upload page with the new balance → upload a photo →
 * watch the live progress → the animation plays → order stickers → pay on the
 * local checkout page → the order page shows the order shipped, and opens again by the order's
 * cookie alone. Then the private parts: the order page without its token shows nothing private,
 * and the QR viewer plays on a phone.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { priceOf } from '../../src/orders/product.js';
import { accessibilityProblems, keepScreenshot, launchBrowser, phoneContext, watchProblems } from '../support/browser.js';
import { launchStack, type Stack } from '../support/stack.js';

const photo = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/photos/astronaut.png');
let app: Stack;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([launchStack({ PRINTER_SIM_STEP_SECONDS: '1', STARTER_CREDITS: '0' }), launchBrowser()]);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** What the journey found out, for the checks after it. */
const journey: { orderId?: string; privateLink?: string; viewerUrl?: string; shopperName: string } = { shopperName: 'Grace Hopper' };

/** The statuses each progress step showed while the page was open. */
async function watchSteps(page: Page): Promise<() => Promise<Record<string, string[]>>> {
  await page.evaluate(() => {
    const seen: Record<string, string[]> = {};
    (window as unknown as { __steps: typeof seen }).__steps = seen;
    const note = () => {
      for (const li of document.querySelectorAll<HTMLElement>('li[data-step]')) {
        const list = (seen[li.dataset.step!] ??= []);
        if (list.at(-1) !== li.dataset.status) list.push(li.dataset.status!);
      }
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true });
    note();
  });
  return () => page.evaluate(() => (window as unknown as { __steps: Record<string, string[]> }).__steps);
}

describe('the shopper in a real browser', () => {
  it('buys credits, uploads a photo, watches it being made, orders stickers, pays and sees them shipped', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watchProblems(page);

    // 0. No credit: the packs are offered up front, and again by the upload's 402.
    await page.goto(`${app.base}/`);
    const packs = page.getByRole('region', { name: 'Buy credits' });
    await packs.waitFor({ state: 'visible' });
    await expect.poll(() => page.locator('#credits').textContent()).toBe('You have no credits left: buy a pack below to make a buddy.');
    expect(await accessibilityProblems(page)).toEqual([]);
    await keepScreenshot(page, 'journey-no-credit');
    await page.getByLabel('Photo').setInputFiles(photo);
    await page.getByRole('button', { name: 'Make my buddy' }).click();
    await expect.poll(() => page.locator('#upload-error').textContent()).toBe('You have no credits left: making a buddy uses one. Buy a pack below to go on.');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('packs-heading');

    // The pack's checkout on the local payment page; the return lands home with the credits added.
    await packs.getByRole('button', { name: 'Buy 5 credits' }).click();
    await page.waitForURL(/\/checkout\/cs_local_/);
    await expect.poll(() => page.textContent('body')).toContain('$4.99');
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.getByRole('button', { name: /^Pay / }).click();
    await expect
      .poll(() => page.locator('#purchase-note').textContent(), { timeout: 15_000 })
      .toBe('Thank you! Your 5 credits are here: you have 5 credits.');
    expect(page.url()).toBe(`${app.base}/`);
    expect(await page.locator('#credits').textContent()).toBe('You have 5 credits left. Making a buddy uses one.');
    expect(await packs.isVisible()).toBe(false); // behind "Buy more credits" now
    expect(await page.getByRole('button', { name: 'Buy more credits' }).isVisible()).toBe(true);
    expect(await accessibilityProblems(page)).toEqual([]);
    await keepScreenshot(page, 'journey-credits-bought');

    // 1. Upload, with a preview of the chosen photo.
    await page.getByLabel('Photo').setInputFiles(photo);
    const preview = page.locator('img[src^="blob:"]');
    await preview.waitFor({ state: 'visible' });
    expect(await preview.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    await page.getByRole('button', { name: 'Make my buddy' }).click();
    await page.waitForURL(/\/animations\/an_[A-Za-z0-9_-]{22}$/);
    const animationId = new URL(page.url()).pathname.split('/').pop()!;

    // 2. Live progress from the event stream, then the animation playing over the checkerboard.
    const steps = await watchSteps(page);
    const ready = page.locator('[data-animation-ready] video');
    await ready.waitFor({ state: 'visible', timeout: 150_000 });
    const seen = await steps();
    expect(Object.keys(seen).length).toBeGreaterThanOrEqual(4);
    // The page changed as the work went on: some step was seen in more than one state.
    expect(Object.values(seen).some((statuses) => statuses.length > 1)).toBe(true);
    expect(Object.values(seen).every((statuses) => statuses.at(-1) === 'succeeded' || statuses.at(-1) === 'skipped')).toBe(true);
    await expect.poll(() => ready.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await accessibilityProblems(page)).toEqual([]);

    // 3. The sticker checkout: the total follows the choices and equals what the server charges.
    await page.getByRole('link', { name: 'Order stickers' }).click();
    await page.waitForURL(`${app.base}/animations/${animationId}/order`);
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.getByLabel('Shape').selectOption('circle').catch(async () => page.getByLabel('Circle').check());
    await page.getByLabel('Size').selectOption('3').catch(async () => page.getByLabel('3 in').check());
    await page.getByLabel('Quantity').fill('12');
    const total = priceOf({ shape: 'circle', sizeInches: 3, quantity: 12 }).totalCents;
    const money = `$${(total / 100).toFixed(2)}`;
    await expect.poll(() => page.getByRole('status', { name: 'Total' }).or(page.locator('output')).first().textContent()).toContain(money);
    await page.getByLabel('Full name').fill(journey.shopperName);
    await page.getByLabel('Address line 1').fill('1 Navy Way');
    await page.getByLabel('City').fill('Arlington');
    await page.getByLabel('Postal code').fill('22202');
    await page.getByLabel('State, province or region').fill('va');
    await page.getByLabel('Country').selectOption('US');
    await page.getByLabel('Email').fill('grace@example.com');
    await page.getByRole('button', { name: 'Continue to payment' }).click();

    // 4. The local checkout page, then back to the order's page.
    await page.waitForURL(/\/checkout\/cs_local_/);
    await expect.poll(() => page.textContent('body')).toContain(money);
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.waitForURL(/\/orders\/or_[A-Za-z0-9_-]+$/);
    journey.orderId = new URL(page.url()).pathname.split('/').pop()!;

    // 5. The order page follows the order to the simulated printer's shipment.
    const status = page.locator('[data-order-status]');
    await expect
      .poll(() => status.getAttribute('data-order-status'), { timeout: 90_000, interval: 500 })
      .toMatch(/^(shipped|delivered)$/);
    const body = (await page.textContent('body'))!;
    expect(body).toContain(journey.shopperName);
    expect(body).toContain('Arlington, VA, US');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(await page.locator('ol li').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator('a[href*="track"], [data-tracking]').count()).toBeGreaterThan(0);
    journey.privateLink = (await page.locator('a[href*="#token="], input[value*="#token="]').first().evaluate(
      (e) => (e as HTMLAnchorElement).href || (e as HTMLInputElement).value,
    ))!;
    const animation = (await (await fetch(`${app.base}/api/animations/${animationId}`)).json()) as { viewerUrl: string };
    journey.viewerUrl = animation.viewerUrl;

    // 6. The same browser without the kept token (as where storage is blocked): the order's cookie,
    // set when it was placed, still opens it; there is no private link to show then.
    await page.evaluate(() => localStorage.clear());
    await page.goto(`${app.base}/orders/${journey.orderId}`);
    await expect.poll(() => status.getAttribute('data-order-status')).toMatch(/^(shipped|delivered)$/);
    expect(await page.textContent('body')).toContain(journey.shopperName);
    expect(await page.locator('#private-link-card').isHidden()).toBe(true);
    expect(problems.filter((p) => !/status of 402/.test(p))).toEqual([]); // the upload without credit
    await context.close();
  }, 300_000);

  it('the order page without its token shows nothing private; the private link shows the order', async () => {
    expect(journey.orderId).toBeDefined();
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchProblems(page);
    for (const url of [`${app.base}/orders/${journey.orderId}`, `${app.base}/orders/${journey.orderId}#token=not-the-token`]) {
      await page.goto(url);
      await expect.poll(() => page.textContent('body')).toMatch(/private link/i);
      const text = (await page.textContent('body'))!;
      for (const secret of [journey.shopperName, 'Navy Way', 'grace@example.com', 'Arlington', 'shipped']) expect(text).not.toContain(secret);
      expect(await page.locator('[data-order-status]').getAttribute('data-order-status').catch(() => null)).toBeFalsy();
    }
    // The private link (token in the fragment, never sent to the server) opens it in a new browser.
    await page.goto(journey.privateLink!);
    await expect.poll(() => page.locator('[data-order-status]').getAttribute('data-order-status')).toMatch(/^(shipped|delivered)$/);
    expect(await page.textContent('body')).toContain(journey.shopperName);
    expect(new URL(page.url()).hash).toBe('');
    expect(problems.filter((p) => !/404/.test(p))).toEqual([]);
    await context.close();
  }, 60_000);

  it('the QR viewer plays the buddy on a phone', async () => {
    expect(journey.viewerUrl).toBeDefined();
    const context = await phoneContext(browser);
    const page = await context.newPage();
    const problems = watchProblems(page);
    await page.goto(journey.viewerUrl!);
    const video = page.locator('video');
    await expect
      .poll(() => video.evaluate((v: HTMLVideoElement) => (v.getVideoPlaybackQuality?.().totalVideoFrames ?? 0) > 0 && v.currentTime > 0), {
        timeout: 15_000,
      })
      .toBe(true);
    expect(await accessibilityProblems(page)).toEqual([]);
    const html = await page.content();
    expect(html).not.toMatch(/an_[A-Za-z0-9_-]{22}/);
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);
});
