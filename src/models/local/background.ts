/** Background removal with @imgly/background-removal-node (ONNX models inside the package). */
import { removeBackground as imglyRemove, type Config } from '@imgly/background-removal-node';
import sharp from 'sharp';
import { packageDir } from './tfjs.js';

let config: Config | undefined;

/**
 * The image with its background made transparent. An image that is a cut-out already (the local
 * cartoon step makes one, with its figure inside) is passed on unchanged.
 */
export async function removeBackground(image: Buffer): Promise<Buffer> {
  if (await isCutOut(image)) return image;
  config ??= {
    // The models ship in the package's dist folder; nothing is fetched from the network.
    publicPath: `file://${packageDir('@imgly/background-removal-node')}/dist/`,
    model: 'medium',
    output: { format: 'image/png' },
  };
  // The model takes 4-channel images only: greyscale or RGB photos are widened first.
  const rgba = await sharp(image).toColourspace('srgb').ensureAlpha().png({ compressionLevel: 1 }).toBuffer();
  const blob = await imglyRemove(new Blob([new Uint8Array(rgba)], { type: 'image/png' }), config);
  return Buffer.from(await blob.arrayBuffer());
}

/** An image whose corners are transparent and whose subject is opaque: a cut-out already. */
async function isCutOut(image: Buffer): Promise<boolean> {
  const { data, info } = await sharp(image).ensureAlpha().extractChannel('alpha').raw().toBuffer({ resolveWithObject: true });
  const { width: w, height: h } = info;
  let opaque = 0;
  for (let i = 0; i < data.length; i++) if (data[i]! >= 128) opaque++;
  const share = opaque / data.length;
  return share > 0.01 && share < 0.99 && (data[0]! < 128 || data[w - 1]! < 128 || data[(h - 1) * w]! < 128 || data[h * w - 1]! < 128);
}
