/**
 * Comparing a buddy's silhouettes: a frame's alpha mask, cropped to its bounding box and scaled
 * to a small square, so two frames that differ only by position and scale compare equal and
 * what is left is a change of shape (an arm lifted, a body bent).
 */
import sharp from 'sharp';

/** The alpha mask (alpha ≥ 128) of straight RGBA pixels, cropped to its box and scaled to n×n, as 0/1. */
export async function normalizedMask(rgba: Uint8Array, width: number, height: number, n = 64): Promise<Uint8Array> {
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  const alpha = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (rgba[(y * width + x) * 4 + 3]! < 128) continue;
      alpha[y * width + x] = 255;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  if (x1 < 0) return new Uint8Array(n * n);
  const small = await sharp(alpha, { raw: { width, height, channels: 1 } })
    .extract({ left: x0, top: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 })
    .resize(n, n, { fit: 'fill', kernel: 'nearest' })
    .raw()
    .toBuffer();
  return Uint8Array.from(small, (v) => (v >= 128 ? 1 : 0));
}

/** Intersection over union of two 0/1 masks: 1 for the same shape. */
export function iou(a: Uint8Array, b: Uint8Array): number {
  let both = 0;
  let either = 0;
  for (let i = 0; i < a.length; i++) {
    both += a[i]! & b[i]!;
    either += a[i]! | b[i]!;
  }
  return either ? both / either : 1;
}

/**
 * How alike two frames' silhouettes are once position, scale and a turn of up to ±8° are taken
 * out: the best IoU over rotations of the second. A picture that only bounces, squashes and
 * sways as a whole stays near 1; one whose parts move relative to each other does not.
 */
export async function alignedIou(a: { rgba: Uint8Array; width: number; height: number }, b: { rgba: Uint8Array; width: number; height: number }): Promise<number> {
  const ma = await normalizedMask(a.rgba, a.width, a.height);
  let best = 0;
  for (let angle = -8; angle <= 8; angle += 2) {
    const { data, info } = await sharp(Buffer.from(b.rgba), { raw: { width: b.width, height: b.height, channels: 4 } })
      .rotate(angle, { background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .raw()
      .toBuffer({ resolveWithObject: true });
    best = Math.max(best, iou(ma, await normalizedMask(new Uint8Array(data), info.width, info.height)));
  }
  return best;
}
