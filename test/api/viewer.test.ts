/**
 * The QR viewer `/a/:token` over real HTTP: the real app (with its default security headers),
 * PGlite, local blob storage, a real Temporal server (time-skipping, no worker: one animation's
 * workflow stays running, another's is terminated) and real assets made by the transcode code.
 * The page is small, carries its Open Graph tags with absolute URLs, its CSP hashes match its
 * inline code, nothing on it names the animation; the files are served under the token with
 * immutable caching, ETags and byte ranges.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
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
import { animationWorkflowId, ANIMATION_WORKFLOW_TYPE } from '../../src/workflows/animation/api.js';
import { makeBuddyAssets } from '../support/buddy-assets.js';
import { timeSkippingEnv } from '../support/temporal.js';

const PUBLIC_URL = 'https://stickers.example';
let env: TestWorkflowEnvironment;
let db: Database;
let blobRoot: string;
let server: Server;
let base: string;
let customerId: string;
let ready: AnimationRecord;
let running: AnimationRecord;
let partial: AnimationRecord;
let failed: AnimationRecord;

beforeAll(async () => {
  [env, db] = await Promise.all([timeSkippingEnv(), openPGlite()]);
  await migrate(db);
  const ledger = new CreditLedger(db);
  const animations = new AnimationRepository(db);
  customerId = await new Customers(db, ledger, 1).create();
  const made = await Promise.all([1, 2, 3, 4].map(async () => (await animations.create(customerId)).record));
  [ready, running, partial, failed] = made as [AnimationRecord, AnimationRecord, AnimationRecord, AnimationRecord];
  blobRoot = await mkdtemp(path.join(os.tmpdir(), 'viewer-blobs-'));
  const blobs = new LocalBlobStore(blobRoot);
  await makeBuddyAssets(blobs, ready.id);
  // Half-way through the transcode step: the WebM is there, the WebP and poster not yet.
  await blobs.put(`animations/${partial.id}/buddy.webm`, Readable.from([await readFile(path.join(blobRoot, 'animations', ready.id, 'buddy.webm'))]));
  for (const r of [running, partial, failed]) {
    await env.client.workflow.start(ANIMATION_WORKFLOW_TYPE, {
      workflowId: animationWorkflowId(r.id),
      taskQueue: 'viewer-test-no-worker',
      args: [{ animationId: r.id, customerId, photoKey: `animations/${r.id}/photo.png`, fullBody: true }],
    });
  }
  await env.client.workflow.getHandle(animationWorkflowId(failed.id)).terminate('test: the animation failed');

  const app = createApp({
    logger: createLogger('error'),
    probes: [],
    routers: [viewerRoutes({ animations, blobs, publicUrl: PUBLIC_URL, temporal: env.client })],
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 180_000);
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await env?.teardown();
  await db?.close();
});

async function get(p: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${p}`, { headers });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}
const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
const blob = (r: AnimationRecord, name: string) => readFile(path.join(blobRoot, 'animations', r.id, name));
const blobs = () => new LocalBlobStore(blobRoot);

/** Nothing private anywhere in a response: no animation id, customer id or order. */
function expectNothingPrivate(res: Response, text: string) {
  const all = `${text}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}`;
  expect(all).not.toMatch(/\ban_[A-Za-z0-9_-]/);
  expect(all).not.toContain(customerId);
  expect(all).not.toMatch(/\bcus_|\bor_[A-Za-z0-9]/);
  for (const r of [ready, running, partial, failed]) expect(all).not.toContain(r.id);
}

function expectHtml(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
}

