/**
 * POST /api/animations and friends over real HTTP, with a real Temporal server (time-skipping,
 * no worker: workflows are started, not run), PGlite and local blob storage. Bad input must get
 * a clear error and leave nothing behind: no workflow, no charge, no file.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { LocalBlobStore } from '../../src/storage/local.js';
import { animationWorkflowId } from '../../src/workflows/animation/api.js';
import { timeSkippingEnv } from '../support/temporal.js';

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
  blobRoot = await mkdtemp(path.join(os.tmpdir(), 'api-blobs-'));
  const app = createApp({
    logger: createLogger('error'),
    probes: [],
    keys: ['test-cookie-key-0123456789abcdef0123456789'],
    routers: [
      customerRoutes({ customers, ledger }),
      animationRoutes({
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
