/**
 * Blob store on S3 or any S3-compatible server. Uploads stream as multipart (bounded memory:
 * partSize × queueSize), so a body of unknown length never sits whole in memory.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertBlobKey, BlobNotFoundError, contentTypeFor, type BlobInfo, type BlobStore, type ByteRange } from './port.js';

export interface S3BlobStoreOptions {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Multipart part size in bytes (S3's minimum is 5 MiB). */
  partSize?: number;
}

const isNotFound = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
};

export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly partSize: number;

  constructor(opts: S3BlobStoreOptions) {
    const config: S3ClientConfig = {
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      credentials: opts.credentials,
    };
    this.client = new S3Client(config);
    this.bucket = opts.bucket;
    this.partSize = opts.partSize ?? 5 * 1024 * 1024;
  }

  async put(key: string, body: Readable, opts: { contentType?: string } = {}): Promise<BlobInfo> {
    assertBlobKey(key);
    const contentType = opts.contentType ?? contentTypeFor(key);
    let bytes = 0;
    body.on('data', (chunk: Buffer) => (bytes += chunk.length));
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType },
      partSize: this.partSize,
      queueSize: 2,
      leavePartsOnError: false,
    });
    await upload.done();
    return { key, bytes, contentType };
  }

  async get(key: string, opts: { range?: ByteRange } = {}): Promise<Readable> {
    assertBlobKey(key);
    const range = opts.range && `bytes=${opts.range.start}-${opts.range.end}`;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range }));
      return res.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async copyToFile(key: string, file: string): Promise<void> {
    await pipeline(await this.get(key), createWriteStream(file));
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    assertBlobKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, bytes: res.ContentLength ?? 0, contentType: res.ContentType };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(folder: string): Promise<BlobInfo[]> {
    assertBlobKey(folder);
    const found: BlobInfo[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${folder}/`, ContinuationToken: token }));
      for (const o of res.Contents ?? []) if (o.Key) found.push({ key: o.Key, bytes: o.Size ?? 0, contentType: contentTypeFor(o.Key) });
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}