describe('GET /a/:token', () => {
  it('unknown and malformed tokens: the same generic 404 page', async () => {
    const pages = await Promise.all(['v_AAAAAAAAAAAAAAAAAAAAAAAA', 'nope', 'v_short', `${ready.viewerToken}x`, ready.id].map((t) => get(`/a/${t}`)));
    for (const { res, body } of pages) {
      expectHtml(res, 404);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(body.toString()).toBe(pages[0]!.body.toString());
      expect(body.toString()).toContain('<meta name="robots" content="noindex">');
    }
  });

  it('an animation still being made: 200, "on its way", refreshing itself, nothing private', async () => {
    for (const r of [running, partial]) {
      const { res, body } = await get(`/a/${r.viewerToken}`);
      const html = body.toString();
      expectHtml(res, 200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(html).toContain('on its way');
      expect(html).toContain('<meta http-equiv="refresh" content="10">');
      expect(html).not.toContain('<video');
      expect(html).not.toContain('og:video');
      expectNothingPrivate(res, html);
    }
  });

  it('a failed animation: 410, no player', async () => {
    const { res, body } = await get(`/a/${failed.viewerToken}`);
    expectHtml(res, 410);
    expect(body.toString()).not.toContain('<video');
    expectNothingPrivate(res, body.toString());
  });

  it('a finished animation: the player page, small, with Open Graph tags and a CSP that allows exactly its inline code', async () => {
    const { res, body } = await get(`/a/${ready.viewerToken}`);
    const html = body.toString();
    expectHtml(res, 200);
    expect(body.length).toBeLessThanOrEqual(20 * 1024);
    expectNothingPrivate(res, html);
    expect(html).toContain('<meta name="robots" content="noindex">');

    const meta = (prop: string) => [...html.matchAll(new RegExp(`<meta (?:property|name)="${prop.replace(/[:.]/g, '\\$&')}" content="([^"]*)">`, 'g'))].map((m) => m[1]);
    const page = `${PUBLIC_URL}/a/${ready.viewerToken}`;
    expect(meta('og:type')).toEqual(['video.other']);
    expect(meta('og:url')).toEqual([page]);
    expect(meta('og:title')[0]).toBeTruthy();
    expect(meta('og:description')[0]).toBeTruthy();
    expect(meta('og:image')).toEqual([`${page}/poster.png`]);
    expect(meta('og:image:type')).toEqual(['image/png']);
    expect(meta('og:image:width')).toEqual(['256']); // read from the poster itself
    expect(meta('og:image:height')).toEqual(['256']);
    expect(meta('og:video')).toEqual([`${page}/buddy.webm`]);
    expect(meta('og:video:type')).toEqual(['video/webm']);
    expect(meta('og:video:width')).toEqual(['256']);
    expect(meta('twitter:card')).toEqual(['summary_large_image']);
    // Every URL the page names is absolute under PUBLIC_URL or a path under the token.
    const urls = [...html.matchAll(/="((?:[a-z]+:\/\/|\/)[^"]*)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThanOrEqual(10);
    for (const url of urls) {
      if (url === '/') continue; // "Make your own"
      if (url.startsWith('/')) expect(url.startsWith(`/a/${ready.viewerToken}/`), url).toBe(true);
      else expect(url.startsWith(`${PUBLIC_URL}/a/${ready.viewerToken}`), url).toBe(true);
    }

    // The player: a muted looping inline video of the WebM, the WebP for browsers without script.
    expect(html).toMatch(/<video id="buddy"[^>]* autoplay loop muted playsinline [^>]*data-webp="\/a\/v_[^"]+\/buddy\.webp"/);
    expect(html).toContain(`<source src="/a/${ready.viewerToken}/buddy.webm" type="video/webm; codecs=vp9">`);
    expect(html).toMatch(/<noscript><picture>.*<img class="buddy" src="\/a\/v_[^"]+\/buddy\.webp"/);
    expect(html).toContain('<a class="cta" href="/">Make your own</a>');

    // The CSP (replacing the site-wide default) allows each inline block by its hash, and nothing else.
    const csp = res.headers.get('content-security-policy')!;
    const directives = Object.fromEntries(csp.split(/;\s*/).map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => sha256(m[1]!));
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => sha256(m[1]!));
    expect(styles).toHaveLength(2);
    expect(scripts).toHaveLength(1);
    expect(new Set(directives['style-src'])).toEqual(new Set(styles));
    expect(directives['script-src']).toEqual(scripts);
    expect(directives).toMatchObject({
      'default-src': ["'none'"],
      'img-src': ["'self'", 'data:'], // data: for the tab icon only
      'media-src': ["'self'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
    });
    expect(csp).not.toContain('unsafe');
    expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/);
  });
});

