/**
 * Receives one file field of a multipart upload into a temporary file, streaming, with a byte
 * limit. The caller owns the file and must remove it (`cleanup`) whatever happens next.
 */
import busboy from 'busboy';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Context } from 'koa';
import { HttpError } from './errors.js';

export interface ReceivedFile {
  path: string;
  bytes: number;
  filename?: string;
  cleanup(): Promise<void>;
}

export async function receiveFile(ctx: Context, field: string, maxBytes: number): Promise<ReceivedFile> {
  if (!ctx.is('multipart/form-data')) {
    throw new HttpError(400, 'missing_file', `send the photo as multipart/form-data in the field "${field}"`);
  }
  const dir = path.join(os.tmpdir(), 'stickerflow-uploads');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, randomBytes(12).toString('hex'));
  const cleanup = () => rm(file, { force: true });

  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: ctx.req.headers, limits: { files: 1, fileSize: maxBytes, fields: 20, parts: 30 } });
  } catch {
    throw new HttpError(400, 'bad_multipart', 'the multipart body could not be read (missing boundary?)');
  }
  try {
    const received = await new Promise<Omit<ReceivedFile, 'cleanup' | 'path'> | undefined>((resolve, reject) => {
      let found: Promise<Omit<ReceivedFile, 'cleanup' | 'path'>> | undefined;
      parser.on('file', (name, stream, info) => {
        if (name !== field || found) {
          stream.resume(); // drain parts we do not want
          return;
        }
        let bytes = 0;
        let tooLarge = false;
        stream.on('data', (c: Buffer) => (bytes += c.length));
        stream.on('limit', () => (tooLarge = true));
        found = pipeline(stream, createWriteStream(file)).then(() => {
          if (tooLarge) throw new HttpError(413, 'too_large', `the photo is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`);
          return { bytes, filename: info.filename };
        });
        found.catch(() => undefined); // observed below; avoid an unhandled rejection meanwhile
      });
      parser.on('error', () => reject(new HttpError(400, 'bad_multipart', 'the multipart body is malformed')));
      parser.on('close', () => (found ? found.then(resolve, reject) : resolve(undefined)));
      ctx.req.on('error', reject);
      ctx.req.pipe(parser);
    });
    if (!received) throw new HttpError(400, 'missing_file', `no file in the field "${field}"`);
    if (received.bytes === 0) throw new HttpError(400, 'empty_file', 'the uploaded file is empty');
    return { ...received, path: file, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
