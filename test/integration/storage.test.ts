/** The blob-store port's contract, on local files and on a real S3-compatible server (versitygw). */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalBlobStore } from '../../src/storage/local.js';
import { BlobNotFoundError, InvalidBlobKeyError, type BlobStore } from '../../src/storage/port.js';
import { S3BlobStore } from '../../src/storage/s3.js';

/** A stream of `total` pseudo-random bytes produced chunk by chunk, never held whole. */
function generated(total: number, chunk = 256 * 1024): { stream: Readable; sha256: Promise<string> } {
  const hash = createHash('sha256');
  let sent = 0;
  let resolveHash!: (h: string) => void;
  const sha256 = new Promise<string>((r) => (resolveHash = r));
  const stream = new Readable({
    read() {
      if (sent >= total) {
        resolveHash(hash.digest('hex'));
        this.push(null);
        return;
      }
      const part = randomBytes(Math.min(chunk, total - sent));
      sent += part.length;
      hash.update(part);
      this.push(part);
    },
  });
  return { stream, sha256 };
}

const sha = async (s: Readable) => createHash('sha256').update(await buffer(s)).digest('hex');

const stores: [string, () => Promise<BlobStore>][] = [
  ['local files', async () => new LocalBlobStore(await mkdtemp(path.join(os.tmpdir(), 'blobs-')))],
  [
    'S3 (versitygw)',
    async () => {
      const s3 = inject('s3');
      const bucket = `test-${randomUUID()}`;
      const store = new S3BlobStore({
        bucket,
        region: 'us-east-1',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      });
      await store.client.send(new CreateBucketCommand({ Bucket: bucket }));
      return store;
    },
  ],
];

describe.each(stores)('BlobStore on %s', (_name, make) => {
  let store: BlobStore;
  beforeAll(async () => {
    store = await make();
  });

  it('reads exactly the byte range asked for, both ends included (the viewer serves video ranges)', async () => {
    const data = randomBytes(70_000);
    await store.put('animations/x/buddy.webm', Readable.from([data]));
    for (const [start, end] of [[0, 0], [0, 1], [1000, 65_535], [69_999, 69_999], [0, 69_999]] as const) {
      const got = await buffer(await store.get('animations/x/buddy.webm', { range: { start, end } }));
      expect(got.equals(data.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
    }
    expect((await buffer(await store.get('animations/x/buddy.webm'))).equals(data)).toBe(true);
  });

  it('round-trips a small blob with its size and type', async () => {
    const info = await store.put('photos/a/original.png', Readable.from([Buffer.from('hello'), Buffer.from(' world')]));
    expect(info).toMatchObject({ key: 'photos/a/original.png', bytes: 11, contentType: 'image/png' });
    expect((await buffer(await store.get('photos/a/original.png'))).toString()).toBe('hello world');
    expect(await store.stat('photos/a/original.png')).toMatchObject({ bytes: 11, contentType: 'image/png' });
  });

  it('streams a 12 MiB blob of unknown length in and out intact (multipart on S3)', async () => {
    const { stream, sha256 } = generated(12 * 1024 * 1024);
    const info = await store.put('videos/big.webm', stream);
    expect(info.bytes).toBe(12 * 1024 * 1024);
    expect(await sha(await store.get('videos/big.webm'))).toBe(await sha256);
  });

  it('copies a blob to a local file, and says clearly when it is absent', async () => {
    const { stream, sha256 } = generated(3 * 1024 * 1024);
    await store.put('frames/f/0001.png', stream);
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'copy-')), 'frame.png');
    await store.copyToFile('frames/f/0001.png', file);
    expect(await sha(createReadStream(file))).toBe(await sha256);
    await expect(store.copyToFile('frames/f/missing.png', `${file}.2`)).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.copyToFile('../escape', `${file}.3`)).rejects.toBeInstanceOf(InvalidBlobKeyError);
  });

  it('replaces a blob whole', async () => {
    await store.put('x/replace.json', Readable.from([Buffer.from('{"v":1}')]));
    await store.put('x/replace.json', Readable.from([Buffer.from('{"v":2}')]));
    expect((await buffer(await store.get('x/replace.json'))).toString()).toBe('{"v":2}');
  });

  it('reports absent blobs clearly and deletes idempotently', async () => {
    await expect(store.get('nope/missing.png')).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(await store.stat('nope/missing.png')).toBeUndefined();
    await store.put('del/me.txt', Readable.from([Buffer.from('x')]));
    await store.delete('del/me.txt');
    await store.delete('del/me.txt');
    expect(await store.stat('del/me.txt')).toBeUndefined();
  });

  it('lists a folder: every blob under it, at any depth, and nothing of a sibling whose name it begins', async () => {
    const keys = ['animations/an_7/photo.png', 'animations/an_7/frames/0000.png', 'animations/an_7/frames/0001.png'];
    for (const key of [...keys, 'animations/an_70/photo.png', 'animations/an_7.png']) await store.put(key, Readable.from([Buffer.from(key)]));
    const listed = await store.list('animations/an_7');
    expect(listed.map((b) => b.key).sort()).toEqual([...keys].sort());
    expect(listed.find((b) => b.key === keys[0])).toMatchObject({ bytes: keys[0]!.length, contentType: 'image/png' });
    expect(await store.list('animations/an_missing')).toEqual([]);
    await expect(store.list('../etc')).rejects.toBeInstanceOf(InvalidBlobKeyError);
  });

  it('refuses keys that could escape or confuse the store', async () => {
    for (const key of ['../etc/passwd', '/abs', 'a//b', 'a/./b', '', 'a/../b', 'sp ace']) {
      await expect(store.put(key, Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(InvalidBlobKeyError);
    }
  });
});

describe('LocalBlobStore', () => {
  it('leaves no partial file behind when the source stream fails', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'blobs-'));
    const store = new LocalBlobStore(root);
    const failing = new Readable({
      read() {
        this.destroy(new Error('upload interrupted'));
      },
    });
    await expect(store.put('in/broken.png', failing)).rejects.toThrow('upload interrupted');
    expect(await readdir(path.join(root, 'in'))).toEqual([]);
    expect(await store.stat('in/broken.png')).toBeUndefined();
  });
});
