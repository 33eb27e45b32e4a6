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
        await ffmpeg([...frames, '-c:v', 'libvpx-vp9', '-pix_fmt', 'yuva420p', '-b:v', '0', '-crf', '35',
          '-auto-alt-ref', '0', '-lag-in-frames', '0', '-tile-columns', '0', '-deadline', 'good', '-cpu-used', '4',
          '-threads', '2', out]);
        break;
      case 'webp':
        await ffmpeg([...frames, '-c:v', 'libwebp_anim', '-pix_fmt', 'yuva420p', '-quality', '75',
          '-loop', '0', out]);
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
