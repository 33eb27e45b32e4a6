/**
 * The local back end's cartoon step: the subject cut out of the photo and drawn as a cartoon
 * (the toon look is `toon.ts`), ready to rig. It crops the photo to the subject, removes the
 * background on the photo itself (a matte of the real photo is far cleaner than one of a
 * cartoon), keeps only the subject's region of that matte, finds the person's keypoints and face
 * on the crop, draws the cartoon, and trims it tight. The figure rides inside the PNG, so the
 * animation step rigs exactly these pixels; the image is already transparent around the
 * character, so the segment step has nothing left to remove.
 */
import sharp from 'sharp';
import type { Box, SubjectAnalysis } from '../port.js';
import { removeBackground } from './background.js';
import { detectFigure } from './detect.js';
import { attachFigure, transformFigure, type Figure } from './figure.js';
import { regionsOf } from './regions.js';
import { toonify } from './toon.js';

/** Longer side of the cartoon before trimming: detail enough for a 3-inch sticker at 300 dpi's art pass. */
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

/**
 * The matte with everything but the subject removed: the largest opaque region, and any other
 * region at least a fifth of its size (an arm the matte separated at the wrist), so a stray lamp
 * or a second passer-by left by background removal does not become part of the character.
 */
export function keepSubject(alpha: Uint8Array, width: number, height: number): Uint8Array {
  const { label, sizes } = regionsOf(alpha, width, height);
  const largest = Math.max(...sizes);
  const kept = (i: number) => label[i]! > 0 && sizes[label[i]!]! >= largest / 5;
  const out = new Uint8Array(alpha.length);
  for (let i = 0; i < alpha.length; i++) {
    if (alpha[i] === 0) continue;
    if (label[i]! > 0) {
      if (kept(i)) out[i] = alpha[i]!;
      continue;
    }
    // Soft edge pixels (alpha < 128) belong to the region beside them, found within 2 pixels.
    const x = i % width;
    const y = (i - x) / width;
    near: for (let dy = -2; dy <= 2; dy++) {
      for (let dx = -2; dx <= 2; dx++) {
        const xx = x + dx;
        const yy = y + dy;
        if (xx >= 0 && yy >= 0 && xx < width && yy < height && kept(yy * width + xx)) {
          out[i] = alpha[i]!;
          break near;
        }
      }
    }
  }
  return out;
}

/** Bounding box of the pixels with any opacity. */
function opaqueBox(rgba: Buffer, width: number, height: number): Box | undefined {
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (rgba[(y * width + x) * 4 + 3]! === 0) continue;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  return maxX < 0 ? undefined : { left: minX, top: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

export async function cartoonize(photo: Buffer, subject: SubjectAnalysis): Promise<Buffer> {
  const { width = 0, height = 0 } = await sharp(photo).metadata();
  const crop = grow(subject.box, 0.12, width, height);
  const scale = Math.min(1.5, CARTOON_SIDE / Math.max(crop.width, crop.height));
  const w = Math.max(1, Math.round(crop.width * scale));
  const h = Math.max(1, Math.round(crop.height * scale));
  const cropped = await sharp(photo).extract(crop).resize(w, h, { fit: 'fill' }).removeAlpha().png({ compressionLevel: 1 }).toBuffer();

  const [matted, found] = await Promise.all([
    removeBackground(cropped).then((png) => sharp(png).ensureAlpha().resize(w, h, { fit: 'fill' }).raw().toBuffer()),
    subject.kind === 'thing' ? Promise.resolve(undefined) : detectFigure(cropped, subject.framing),
  ]);
  const alpha = new Uint8Array(w * h);
  for (let i = 0; i < alpha.length; i++) alpha[i] = matted[i * 4 + 3]!;
  const subjectAlpha = keepSubject(alpha, w, h);
  for (let i = 0; i < subjectAlpha.length; i++) matted[i * 4 + 3] = subjectAlpha[i]!;

  // Room around the silhouette for the outline the toon look draws.
  const pad = Math.round(Math.max(w, h) * 0.05);
  const padded = await sharp(matted, { raw: { width: w, height: h, channels: 4 } })
    .extend({ top: pad, bottom: pad, left: pad, right: pad, background: { r: 0, g: 0, b: 0, alpha: 0 } })
    .raw()
    .toBuffer();
  const pw = w + 2 * pad;
  const ph = h + 2 * pad;
  const figure: Figure = found
    ? transformFigure(found, 1, pad, pad, pw, ph)
    : { kind: subject.kind ?? 'thing', framing: subject.framing, width: pw, height: ph, keypoints: [] };
  const toon = await toonify({ rgba: padded, width: pw, height: ph }, figure.face);

  const box = opaqueBox(toon.rgba, toon.width, toon.height);
  if (!box) return sharp(toon.rgba, { raw: { width: toon.width, height: toon.height, channels: 4 } }).png().toBuffer();
  const png = await sharp(toon.rgba, { raw: { width: toon.width, height: toon.height, channels: 4 } }).extract(box).png().toBuffer();
  return attachFigure(png, transformFigure(figure, 1, -box.left, -box.top, box.width, box.height));
}
