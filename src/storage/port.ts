/**
 * The blob store: where photos, frames, videos and print files live. Large data moves between
 * activities as keys into this store, never as workflow payloads. Every method streams; none
 * holds a whole file in memory.
 */
import type { Readable } from 'node:stream';

export interface BlobInfo {
  key: string;
  bytes: number;
  contentType?: string;
}

/** Bytes `start` to `end` of a blob, both included (as in HTTP's Range header). */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobStore {
  readonly kind: string;
  /**
   * Streams `body` to `key`, replacing what was there. Resolves once the whole blob is stored; a
   * reader never sees a partial blob. Idempotent: writing the same bytes again is harmless.
   */
  put(key: string, body: Readable, opts?: { contentType?: string }): Promise<BlobInfo>;
  /**
   * A stream of the blob, or of bytes `range.start` to `range.end` of it (inclusive; the caller
   * keeps the range inside the blob, as told by `stat`). Rejects with BlobNotFoundError when absent.
   */
  get(key: string, opts?: { range?: ByteRange }): Promise<Readable>;
  /**
   * Writes the blob to a local file, for tools that read files (ffmpeg): a file-system copy on
   * local storage, a streamed download on S3. Rejects with BlobNotFoundError when absent.
   */
  copyToFile(key: string, file: string): Promise<void>;
  /** Size and type, or undefined when absent. */
  stat(key: string): Promise<BlobInfo | undefined>;
  /**
   * Every blob under the folder `folder` (its keys start with `folder/`, at any depth), in no
   * particular order; an empty list when there are none. A blob still being written is not listed.
   */
  list(folder: string): Promise<BlobInfo[]>;
  /** Removes the blob; removing an absent key is not an error. */
  delete(key: string): Promise<void>;
}

export class BlobNotFoundError extends Error {
  constructor(public readonly key: string) {
    super(`no blob at ${key}`);
    this.name = 'BlobNotFoundError';
  }
}

export class InvalidBlobKeyError extends Error {
  constructor(key: string) {
    super(`invalid blob key ${JSON.stringify(key)}: use letters, digits, '-', '_', '.' and '/' segments`);
    this.name = 'InvalidBlobKeyError';
  }
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Keys are relative paths of safe segments: no traversal, no absolute paths, no empty parts. */
export function assertBlobKey(key: string): void {
  const parts = key.split('/');
  if (key.length > 512 || !parts.every((p) => SEGMENT.test(p) && p !== '.' && p !== '..')) {
    throw new InvalidBlobKeyError(key);
  }
}

const TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  webm: 'video/webm',
  pdf: 'application/pdf',
  json: 'application/json',
};

export function contentTypeFor(key: string): string | undefined {
  return TYPES[key.split('.').pop()?.toLowerCase() ?? ''];
}
