/**
 * Decoding a transparent video (VP9 with alpha in WebM, as background-removal services return
 * it) into RGBA PNG frames at a fixed rate, each fitted onto a transparent square canvas — the
 * same frames the local back end draws. ffmpeg writes the frames into a temporary folder; they
 * are handed on one at a time, in order, and the folder is removed.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runFfmpeg } from './ffmpeg.js';

export interface DecodeOptions {
  ffmpegPath: string;
  fps: number;
  /** Canvas side in pixels. */
  side: number;
}

export async function decodeTransparentVideo(
  /** The video, as a file on disk: it arrives streamed there, never whole in memory. */
  source: string,
  opts: DecodeOptions,
  onFrame: (png: Buffer, index: number) => Promise<void>,
): Promise<{ fps: number; frames: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-decode-'));
  try {
    const { side, fps } = opts;
    const filter = [
      `fps=${fps}`,
      `scale=${side}:${side}:force_original_aspect_ratio=decrease`,
      'format=rgba',
      `pad=${side}:${side}:(ow-iw)/2:(oh-ih)/2:color=0x00000000`,
    ].join(',');
    // libvpx-vp9 as the decoder: ffmpeg's native VP9 decoder drops the alpha channel.
    await runFfmpeg(opts.ffmpegPath, ['-c:v', 'libvpx-vp9', '-i', source, '-vf', filter, '-an', path.join(dir, 'frame-%05d.png')]);
    const names = (await readdir(dir)).filter((n) => n.startsWith('frame-')).sort();
    for (const [i, name] of names.entries()) await onFrame(await readFile(path.join(dir, name)), i);
    return { fps, frames: names.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