describe('GET /a/:token/<file>', () => {
  const files = [
    ['buddy.webm', 'video/webm'],
    ['buddy.webp', 'image/webp'],
    ['buddy.gif', 'image/gif'],
    ['poster.png', 'image/png'],
  ] as const;

  it.each(files)('%s: its bytes, type, immutable caching, an ETag that revalidates', async (name, type) => {
    const url = `/a/${ready.viewerToken}/${name}`;
    const { res, body } = await get(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(body.equals(await blob(ready, name))).toBe(true);
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
    expectNothingPrivate(res, '');
    // (fetch adds "Cache-Control: no-cache" to conditional requests unless told otherwise.)
    const again = await get(url, { 'if-none-match': etag, 'cache-control': 'max-age=0' });
    expect(again.res.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('the real animation files: a transparent VP9 WebM, an animated WebP and an animated GIF', async () => {
    const webm = await blob(ready, 'buddy.webm');
    expect(webm.subarray(0, 4).toString('hex')).toBe('1a45dfa3'); // EBML
    expect(webm.includes(Buffer.from('V_VP9'))).toBe(true);
    const webp = await blob(ready, 'buddy.webp');
    expect(webp.toString('latin1', 0, 4)).toBe('RIFF');
    expect(webp.toString('latin1', 8, 12)).toBe('WEBP');
    expect(webp.includes(Buffer.from('ANMF'))).toBe(true);
    const gif = await blob(ready, 'buddy.gif');
    expect(gif.toString('latin1', 0, 6)).toBe('GIF89a');
    expect(gif.includes(Buffer.from('NETSCAPE2.0'))).toBe(true); // loops
  });

  it('byte ranges of the video: 206 with the right bytes and Content-Range', async () => {
    const whole = await blob(ready, 'buddy.webm');
    const size = whole.length;
    const url = `/a/${ready.viewerToken}/buddy.webm`;
    const cases: [string, number, number][] = [
      ['bytes=0-1', 0, 1],
      ['bytes=100-1099', 100, 1099],
      [`bytes=${size - 10}-`, size - 10, size - 1],
      ['bytes=-500', size - 500, size - 1],
      [`bytes=10-${size + 5000}`, 10, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const { res, body } = await get(url, { range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(Number(res.headers.get('content-length'))).toBe(end - start + 1);
      expect(res.headers.get('content-type')).toBe('video/webm');
      expect(body.equals(whole.subarray(start, end + 1)), range).toBe(true);
    }
    // An If-Range that no longer matches: the whole file.
    const stale = await get(url, { range: 'bytes=0-1', 'if-range': '"old"' });
    expect(stale.res.status).toBe(200);
    expect(stale.body.length).toBe(size);
  });

  it('a storage failure is a 500 that no cache may keep (no immutable caching, no ETag, no range)', async () => {
    const store = new LocalBlobStore(blobRoot);
    const failing = Object.assign(Object.create(store) as LocalBlobStore, {
      get: async (key: string, opts?: Parameters<LocalBlobStore['get']>[1]) => {
        if (key.endsWith('.webm')) throw new Error('storage unavailable (503)');
        return store.get(key, opts);
      },
    });
    const app = createApp({
      logger: createLogger('error', () => undefined),
      probes: [],
      routers: [viewerRoutes({ animations: new AnimationRepository(db), blobs: failing, publicUrl: PUBLIC_URL })],
    });
    const other = app.listen(0, '127.0.0.1');
    await new Promise((r) => other.once('listening', r));
    try {
      const at = `http://127.0.0.1:${(other.address() as AddressInfo).port}/a/${ready.viewerToken}`;
      expect((await fetch(at)).status).toBe(200); // the page: files known, sizes read with stat
      for (const headers of [{}, { range: 'bytes=0-9' }] as Record<string, string>[]) {
        const res = await fetch(`${at}/buddy.webm`, { headers });
        expect(res.status).toBe(500);
        expect(res.headers.get('cache-control') ?? '').not.toMatch(/immutable|max-age/);
        expect(res.headers.get('etag')).toBeNull();
        expect(res.headers.get('content-range')).toBeNull();
      }
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it('an unsatisfiable range: 416 with the size', async () => {
    const size = (await blob(ready, 'buddy.webm')).length;
    for (const range of [`bytes=${size}-`, `bytes=${size + 100}-${size + 200}`, 'bytes=-0']) {
      const { res, body } = await get(`/a/${ready.viewerToken}/buddy.webm`, { range });
      expect(res.status, range).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${size}`);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('etag')).toBeNull();
      expect(body.length).toBe(0);
    }
  });

  it('no files for unknown tokens, unfinished animations or other names', async () => {
    for (const url of [
      '/a/v_AAAAAAAAAAAAAAAAAAAAAAAA/buddy.webm',
      '/a/nope/buddy.webm',
      `/a/${partial.viewerToken}/buddy.webm`, // its WebM exists, but the animation is not finished
      `/a/${running.viewerToken}/poster.png`,
      `/a/${ready.viewerToken}/photo.png`,
      `/a/${ready.viewerToken}/frames`,
    ]) {
      const { res } = await get(url);
      expect(res.status, url).toBe(404);
    }
  });

  it('nothing but the finished files, even where the rest is still stored: never the photo, a cartoon, the art or a frame', async () => {
    // `ready` keeps its frames (makeBuddyAssets writes them); give it the rest of a pipeline's folder too.
    for (const name of ['photo.png', 'cartoon.png', 'cartoon-full-body.png', 'cutout.png']) {
      await blobs().put(`animations/${ready.id}/${name}`, Readable.from([await blob(ready, 'poster.png')]));
    }
    const t = ready.viewerToken;
    for (const name of ['photo.png', 'cartoon.png', 'cartoon-full-body.png', 'cutout.png', 'frames/0000.png', 'frames']) {
      for (const url of [`/a/${t}/${name}`, `/a/${t}/${encodeURIComponent(name)}`, `/A/${t}/${name}`, `/a/${t}/${name}/`, `/a/${t}/..%2F${encodeURIComponent(name)}`]) {
        const { res } = await get(url);
        expect(res.status, url).toBe(404);
        expect(res.headers.get('cache-control') ?? '', url).not.toMatch(/public|max-age|immutable/);
        expect(res.headers.get('etag'), url).toBeNull();
      }
    }
  });
});
