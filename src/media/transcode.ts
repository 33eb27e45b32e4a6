/**
 * Transcoding an animation's transparent frames with ffmpeg, streamed: frames are fed to
 * ffmpeg's stdin one at a time, ffmpeg writes a temporary file (a seekable output lets it write
 * the WebM duration and cues), and that file is streamed into the blob store — memory stays flat
 * whatever the length. Formats: WebM (VP9 with alpha), animated WebP, GIF (two passes: a
 * palette, then the frames mapped onto it, so no pass holds every frame).
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BlobInfo, BlobStore } from '../storage/port.js';
import { frameKey, type FrameSet } from './frames.js';

export type AnimationFormat = 'webm' | 'webp' | 'gif';

export const CONTENT_TYPES: Record<AnimationFormat, string> = { webm: 'video/webm', webp: 'image/webp', gif: 'image/gif' };

export class TranscodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranscodeError';
  }
}

interface Options {
  blobs: BlobStore;
  frames: FrameSet;
  ffmpegPath: string;
  /** Called after each frame is handed to ffmpeg (activities heartbeat here). */
  onFrame?: (index: number) => void;
}

/** One PNG-decoding thread: frames arrive one at a time anyway, and each extra thread holds frames. */
const input = (fps: number) => ['-f', 'image2pipe', '-framerate', String(fps), '-c:v', 'png', '-threads', '1', '-i', 'pipe:0'];

/** Runs ffmpeg with the frames on its stdin; it writes its output to the file named in `args`. */
async function runFfmpeg(opts: Options, args: string[]): Promise<void> {
  const child = spawn(opts.ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  let gone = false;
  void exited.finally(() => (gone = true)).catch(() => undefined);
  const feed = (async () => {
    // Each frame's bytes go from the blob store's stream straight to ffmpeg, chunk by chunk: no
    // frame is ever assembled in memory.
    for (let i = 0; i < opts.frames.count; i++) {
      for await (const chunk of await opts.blobs.get(frameKey(opts.frames.prefix, i))) {
        if (gone) return; // ffmpeg quit early: its exit code and words tell why
        // A broken pipe means ffmpeg quit: its exit code and words will say why, not EPIPE.
        if (!child.stdin.write(chunk)) await Promise.race([once(child.stdin, 'drain').catch(() => undefined), exited]);
      }
      opts.onFrame?.(i);
    }
    child.stdin.end();
  })();
  // ffmpeg exiting early (bad args) closes stdin: report its words, not EPIPE.
  child.stdin.on('error', () => undefined);
  try {
    const [, code] = await Promise.all([feed, exited]);
    if (code !== 0) throw new TranscodeError(`ffmpeg exited with ${code}: ${stderr.trim()}`);
  } catch (err) {
    child.kill('SIGKILL');
    const code = await exited.catch(() => null);
    if (err instanceof TranscodeError) throw err;
    throw new TranscodeError(`ffmpeg failed (${code ?? 'killed'}): ${stderr.trim() || (err as Error).message}`);
  }
}

export async function transcodeFrames(opts: Options & { format: AnimationFormat; outKey: string }): Promise<BlobInfo> {
  const { fps } = opts.frames;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-transcode-'));
  const out = path.join(dir, `out.${opts.format}`);
  try {
    switch (opts.format) {
      case 'webm':
        // Alpha survives only as yuva420p with alt-ref frames off; -b:v 0 + crf = constant quality.
        // No look-ahead and no column tiles: the encoder's memory is the largest part of a
        // transcode (measured at 512×512: 181 MB with defaults, 121 MB so, no larger a file).
        await runFfmpeg(opts, [...input(fps), '-c:v', 'libvpx-vp9', '-pix_fmt', 'yuva420p', '-b:v', '0', '-crf', '35',
          '-auto-alt-ref', '0', '-lag-in-frames', '0', '-tile-columns', '0', '-deadline', 'good', '-cpu-used', '4',
          '-threads', '2', out]);
        break;
      case 'webp':
        await runFfmpeg(opts, [...input(fps), '-c:v', 'libwebp_anim', '-pix_fmt', 'yuva420p', '-quality', '75',
          '-loop', '0', out]);
        break;
      case 'gif': {
        const palette = path.join(dir, 'palette.png');
        await runFfmpeg(opts, [...input(fps), '-vf', 'palettegen=reserve_transparent=1:stats_mode=full', '-update', '1', palette]);
        await runFfmpeg(opts, [...input(fps), '-i', palette, '-filter_complex', '[0:v][1:v]paletteuse=alpha_threshold=128',
          '-loop', '0', out]);
        break;
      }
    }
    return await opts.blobs.put(opts.outKey, createReadStream(out), { contentType: CONTENT_TYPES[opts.format] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
