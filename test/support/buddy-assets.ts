/**
 * A real transparent animation for the viewer's tests: synthetic RGBA frames (a bouncing,
 * squashing ball on a transparent canvas, nothing in the corners) stored as an animation's
 * frames, then encoded by the real transcode code (ffmpeg) into the animation's WebM, WebP and
 * GIF, and a poster PNG from the first frame — at the keys the transcode activity uses.
 */
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { animationKey, FINISHED_FILES } from '../../src/animations/repository.js';
import { frameKey, type FrameSet } from '../../src/media/frames.js';
import { transcodeFrames } from '../../src/media/transcode.js';
import type { BlobStore } from '../../src/storage/port.js';

export const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';

async function frame(side: number, t: number): Promise<Buffer> {
  const hop = Math.abs(Math.sin(Math.PI * t * 2));
  const r = side * 0.22;
  const rx = r * (1 + 0.12 * (1 - hop));
  const ry = r * (1 - 0.12 * (1 - hop));
  const cx = side / 2 + side * 0.12 * Math.sin(Math.PI * t);
  const cy = side * 0.88 - ry - hop * side * 0.25;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">
<ellipse cx="${cx}" cy="${cy}" rx="${rx}" ry="${ry}" fill="#ff7a3d" stroke="#5a2d1a" stroke-width="${side / 60}"/>
<circle cx="${cx - rx * 0.35}" cy="${cy - ry * 0.2}" r="${side / 40}" fill="#222"/><circle cx="${cx + rx * 0.35}" cy="${cy - ry * 0.2}" r="${side / 40}" fill="#222"/>
</svg>`;
  return sharp(Buffer.from(svg)).ensureAlpha().png().toBuffer();
}

/** Frames, WebM, WebP, GIF and poster of a synthetic buddy under `animationId`; returns the frame set. */
export async function makeBuddyAssets(blobs: BlobStore, animationId: string, opts: { side?: number; seconds?: number; fps?: number } = {}) {
  const side = opts.side ?? 256;
  const fps = opts.fps ?? 24;
  const count = Math.round((opts.seconds ?? 2) * fps);
  const prefix = animationKey(animationId, 'frames');
  for (let i = 0; i < count; i++) {
    await blobs.put(frameKey(prefix, i), Readable.from([await frame(side, i / fps)]), { contentType: 'image/png' });
  }
  const frames: FrameSet = { prefix, count, fps, width: side, height: side };
  for (const format of ['webm', 'webp', 'gif'] as const) {
    await transcodeFrames({ blobs, frames, format, outKey: animationKey(animationId, FINISHED_FILES[format]), ffmpegPath: FFMPEG });
  }
  const poster = await sharp(await frame(side, 0)).png({ compressionLevel: 9 }).toBuffer();
  await blobs.put(animationKey(animationId, FINISHED_FILES.poster), Readable.from([poster]), { contentType: 'image/png' });
  return frames;
}
