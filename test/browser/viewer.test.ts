/**
 * The QR viewer in real headless Chromium on a phone-sized screen (Pixel 7), served by the real
 * app (default security headers, the viewer's own CSP) over PGlite and local blob storage, with a
 * real transparent animation made by the transcode code from synthetic RGBA frames. The video
 * plays and the alpha check keeps it; where the WebM fails or comes without alpha (as Safari
 * shows VP9), the animated WebP takes its place; reduced motion stops it on its first frame;
 * without JavaScript the WebP shows. No console errors, no CSP violations.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { devices, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimationRepository, type AnimationRecord } from '../../src/animations/repository.js';
import { createApp } from '../../src/api/app.js';
import { Customers } from '../../src/customers/customers.js';
import { openPGlite, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { CreditLedger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/logger.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { viewerRoutes } from '../../src/web/viewer.js';
import { FFMPEG, makeBuddyAssets } from '../support/buddy-assets.js';
import { launchBrowser, phoneContext, watchProblems } from '../support/browser.js';

let db: Database;
let server: Server;
let base: string;
let browser: Browser;
let buddy: AnimationRecord;
/** The same animation as a VP9 WebM without alpha: what Safari makes of the real one. */
let opaqueWebm: Buffer;

beforeAll(async () => {
  db = await openPGlite();
  await migrate(db);
  const animations = new AnimationRepository(db);
  ({ record: buddy } = await animations.create(await new Customers(db, new CreditLedger(db), 1).create()));
  const root = await mkdtemp(path.join(os.tmpdir(), 'viewer-browser-'));
  const blobs = new LocalBlobStore(root);
  const frames = await makeBuddyAssets(blobs, buddy.id);
  const opaque = path.join(root, 'opaque.webm');
  await promisify(execFile)(FFMPEG, ['-v', 'error', '-y', '-framerate', String(frames.fps), '-i', path.join(root, frames.prefix, '%04d.png'),
    '-vf', 'format=rgba,geq=r=\'r(X,Y)*alpha(X,Y)/255\':g=\'g(X,Y)*alpha(X,Y)/255\':b=\'b(X,Y)*alpha(X,Y)/255\',format=yuv420p',
    '-c:v', 'libvpx-vp9', '-b:v', '0', '-crf', '40', '-cpu-used', '8', opaque]);
  opaqueWebm = await readFile(opaque);

  const app = createApp({ logger: createLogger('error'), probes: [], routers: [viewerRoutes({ animations, blobs, publicUrl: 'https://stickers.example' })] });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await db?.close();
});

interface Opened {
  context: BrowserContext;
  page: Page;
  problems: string[];
  requested: string[];
}

async function open(opts: { reducedMotion?: boolean; javaScript?: boolean; webm?: 'abort' | 'opaque' } = {}): Promise<Opened> {
  const context =
    opts.reducedMotion || opts.javaScript === false
      ? await browser.newContext({
          ...devices['Pixel 7'],
          reducedMotion: opts.reducedMotion ? 'reduce' : 'no-preference',
          javaScriptEnabled: opts.javaScript ?? true,
        })
      : await phoneContext(browser);
  const page = await context.newPage();
  const problems = watchProblems(page);
  // CSP violations, reported by the page itself (an init script is not subject to the page's CSP).
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`)),
  );
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  if (opts.webm === 'abort') await page.route('**/buddy.webm', (r) => r.abort());
  if (opts.webm === 'opaque') await page.route('**/buddy.webm', (r) => r.fulfill({ status: 200, contentType: 'video/webm', body: opaqueWebm }));
  const res = await page.goto(`${base}/a/${buddy.viewerToken}`);
  expect(res?.status()).toBe(200);
  return { context, page, problems, requested };
}

const mode = (page: Page) => page.waitForFunction(() => document.documentElement.dataset.viewer).then((h) => h.jsonValue());

async function expectWebpShown(page: Page) {
  const img = page.locator('#buddy-image');
  await img.waitFor({ state: 'visible' });
  await page.waitForFunction(() => {
    const i = document.getElementById('buddy-image') as HTMLImageElement | null;
    return !!i && i.complete && i.naturalWidth > 0;
  });
  expect(await img.evaluate((i: HTMLImageElement) => i.currentSrc)).toMatch(/\/buddy\.webp$/);
  expect(await page.locator('video').count()).toBe(0);
  const box = (await img.boundingBox())!;
  expect(box.width).toBeGreaterThan(200);
}

describe('the QR viewer in Chromium on a phone', () => {
  it('plays the transparent WebM: frames decode, time advances, the corner is transparent so it stays on the video', async () => {
    const { context, page, problems, requested } = await open();
    try {
      expect(await mode(page)).toBe('video');
      const video = page.locator('video#buddy');
      await page.waitForFunction(() => (document.getElementById('buddy') as HTMLVideoElement).currentTime > 0.3);
      const state = await video.evaluate((v: HTMLVideoElement) => ({
        paused: v.paused,
        muted: v.muted,
        loop: v.loop,
        frames: v.getVideoPlaybackQuality().totalVideoFrames,
        src: v.currentSrc,
        size: [v.videoWidth, v.videoHeight],
      }));
      expect(state).toMatchObject({ paused: false, muted: true, loop: true, size: [256, 256] });
      expect(state.frames).toBeGreaterThan(0);
      expect(state.src).toMatch(/\/buddy\.webm$/);
      // Fills a phone screen nicely: centred, most of the width.
      const box = (await video.boundingBox())!;
      const viewport = page.viewportSize()!;
      expect(box.width).toBeGreaterThan(viewport.width * 0.8);
      expect(Math.abs(box.x + box.width / 2 - viewport.width / 2)).toBeLessThan(2);
      expect(box.y + box.height).toBeLessThan(viewport.height);
      expect(await page.locator('a.cta').getAttribute('href')).toBe('/');
      expect(requested.some((p) => p.endsWith('/buddy.webp'))).toBe(false); // the fallback is not downloaded
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('falls back to the animated WebP when the WebM cannot be loaded', async () => {
    const { context, page, problems } = await open({ webm: 'abort' });
    try {
      expect(await mode(page)).toBe('image');
      await expectWebpShown(page);
      // The aborted request itself is the only thing Chromium may log about it.
      expect(problems.filter((p) => !/Failed to load resource/.test(p))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('falls back to the WebP when the video plays without its alpha (as Safari shows VP9)', async () => {
    const { context, page, problems } = await open({ webm: 'opaque' });
    try {
      expect(await mode(page)).toBe('image');
      await expectWebpShown(page);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('with reduced motion: the video stays on its first frame', async () => {
    const { context, page, problems } = await open({ reducedMotion: true });
    try {
      expect(await mode(page)).toBe('video');
      await page.waitForTimeout(600);
      const state = await page.locator('video#buddy').evaluate((v: HTMLVideoElement) => ({ paused: v.paused, time: v.currentTime, ready: v.readyState }));
      expect(state).toMatchObject({ paused: true, time: 0 });
      expect(state.ready).toBeGreaterThanOrEqual(2);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('without JavaScript: the WebP picture shows, the video is hidden', async () => {
    const { context, page, problems } = await open({ javaScript: false });
    try {
      const img = page.locator('noscript img.buddy, img.buddy').first();
      await img.waitFor({ state: 'visible' });
      expect(await page.locator('video#buddy').isVisible()).toBe(false);
      await page.waitForLoadState('load');
      expect(await img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0 && i.currentSrc)).toMatch(/\/buddy\.webp$/);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
