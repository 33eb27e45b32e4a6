/** An animation's frames in the blob store: RGBA PNGs under one prefix, numbered from 0. */
import { buffer } from 'node:stream/consumers';
import type { BlobStore } from '../storage/port.js';

export interface FrameSet {
  /** Blob key prefix; frame i is at `${prefix}/${i padded to 4}.png`. */
  prefix: string;
  count: number;
  fps: number;
  width: number;
  height: number;
}

export const frameKey = (prefix: string, index: number) => `${prefix}/${String(index).padStart(4, '0')}.png`;

/** Frames one at a time, in order: at most one frame is held in memory. */
export async function* readFrames(blobs: BlobStore, set: FrameSet): AsyncGenerator<Buffer> {
  for (let i = 0; i < set.count; i++) yield await buffer(await blobs.get(frameKey(set.prefix, i)));
}
