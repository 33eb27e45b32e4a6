/**
 * The local back end's cartoon look, made from image operations (there is no small local
 * generative model): crop to the subject, flatten colours (median filter + a small palette),
 * boost saturation, and draw dark outlines from the image's edges.
 */
import sharp from 'sharp';
import type { Box } from '../port.js';

export const CARTOON_SIDE = 768;

/** The subject's box grown by `margin` on each side, clamped to the image. */
export function grow(box: Box, margin: number, width: number, height: number): Box {
  const dx = box.width * margin;
  const dy = box.height * margin;
  const left = Math.max(0, Math.floor(box.left - dx));
  const top = Math.max(0, Math.floor(box.top - dy));
  return {
    left,
    top,
    width: Math.min(width - left, Math.ceil(box.width + 2 * dx)),
    height: Math.min(height - top, Math.ceil(box.height + 2 * dy)),
  };
}

export async function cartoonize(image: Buffer, subject: Box): Promise<Buffer> {
  const { width = 0, height = 0 } = await sharp(image).metadata();
  const crop = grow(subject, 0.2, width, height);
  const base = await sharp(image)
    .extract(crop)
    .resize({ width: CARTOON_SIDE, height: CARTOON_SIDE, fit: 'inside' })
    .removeAlpha()
    .median(5)
    .modulate({ saturation: 1.35, brightness: 1.04 })
    .png({ palette: true, colours: 24, dither: 0 })
    .toBuffer();
  const { width: w = 0, height: h = 0 } = await sharp(base).metadata();
  // Outlines: edge strength of a smoothed grey image, thresholded into dark lines on white.
  // (sharp runs its operations in a fixed order, so each ordered step is its own pipeline.)
  const edge = await sharp(base)
    .greyscale()
    .blur(1.2)
    .convolve({ width: 3, height: 3, kernel: [-1, -1, -1, -1, 8, -1, -1, -1, -1] })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const lines = Buffer.alloc(edge.data.length);
  for (let i = 0; i < lines.length; i++) lines[i] = edge.data[i]! > 24 ? 40 : 255;
  const edges = await sharp(lines, { raw: { width: edge.info.width, height: edge.info.height, channels: edge.info.channels } })
    .blur(0.6)
    .toColourspace('srgb')
    .png()
    .toBuffer();
  return sharp(base)
    .ensureAlpha()
    .composite([{ input: edges, blend: 'multiply' }])
    .resize(w, h)
    .png()
    .toBuffer();
}
