/**
 * POST /api/animations and friends over real HTTP, with a real Temporal server (time-skipping,
 * no worker: workflows are started, not run — except for an animation's files, below), PGlite
 * and local blob storage. Bad input must get a clear error and leave nothing behind: no
 * workflow, no charge, no file.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnimationActivities } from '../../src/activities/animation.js';
import { AnimationRepository } from '../../src/animations/repository.js';
import { animationRoutes } from '../../src/api/animations.js';
import { createApp } from '../../src/api/app.js';
import { customerRoutes } from '../../src/api/customers.js';
import { Customers } from '../../src/customers/customers.js';
import { openPGlite, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { CreditLedger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_PHOTO_LIMITS } from '../../src/media/photo.js';
import type { ModelBackend } from '../../src/models/port.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { pageRoutes } from '../../src/web/pages.js';
import { viewerRoutes } from '../../src/web/viewer.js';
import { animationWorkflowId } from '../../src/workflows/animation/api.js';
import { FFMPEG, makeBuddyAssets } from '../support/buddy-assets.js';
import { paidWorkActivities } from '../support/ledger.js';
import { RecordingAlertChannel } from '../support/recording-alerts.js';
import { bundle, timeSkippingEnv } from '../support/temporal.js';
import { testLimiter } from '../support/limits.js';

const photos = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/photos');
let env: TestWorkflowEnvironment;
let db: Database;
let ledger: CreditLedger;
let blobRoot: string;
let server: Server;
let base: string;
const MAX_BYTES = 2 * 1024 * 1024;

beforeAll(async () => {
  [env, db] = await Promise.all([timeSkippingEnv(), openPGlite()]);
  await migrate(db);
  ledger = new CreditLedger(db);
  const customers = new Customers(db, ledger, 2);
  const newCustomers = testLimiter();
  blobRoot = await mkdtemp(path.join(os.tmpdir(), 'api-blobs-'));
  const app = createApp({
    logger: createLogger('error'),
    probes: [],
    keys: ['test-cookie-key-0123456789abcdef0123456789'],
    routers: [
      customerRoutes({ customers, ledger, newCustomers, starterCredits: 2 }),
      animationRoutes({
        newCustomers,
        temporal: env.client,
        taskQueue: 'api-test-no-worker',
        customers,
        ledger,
        animations: new AnimationRepository(db),
        blobs: new LocalBlobStore(blobRoot),
        publicUrl: 'http://stickers.test',
        maxUploadBytes: MAX_BYTES,
        photoLimits: { ...DEFAULT_PHOTO_LIMITS, maxPixels: 16_000_000 },
      }),
    ],
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await env?.teardown();
  await db?.close();
});

function upload(body: Buffer | undefined, opts: { key?: string; apiKey?: string; cookie?: string; field?: string; type?: string } = {}) {
  const form = new FormData();
  if (body) form.append(opts.field ?? 'photo', new Blob([new Uint8Array(body)], { type: opts.type ?? 'image/png' }), 'photo.png');
  const headers: Record<string, string> = {};
  if (opts.key) headers['idempotency-key'] = opts.key;
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  return fetch(`${base}/api/animations`, { method: 'POST', body: form, headers });
}

async function newApiKey(): Promise<{ apiKey: string; customerId: string }> {
  const res = await fetch(`${base}/api/customers/api-keys`, { method: 'POST' });
  expect(res.status).toBe(201);
  return (await res.json()) as { apiKey: string; customerId: string };
}

const astronaut = () => readFile(path.join(photos, 'astronaut.png'));
const blobFiles = async () => (await readdir(blobRoot, { recursive: true })).filter((f) => f.endsWith('.png'));
const workflowExists = (id: string) =>
  env.client.workflow.getHandle(animationWorkflowId(id)).describe().then(() => true, () => false);

describe('POST /api/animations', () => {
  it('accepts a photo: 202 with links, the photo stored upright, the workflow started', async () => {
    const { apiKey } = await newApiKey();
    const res = await upload(await astronaut(), { apiKey });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; status: string; links: Record<string, string> };
    expect(body.id).toMatch(/^an_[A-Za-z0-9_-]{22}$/);
    expect(body).toMatchObject({ status: 'running', links: { self: `/api/animations/${body.id}`, events: `/api/animations/${body.id}/events` } });
    expect(body.links.viewer).toMatch(/^\/a\/v_[A-Za-z0-9_-]{24}$/);
    expect(res.headers.get('location')).toBe(`/api/animations/${body.id}`);
    const stored = await sharp(path.join(blobRoot, 'animations', body.id, 'photo.png')).metadata();
    expect(stored).toMatchObject({ format: 'png', width: 512, height: 512 });
    expect(await workflowExists(body.id)).toBe(true);
  });

  it('applies the EXIF orientation before storing', async () => {
    const { apiKey } = await newApiKey();
    // 200×100 pixels stored, orientation 6 (rotate 90°): upright it is 100×200.
    const jpeg = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#c33' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const res = await upload(jpeg, { apiKey, type: 'image/jpeg' });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect(await sharp(path.join(blobRoot, 'animations', id, 'photo.png')).metadata()).toMatchObject({ width: 100, height: 200 });
  });

  it('the same Idempotency-Key returns the same animation and starts nothing new', async () => {
    const { apiKey, customerId } = await newApiKey();
    const first = (await (await upload(await astronaut(), { apiKey, key: 'order-123' })).json()) as { id: string };
    const again = await upload(await astronaut(), { apiKey, key: 'order-123' });
    expect(again.status).toBe(202);
    expect(((await again.json()) as { id: string }).id).toBe(first.id);
    const rows = await db.query('SELECT id FROM animations WHERE customer_id = $1', [customerId]);
    expect(rows).toHaveLength(1);
  });

  it('a new caller becomes an anonymous customer with a signed cookie, recognised next time', async () => {
    const res = await upload(await astronaut());
    expect(res.status).toBe(202);
    const cookies = res.headers.getSetCookie();
    expect(cookies.join(';')).toMatch(/sf_customer=cus_/);
    expect(cookies.join(';')).toMatch(/sf_customer\.sig=/);
    expect(cookies.join(';')).toContain('httponly');
    const cookie = cookies.map((c) => c.split(';')[0]).join('; ');
    const me = (await (await fetch(`${base}/api/me`, { headers: { cookie } })).json()) as { customerId: string; credits: number };
    expect(me.customerId).toMatch(/^cus_/);
    expect(me.credits).toBe(2); // the workflow charges; nothing is charged at upload
  });

  it('a forged cookie is not trusted: the caller is a new customer', async () => {
    const res = await fetch(`${base}/api/me`, { headers: { cookie: 'sf_customer=cus_someone_else; sf_customer.sig=forged' } });
    const me = (await res.json()) as { customerId: string };
    expect(me.customerId).not.toBe('cus_someone_else');
  });

  it('a wrong API key is refused with 401, not turned into a new customer', async () => {
    const res = await upload(await astronaut(), { apiKey: 'sf_key_not-a-real-key' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: 'invalid_api_key', message: 'the API key is not valid' } });
  });

  it('402 without credit, starting nothing', async () => {
    const { apiKey, customerId } = await newApiKey();
    for (const acct of [customerId]) await ledger.charge({ accountId: acct, amount: 2, idempotencyKey: `drain-${acct}`, reason: 'test' });
    const before = await blobFiles();
    const res = await upload(await astronaut(), { apiKey });
    expect(res.status).toBe(402);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('insufficient_credit');
    expect(await blobFiles()).toEqual(before);
  });

  describe('bad input gets a clear error and leaves nothing behind', () => {
    const cases: [string, () => Promise<Response>, number, string][] = [
      ['no file', () => upload(undefined), 400, 'missing_file'],
      ['the wrong field', async () => upload(await astronaut(), { field: 'picture' }), 400, 'missing_file'],
      ['not multipart', () => fetch(`${base}/api/animations`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }), 400, 'missing_file'],
      ['an empty file', () => upload(Buffer.alloc(0)), 400, 'empty_file'],
      ['a text file named .png', () => upload(Buffer.from('hello, not an image')), 415, 'unsupported_image'],
      ['a PDF', () => upload(Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n')), 415, 'unsupported_image'],
      ['a truncated PNG', async () => upload((await astronaut()).subarray(0, 4000)), 415, 'unreadable_image'],
      ['a file over the byte limit', () => upload(Buffer.alloc(MAX_BYTES + 1024, 7)), 413, 'too_large'],
      ['a tiny image', async () => upload(await sharp({ create: { width: 20, height: 20, channels: 3, background: '#fff' } }).png().toBuffer()), 400, 'too_small'],
      [
        'a decompression bomb (huge dimensions, tiny file)',
        async () => upload(await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer()),
        413,
        'too_many_pixels',
      ],
      ['a bad Idempotency-Key', async () => upload(await astronaut(), { key: 'x'.repeat(300) }), 400, 'bad_idempotency_key'],
    ];
    it.each(cases)('%s', async (_name, send, status, code) => {
      const before = await blobFiles();
      const rowsBefore = (await db.query('SELECT count(*)::int AS n FROM animations'))[0] as { n: number };
      const res = await send();
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.message.length).toBeGreaterThan(5);
      expect(await blobFiles()).toEqual(before);
      expect((await db.query('SELECT count(*)::int AS n FROM animations'))[0]).toEqual(rowsBefore);
      expect(await readdir(path.join(os.tmpdir(), 'stickerflow-uploads')).catch(() => [])).toEqual([]);
    });
  });
});

describe('GET /api/animations/:id', () => {
  it('404 for unknown or malformed ids', async () => {
    for (const id of ['an_AAAAAAAAAAAAAAAAAAAAAA', 'nope', '../etc']) {
      const res = await fetch(`${base}/api/animations/${id}`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
    expect((await fetch(`${base}/api/animations/an_AAAAAAAAAAAAAAAAAAAAAA/events`)).status).toBe(404);
  });
});

/**
 * The photo and every intermediate, over every router a browser reaches, with the real workflow
 * and the real pipeline activities on a worker (a scripted model back end drawing small but
 * valid images; ffmpeg for real): only the finished buddy is ever served, under its viewer
 * token; once made, nothing but it and its print art stays in storage; once failed, nothing.
 */
