/** Blob store on the local file system (the embedded default), under one root folder. */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertBlobKey, BlobNotFoundError, contentTypeFor, type BlobInfo, type BlobStore, type ByteRange } from './port.js';

export class LocalBlobStore implements BlobStore {
  readonly kind = 'local';
  constructor(private readonly root: string) {}

  private file(key: string): string {
    assertBlobKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  async put(key: string, body: Readable, opts: { contentType?: string } = {}): Promise<BlobInfo> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    // Write beside the target, then rename: readers see the old blob or the whole new one.
    const partial = `${file}.partial-${randomBytes(6).toString('hex')}`;
    try {
      await pipeline(body, createWriteStream(partial, { flags: 'wx' }));
      await rename(partial, file);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    const { size } = await stat(file);
    return { key, bytes: size, contentType: opts.contentType ?? contentTypeFor(key) };
  }

  async get(key: string, opts: { range?: ByteRange } = {}): Promise<Readable> {
    const file = this.file(key);
    const stream = createReadStream(file, opts.range && { start: opts.range.start, end: opts.range.end });
    // Surface "absent" as a rejection rather than a stream error after the caller has moved on.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'ENOENT' || err.code === 'EISDIR' ? new BlobNotFoundError(key) : err),
      );
    });
    return stream;
  }

  async copyToFile(key: string, file: string): Promise<void> {
    try {
      await copyFile(this.file(key), file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') {
        if (!(await this.stat(key))) throw new BlobNotFoundError(key);
      }
      throw err;
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const s = await stat(this.file(key));
      return s.isFile() ? { key, bytes: s.size, contentType: contentTypeFor(key) } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async list(folder: string): Promise<BlobInfo[]> {
    const found: BlobInfo[] = [];
    const walk = async (prefix: string) => {
      const entries = await readdir(this.file(prefix), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
        throw err;
      });
      for (const entry of entries) {
        const key = `${prefix}/${entry.name}`;
        if (entry.isDirectory()) await walk(key);
        else if (entry.isFile() && !PARTIAL.test(entry.name)) found.push({ key, bytes: (await stat(this.file(key))).size, contentType: contentTypeFor(key) });
      }
    };
    await walk(folder);
    return found;
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }
}

/** A `put` in progress (see there): not a blob yet. */
const PARTIAL = /\.partial-[0-9a-f]{12}$/;
