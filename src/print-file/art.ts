/**
 * The customer's art, made ready to place: a PNG with alpha is checked (readable, a PNG, not
 * fully transparent), cropped to its visible part, resized with Lanczos to exactly the pixels
 * that the print size needs at 300 dpi (so the PDF never resamples), and returned twice: as an
 * alpha mask for tracing the cut, and flattened onto white as a JPEG for the PDF (white is the
 * bare vinyl). A JPEG goes into the PDF as it is (DCTDecode): an RGBA PNG would be decoded and
 * split into an image and a soft mask, and even an RGB PNG is copied byte by byte by pdfkit's PNG
 * reader (14 ms of a 3-inch sticker's 62 ms render; the JPEG render takes 40 ms).
 */
import sharp from 'sharp';
import { ArtRejected } from './errors.js';
import { type AlphaMask, OPAQUE_ALPHA } from './contour.js';
import { ART_DPI, type Box, placeArt, PT_PER_IN } from './layout.js';

/** Fainter pixels than this do not count when cropping the art to what is visible. */
const VISIBLE_ALPHA = 16;
/** Below this the art is a smudge, not a character. */
const MIN_VISIBLE_PX = 32;
/** Print quality: quality 95 without chroma subsampling keeps colour edges sharp at 300 dpi. */
const JPEG_OPTIONS = { quality: 95, chromaSubsampling: '4:4:4' } as const;

export interface PlacedArt {
  /** Flattened onto white, an RGB JPEG of exactly `placedPx` pixels. */
  image: Buffer;
  /** Alpha of the placed art, positioned in page pixels at ART_DPI. */
  mask: AlphaMask;
  /** Where the image goes on the page (points). */
  box: Box;
  sourcePx: { width: number; height: number };
  placedPx: { width: number; height: number };
}

async function decodeRgba(art: Buffer) {
  let format: string | undefined;
  try {
    format = (await sharp(art).metadata()).format;
  } catch {
    throw new ArtRejected('the art is not a readable image: expected a PNG with a transparent background');
  }
  if (format !== 'png') throw new ArtRejected(`the art must be a PNG with a transparent background, not ${format ?? 'an unknown format'}`);
  return sharp(art).toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
}

/** Bounding box of the visible pixels; throws when nothing in the art is opaque enough to print. */
function visibleBounds(rgba: Buffer, width: number, height: number) {
  let left = width;
  let top = height;
  let right = -1;
  let bottom = -1;
  let opaque = false;
  for (let y = 0; y < height; y++) {
    const row = y * width * 4;
    for (let x = 0; x < width; x++) {
      const a = rgba[row + x * 4 + 3]!;
      if (a < VISIBLE_ALPHA) continue;
      if (a >= OPAQUE_ALPHA) opaque = true;
      if (x < left) left = x;
      if (x > right) right = x;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
    }
  }
  if (!opaque) throw new ArtRejected('the art is fully transparent: there is no character to print');
  const box = { left, top, width: right - left + 1, height: bottom - top + 1 };
  if (box.width < MIN_VISIBLE_PX && box.height < MIN_VISIBLE_PX) {
    throw new ArtRejected(`the visible art is only ${box.width}×${box.height} pixels: too small to print`);
  }
  return box;
}

export async function prepareArt(art: Buffer, characterBox: Box): Promise<PlacedArt> {
  const { data, info } = await decodeRgba(art);
  const visible = visibleBounds(data, info.width, info.height);
  const { widthPx, heightPx, box } = placeArt(characterBox, visible);
  const raw = { width: info.width, height: info.height, channels: 4 as const };
  const placed = await sharp(data, { raw })
    .extract(visible)
    .resize(widthPx, heightPx, { kernel: 'lanczos3', fit: 'fill' })
    .raw()
    .toBuffer();
  const alpha = new Uint8Array(widthPx * heightPx);
  for (let i = 0; i < alpha.length; i++) alpha[i] = placed[i * 4 + 3]!;
  const image = await sharp(placed, { raw: { width: widthPx, height: heightPx, channels: 4 } })
    .flatten({ background: '#ffffff' })
    .jpeg(JPEG_OPTIONS)
    .toBuffer();
  const pxPerPt = ART_DPI / PT_PER_IN;
  return {
    image,
    mask: { data: alpha, width: widthPx, height: heightPx, left: box.x * pxPerPt, top: box.y * pxPerPt },
    box,
    sourcePx: { width: info.width, height: info.height },
    placedPx: { width: widthPx, height: heightPx },
  };
}