describe('an animation\'s files', () => {
  const PUBLIC = 'http://stickers.test';
  const taskQueue = `files-${randomUUID()}`;
  const discs = new Map<string, Promise<Buffer>>();
  /** An opaque disc on a transparent square, `at` along its way across. */
  const disc = (side: number, at = 0.5) => {
    const key = `${side}:${at}`;
    if (!discs.has(key)) {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><circle cx="${side * (0.3 + 0.4 * at)}" cy="${side / 2}" r="${side / 4}" fill="#e63"/></svg>`;
      discs.set(key, sharp(Buffer.from(svg)).png().toBuffer());
    }
    return discs.get(key)!;
  };
  const opaque = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#c96' } }).png().toBuffer();
  let segmentFails = false;
  const models: ModelBackend = {
    name: 'scripted',
    moderate: async () => ({ safe: true, scores: { Neutral: 0.99 } }),
    analyze: async () => ({ framing: 'bust', box: { left: 100, top: 60, width: 300, height: 400 }, subjects: 1 }),
    cartoonize: () => opaque(256, 256),
    expandToFullBody: () => opaque(200, 420),
    removeBackground: async () => (segmentFails ? sharp({ create: { width: 200, height: 420, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer() : disc(200)),
    submitAnimation: async (i) => ({ backend: 'scripted', jobId: i.idempotencyKey }),
    animationState: async () => ({ state: 'completed' }),
    cancelAnimation: async () => undefined,
    fetchAnimation: async (_job, onFrame) => {
      for (let i = 0; i < 120; i++) await onFrame(await disc(64, (i % 24) / 24), i);
      return { fps: 24, frames: 120 };
    },
  };

  let files: LocalBlobStore;
  let worker: Worker;
  let running: Promise<void>;
  let filesServer: Server;
  let at: string;

  beforeAll(async () => {
    const customers = new Customers(db, ledger, 2);
    const newCustomers = testLimiter();
    const animations = new AnimationRepository(db);
    files = new LocalBlobStore(blobRoot);
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await bundle(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/workflows/index.ts')),
      activities: { ...paidWorkActivities(ledger, [new RecordingAlertChannel()]), ...createAnimationActivities({ blobs: files, models, ffmpegPath: FFMPEG }) },
    });
    running = worker.run();
    const app = createApp({
      logger: createLogger('error'),
      probes: [],
      keys: ['test-cookie-key-0123456789abcdef0123456789'],
      routers: [
        customerRoutes({ customers, ledger, newCustomers, starterCredits: 2 }),
        animationRoutes({
          newCustomers,
          temporal: env.client,
          taskQueue,
          customers,
          ledger,
          animations,
          blobs: files,
          publicUrl: PUBLIC,
          maxUploadBytes: MAX_BYTES,
          photoLimits: { ...DEFAULT_PHOTO_LIMITS, maxPixels: 16_000_000 },
        }),
        viewerRoutes({ animations, blobs: files, publicUrl: PUBLIC, temporal: env.client }),
        pageRoutes({ animations, maxUploadBytes: MAX_BYTES }),
      ],
    });
    filesServer = app.listen(0, '127.0.0.1');
    await new Promise((r) => filesServer.once('listening', r));
    at = `http://127.0.0.1:${(filesServer.address() as AddressInfo).port}`;
  }, 120_000);
  afterAll(async () => {
    await new Promise((r) => filesServer?.close(r));
    worker?.shutdown();
    await running;
  });

  /** Uploads the astronaut as a new customer; resolves when its workflow has ended. */
  async function animate() {
    const form = new FormData();
    form.append('photo', new Blob([new Uint8Array(await astronaut())], { type: 'image/png' }), 'photo.png');
    const res = await fetch(`${at}/api/animations`, { method: 'POST', body: form });
    expect(res.status).toBe(202);
    const { id, links } = (await res.json()) as { id: string; links: { viewer: string } };
    const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const outcome = await env.client.workflow.getHandle(animationWorkflowId(id)).result().then(() => 'succeeded', () => 'failed');
    return { id, token: links.viewer.slice('/a/'.length), cookie, outcome };
  }
  const folder = async (id: string) => (await files.list(`animations/${id}`)).map((b) => b.key.slice(`animations/${id}/`.length)).sort();

  /** A raw request: the path goes out exactly as written (fetch would resolve `..`). */
  const raw = (method: string, p: string, headers: Record<string, string>) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
      const req = request(`${at}/`, { method, path: p, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });

  const PRIVATE = ['photo.png', 'cartoon.png', 'cartoon-full-body.png', 'cutout.png', 'frames/0000.png'];

  it('the photo and every intermediate: 404 for the owner and for a stranger, under every spelling of every route, never cacheable', async () => {
    // The worst case: a finished buddy whose folder still holds everything that went into it
    // (as buddies made before intermediates were deleted do).
    const { id, token, cookie, outcome } = await animate();
    expect(outcome).toBe('succeeded');
    await makeBuddyAssets(files, id);
    for (const name of ['photo.png', 'cartoon.png', 'cartoon-full-body.png', 'cutout.png']) {
      await files.put(`animations/${id}/${name}`, Readable.from([await disc(64)]));
    }
    for (const name of PRIVATE) expect(await files.stat(`animations/${id}/${name}`), name).toBeDefined();
    // The finished files are served, so the 404s below are about the names, not a broken route.
    expect((await raw('GET', `/a/${token}/buddy.webm`, {})).status).toBe(200);

    const stranger = (await (await fetch(`${at}/api/customers/api-keys`, { method: 'POST' })).json()) as { apiKey: string };
    const callers: [string, Record<string, string>][] = [
      ['the owner', { cookie }],
      ['a stranger', {}],
      ['another customer', { authorization: `Bearer ${stranger.apiKey}` }],
    ];
    const spellings = (name: string) => {
      const e = encodeURIComponent(name);
      return [
        `/files/animations/${id}/${name}`,
        `/FILES/ANIMATIONS/${id}/${name}`,
        `/Files/animations/${id}/${name}/`,
        `//files/animations/${id}/${name}`,
        `/files/animations/${id}/${e}`,
        `/files/animations/${id}/buddy.webm/../${name}`,
        `/files/animations/${id}/..%2F${id}%2F${e}`,
        `/a/${token}/${name}`,
        `/A/${token}/${name}`,
        `/a/${token}/${e}`,
        `/a/${token}/${name}/`,
        `/a/${token}/../../files/animations/${id}/${name}`,
        `/a/${token}/buddy.webm/../${name}`,
        `/a/${token}/..%2F..%2Ffiles%2Fanimations%2F${id}%2F${e}`,
        `/a/${token}/%2e%2e/%2e%2e/files/animations/${id}/${name}`,
        `/animations/${id}/${name}`,
        `/api/animations/${id}/${name}`,
        `/api/animations/${id}/files/${name}`,
      ];
    };
    for (const name of PRIVATE) {
      for (const p of spellings(name)) {
        for (const [who, headers] of callers) {
          for (const method of ['GET', 'HEAD']) {
            const res = await raw(method, p, headers);
            expect(res.status, `${method} ${p} as ${who}`).toBe(404);
            expect(String(res.headers['cache-control'] ?? ''), `${method} ${p}`).not.toMatch(/public|max-age|immutable/);
            expect(res.headers.etag, `${method} ${p}`).toBeUndefined();
          }
        }
      }
    }
  }, 120_000);

  it('the API links the finished files under the viewer token, each one served (the GIF too); then only they and the print art are stored', async () => {
    const { id, token, outcome } = await animate();
    expect(outcome).toBe('succeeded');
    const status = (await (await fetch(`${at}/api/animations/${id}`)).json()) as { status: string; assets: Record<string, string>; viewerUrl: string };
    expect(status.status).toBe('succeeded');
    expect(status.viewerUrl).toBe(`${PUBLIC}/a/${token}`);
    expect(status.assets).toEqual({
      webm: `${PUBLIC}/a/${token}/buddy.webm`,
      webp: `${PUBLIC}/a/${token}/buddy.webp`,
      gif: `${PUBLIC}/a/${token}/buddy.gif`,
      poster: `${PUBLIC}/a/${token}/poster.png`,
    });
    const types = { webm: 'video/webm', webp: 'image/webp', gif: 'image/gif', poster: 'image/png' } as Record<string, string>;
    for (const [asset, url] of Object.entries(status.assets)) {
      expect(url, asset).not.toContain(id);
      const res = await fetch(url.replace(PUBLIC, at));
      expect(res.status, asset).toBe(200);
      expect(res.headers.get('content-type'), asset).toBe(types[asset]);
      expect(res.headers.get('cache-control'), asset).toBe('public, max-age=31536000, immutable');
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(await readFile(path.join(blobRoot, 'animations', id, path.basename(url)))), asset).toBe(true);
    }
    const gif = await sharp(await readFile(path.join(blobRoot, 'animations', id, 'buddy.gif')), { animated: true }).metadata();
    expect(gif).toMatchObject({ format: 'gif', pages: 120 });

    // The upload, the cartoons and the 120 frames are gone; the art stays for sticker orders.
    expect(await folder(id)).toEqual(['buddy.gif', 'buddy.webm', 'buddy.webp', 'cutout.png', 'poster.png']);
    for (const name of ['photo.png', 'cartoon.png', 'cartoon-full-body.png', 'frames/0000.png']) {
      expect(await files.stat(`animations/${id}/${name}`), name).toBeUndefined();
    }
    const art = await sharp(await readFile(path.join(blobRoot, 'animations', id, 'cutout.png'))).metadata();
    expect(art).toMatchObject({ format: 'png', hasAlpha: true });
  }, 120_000);

  it('a failed animation (the cut-out is empty) leaves nothing in storage, and its viewer serves nothing', async () => {
    segmentFails = true;
    try {
      const { id, token, outcome } = await animate();
      expect(outcome).toBe('failed');
      const status = (await (await fetch(`${at}/api/animations/${id}`)).json()) as { status: string; error: { step: string }; assets: Record<string, unknown> };
      expect(status).toMatchObject({ status: 'failed', error: { step: 'segment' }, assets: {} });
      expect(await folder(id)).toEqual([]);
      for (const name of ['buddy.webm', 'poster.png', 'photo.png']) expect((await raw('GET', `/a/${token}/${name}`, {})).status).toBe(404);
    } finally {
      segmentFails = false;
    }
  }, 120_000);
});
