/** NSFW moderation with nsfwjs's bundled MobileNetV2 on TensorFlow.js (wasm). */
import sharp from 'sharp';
import type { ModerationVerdict } from '../port.js';
import { tfjs } from './tfjs.js';

type Model = Awaited<ReturnType<typeof import('nsfwjs').load>>;
let model: Promise<Model> | undefined;

/** Refused when explicit classes dominate, or suggestive content is near certain. */
export function verdictFrom(scores: Record<string, number>): ModerationVerdict {
  const explicit = (scores.Porn ?? 0) + (scores.Hentai ?? 0);
  if (explicit >= 0.5) return { safe: false, reason: 'the photo appears to contain nudity or sexual content', scores };
  if ((scores.Sexy ?? 0) >= 0.85) return { safe: false, reason: 'the photo appears to be sexually suggestive', scores };
  return { safe: true, scores };
}

export async function moderate(image: Buffer): Promise<ModerationVerdict> {
  const tf = await tfjs();
  model ??= import('nsfwjs').then((n) => n.load('MobileNetV2'));
  const m = await model;
  const { data, info } = await sharp(image).removeAlpha().resize(224, 224, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const tensor = tf.tensor3d(new Uint8Array(data), [info.height, info.width, 3], 'int32');
  try {
    const predictions = await m.classify(tensor);
    return verdictFrom(Object.fromEntries(predictions.map((p: { className: string; probability: number }) => [p.className, p.probability])));
  } finally {
    tensor.dispose();
  }
}
