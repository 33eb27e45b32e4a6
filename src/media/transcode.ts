/**
 * Transcoding an animation's transparent frames with ffmpeg. The frames are first copied into a
 * temporary folder (a file-system copy on local storage, a streamed download on S3), so ffmpeg
 * reads them itself — the GIF's two passes from the same copy — and this process holds no frame
 * data while it encodes. ffmpeg writes a temporary file (a seekable output lets it write the
 * WebM duration and cues), which is streamed into the blob store: memory stays flat whatever the
 * length. Formats: WebM (VP9 with alpha), animated WebP, GIF (two passes: a palette, then the
 * frames mapped onto it, so no pass holds every frame).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BlobInfo, BlobStore } from '../storage/port.js';
import { runFfmpeg } from './ffmpeg.js';
import { frameKey, type FrameSet } from './frames.js';

export type AnimationFormat = 'webm' | 'webp' | 'gif';

export const CONTENT_TYPES: Record<AnimationFormat, string> = { webm: 'video/webm', webp: 'image/webp', gif: 'image/gif' };

interface Options {
  blobs: BlobStore;
  frames: FrameSet;
  ffmpegPath: string;
  /** Called as frames are copied, then as ffmpeg encodes them (activities heartbeat here). */
  onFrame?: (index: number) => void;
}

/**
 * Sizes for the QR viewer, which downloads the WebM (Chrome, Firefox, Android) or the WebP (the
 * fallback) on a phone: each must stay under 600 KB. Measured on the real pipeline's frames
 * (local back end: 120 frames, 512×512, 24 fps) of test/fixtures/photos astronaut (full body),
 * astronaut (bust, fullBody=0) and camera, ffmpeg 5.1, 2 cores; times are whole encodes:
 *   WebM crf 35, cpu-used 4 (before)                 464 / 461 / 781 KB   2.3–3.0 s
 *   WebM crf 40, cpu-used 4                          362 / 352 / 620 KB   2.1–3.1 s
 *   WebM crf 38, cpu-used 2                          324 / 326 / 529 KB   4.6–7.1 s
 *   WebM crf 40, cpu-used 2 (now)                    294 / 295 / 486 KB   3.7–4.3 s (ffmpeg max RSS 126 MB, as before)
 *   WebP q75, 24 fps, 512 px (before)               1914 / 3046 / 3152 KB  1.9–4.1 s
 *   WebP q60, 12 fps, 384 px                         566 / 894 / 904 KB   0.6–1.3 s
 *   WebP q50, 12 fps, 320 px, compression_level 6    — / 674 / 740 KB    33–37 s
 *   WebP q60, 12 fps, 384 px, alpha cleanup           — / 524 / 577 KB   0.8 s
 *   WebP q60, 12 fps, 352 px, alpha cleanup        349 / 470 / 512 KB   0.5–1.4 s
 *   WebP q55, 12 fps, ≤352 px, alpha cleanup (now) 340 / 454 / 502 KB   0.7–0.8 s (max RSS 64 MB)
 */
const WEBP_FPS = 12;
const WEBP_SIDE = 352;
/** Fit inside side×side, keeping the aspect ratio; never upscale. */
const FIT = (side: number) =>
  `scale=w='min(${side},iw)':h='min(${side},ih)':force_original_aspect_ratio=decrease:flags=lanczos`;
/** Alpha ≥ 224 → 255, ≤ 24 → 0, the anti-aliased edge in between kept. */
const ALPHA_CLEANUP = "lut=a='if(gte(val,224),255,if(lte(val,24),0,val))'";

/** The staged frames as ffmpeg's input, decoded on one thread (each extra thread holds frames). */
const input = (dir: string, fps: number) => ['-framerate', String(fps), '-threads', '1', '-i', path.join(dir, 'frame-%04d.png')];

/** Copies the frames, a few at a time (on S3 each one is a request). */
async function stageFrames(opts: Options, dir: string): Promise<void> {
  const { count, prefix } = opts.frames;
  let next = 0;
  const copier = async () => {
    for (let i = next++; i < count; i = next++) {
      await opts.blobs.copyToFile(frameKey(prefix, i), path.join(dir, `frame-${String(i).padStart(4, '0')}.png`));
      opts.onFrame?.(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, count) }, copier));
}

export async function transcodeFrames(opts: Options & { format: AnimationFormat; outKey: string }): Promise<BlobInfo> {
  const { fps } = opts.frames;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-transcode-'));
  const out = path.join(dir, `out.${opts.format}`);
  const ffmpeg = (args: string[]) => runFfmpeg(opts.ffmpegPath, args, opts.onFrame);
  try {
    await stageFrames(opts, dir);
    const frames = input(dir, fps);
    switch (opts.format) {
      case 'webm':
        // Alpha survives only as yuva420p with alt-ref frames off; -b:v 0 + crf = constant quality.
        // No look-ahead and no column tiles: the encoder's memory is the largest part of a
        // transcode (measured at 512×512: 181 MB with defaults, 121 MB so, no larger a file).
        // crf 40 at -cpu-used 2 keeps every measured animation under the viewer's 600 KB (the
        // table above): crf 35 at -cpu-used 4 made 781 KB of one.
        await ffmpeg([...frames, '-c:v', 'libvpx-vp9', '-pix_fmt', 'yuva420p', '-b:v', '0', '-crf', '40',
          '-auto-alt-ref', '0', '-lag-in-frames', '0', '-tile-columns', '0', '-deadline', 'good', '-cpu-used', '2',
          '-threads', '2', out]);
        break;
      case 'webp':
        // The fallback for browsers that lose the WebM's alpha (Safari): what a phone downloads
        // instead, so it must stay as light (the table above). 12 fps (every other frame of 24), at most
        // 352 px (never upscaled), quality 55, and the alpha cleaned first: libwebp_anim keeps alpha
        // lossless, and a segmented cut-out's inside is noisy (mostly 240–254, rarely 255), which
        // cost about 40% of the file; near-opaque becomes opaque and near-clear clear.
        await ffmpeg([...frames, '-vf', `fps=${WEBP_FPS},${FIT(WEBP_SIDE)},${ALPHA_CLEANUP}`,
          '-c:v', 'libwebp_anim', '-pix_fmt', 'yuva420p', '-quality', '55', '-loop', '0', out]);
        break;
      case 'gif': {
        const palette = path.join(dir, 'palette.png');
        await ffmpeg([...frames, '-vf', 'palettegen=reserve_transparent=1:stats_mode=full', '-update', '1', palette]);
        await ffmpeg([...frames, '-i', palette, '-filter_complex', '[0:v][1:v]paletteuse=alpha_threshold=128',
          '-loop', '0', out]);
        break;
      }
    }
    return await opts.blobs.put(opts.outKey, createReadStream(out), { contentType: CONTENT_TYPES[opts.format] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
