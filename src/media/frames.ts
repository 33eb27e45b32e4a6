/** An animation's frames in the blob store: RGBA PNGs under one prefix, numbered from 0. */

export interface FrameSet {
  /** Blob key prefix; frame i is at `${prefix}/${i padded to 4}.png`. */
  prefix: string;
  count: number;
  fps: number;
  width: number;
  height: number;
}

export const frameKey = (prefix: string, index: number) => `${prefix}/${String(index).padStart(4, '0')}.png`;
