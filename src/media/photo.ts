/**
 * What an uploaded photo must be before any work starts: an image we can read (sniffed from its
 * bytes, never from its name or declared type), of sane dimensions (decompression bombs are
 * refused from the header, before decoding), then turned upright by its EXIF orientation and
 * reduced to a working size, as PNG.
 */
import sharp, { type Metadata } from 'sharp';

export const SUPPORTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'heif', 'avif', 'tiff'] as const;

export interface PhotoLimits {
  /** Largest number of pixels we agree to decode (width × height). */
  maxPixels: number;
  /** Smallest side we can make a buddy from. */
  minSide: number;
  /** Long side of the stored working copy. */
  workingSide: number;
}

export const DEFAULT_PHOTO_LIMITS: PhotoLimits = { maxPixels: 40_000_000, minSide: 64, workingSide: 2048 };

export class PhotoRejected extends Error {
  constructor(
    public readonly status: 400 | 413 | 415,
    public readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PhotoRejected';
  }
}

export interface PhotoInfo {
  format: string;
  width: number;
  height: number;
  /** EXIF orientation (1–8) applied when normalising. */
  orientation: number;
}

/** Reads only the header: format and dimensions, or a PhotoRejected saying what is wrong. */
export async function inspectPhoto(file: string, limits: PhotoLimits = DEFAULT_PHOTO_LIMITS): Promise<PhotoInfo> {
  let meta: Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch {
    throw new PhotoRejected(415, 'unsupported_image', `not an image we can read (supported: ${SUPPORTED_FORMATS.join(', ')})`);
  }
  const format = meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : meta.format;
  if (!format || !(SUPPORTED_FORMATS as readonly string[]).includes(format)) {
    throw new PhotoRejected(415, 'unsupported_image', `${format ?? 'this'} images are not supported (use ${SUPPORTED_FORMATS.join(', ')})`);
  }
  const { width = 0, height = 0 } = meta;
  if (width * height > limits.maxPixels) {
    throw new PhotoRejected(413, 'too_many_pixels', `the image is ${width}×${height}; at most ${limits.maxPixels / 1e6} megapixels`);
  }
  if (Math.min(width, height) < limits.minSide) {
    throw new PhotoRejected(400, 'too_small', `the image is ${width}×${height}; each side needs at least ${limits.minSide} pixels`);
  }
  return { format, width, height, orientation: meta.orientation ?? 1 };
}

/**
 * Writes the working copy as a PNG file: upright (EXIF applied, then dropped), at most
 * `workingSide` on its long side, first frame only for animated inputs. Decoding the whole image
 * here is what finds a corrupt or truncated body, before anything durable is made.
 */
export async function normalizePhoto(file: string, out: string, limits: PhotoLimits = DEFAULT_PHOTO_LIMITS): Promise<void> {
  try {
    await sharp(file, { limitInputPixels: limits.maxPixels, failOn: 'truncated', pages: 1 })
      .rotate()
      .resize({ width: limits.workingSide, height: limits.workingSide, fit: 'inside', withoutEnlargement: true })
      .png({ compressionLevel: 6 })
      .toFile(out);
  } catch (err) {
    throw new PhotoRejected(415, 'unreadable_image', `the image could not be decoded (${(err as Error).message.split('\n')[0]})`);
  }
}
