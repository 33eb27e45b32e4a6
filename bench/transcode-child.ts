/** Run by bench/run.ts in its own process, so its peak memory can be measured alone. */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { frameKey } from '../src/media/frames.js';
import { transcodeFrames, type AnimationFormat } from '../src/media/transcode.js';
import { LocalBlobStore } from '../src/storage/local.js';

const [seconds, side] = [Number(process.argv[2] ?? 5), Number(process.argv[3] ?? 512)];
const blobs = new LocalBlobStore(await mkdtemp(path.join(os.tmpdir(), 'bench-transcode-')));
const fps = 24;
const count = seconds * fps;
const disc = await sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${side / 2}" height="${side / 2}"><circle cx="${side / 4}" cy="${side / 4}" r="${side / 5}" fill="#e63"/></svg>`)).png().toBuffer();
for (let i = 0; i < count; i++) {
  const frame = await sharp({ create: { width: side, height: side, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .composite([{ input: disc, left: Math.round((i / count) * side * 0.5), top: side / 4 }])
    .png({ compressionLevel: 1 })
    .toBuffer();
  await blobs.put(frameKey('f', i), Readable.from([frame]));
}
process.send?.({ ready: true }); // measuring starts now: frame generation is not part of it
const started = Date.now();
for (const format of ['webm', 'webp', 'gif'] as AnimationFormat[]) {
  await transcodeFrames({ blobs, frames: { prefix: 'f', count, fps, width: side, height: side }, format, outKey: `out.${format}`, ffmpegPath: 'ffmpeg' });
}
process.send?.({ done: true, ms: Date.now() - started });
