/**
 * Subject analysis with @vladmandic/human (models inside the package) on TensorFlow.js wasm:
 * faces say how many people there are; body keypoints say where the subject is and whether the
 * photo shows a full body (knees or ankles visible) or a bust.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';
import type { Box, SubjectAnalysis } from '../port.js';
import { packageDir, tfjs, wasmDir } from './tfjs.js';

const require = createRequire(import.meta.url);

interface Keypoint {
  part: string;
  score: number;
  position: [number, number, number?];
}
interface HumanResult {
  face: { boxScore: number; box: [number, number, number, number] }[];
  body: { score: number; box: [number, number, number, number]; keypoints: Keypoint[] }[];
}
interface Human {
  load(): Promise<void>;
  detect(input: unknown): Promise<HumanResult>;
  tf: typeof import('@tensorflow/tfjs');
}

const FACE_MIN = 0.5;
const BODY_MIN = 0.3;
const KEYPOINT_MIN = 0.3;
const LOWER_BODY = ['leftKnee', 'rightKnee', 'leftAnkle', 'rightAnkle'];

let human: Promise<Human> | undefined;
function load(): Promise<Human> {
  human ??= (async () => {
    await tfjs(); // one wasm backend (and the file:// fetch shim) for every model
    // Loaded by path: the package's exports map does not expose its wasm build.
    const dir = packageDir('@vladmandic/human');
    const { Human } = require(path.join(dir, 'dist/human.node-wasm.js')) as { Human: new (config: object) => Human };
    const off = { enabled: false };
    const h = new Human({
      backend: 'wasm',
      wasmPath: `file://${wasmDir()}`,
      modelBasePath: `file://${dir}/models/`,
      debug: false,
      face: { enabled: true, detector: { maxDetected: 8, rotation: false }, mesh: off, iris: off, description: off, emotion: off, antispoof: off, liveness: off },
      body: { enabled: true, modelPath: 'movenet-lightning.json' },
      hand: off,
      object: off,
      gesture: off,
      segmentation: off,
    });
    await h.load();
    return h;
  })();
  return human;
}

/** Pure decision from the detections, so it can be tested on its own. */
export function analyseDetections(result: HumanResult, width: number, height: number): SubjectAnalysis {
  const faces = result.face.filter((f) => f.boxScore >= FACE_MIN);
  const bodies = result.body.filter((b) => b.score >= BODY_MIN);
  const subjects = Math.max(faces.length, bodies.length > 0 ? 1 : 0);
  const body = bodies[0];
  const points = body?.keypoints.filter((k) => k.score >= KEYPOINT_MIN) ?? [];
  const framing = points.some((k) => LOWER_BODY.includes(k.part)) ? 'full_body' : 'bust';
  let box: Box;
  if (points.length >= 3) {
    const xs = points.map((k) => k.position[0]);
    const ys = points.map((k) => k.position[1]);
    const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    // Keypoints sit inside the silhouette: pad them out to the whole figure (head above the eyes).
    const padX = (maxX - minX) * 0.35;
    const top = minY - (maxY - minY) * 0.45;
    box = clampBox({ left: minX - padX, top, width: maxX - minX + 2 * padX, height: (framing === 'bust' ? height : maxY + (maxY - minY) * 0.1) - top }, width, height);
  } else if (faces[0]) {
    const [x, y, w, h] = faces[0].box;
    box = clampBox({ left: x - w, top: y - h * 0.6, width: w * 3, height: h * 4 }, width, height);
  } else {
    box = { left: 0, top: 0, width: 0, height: 0 };
  }
  return { framing, box, subjects };
}

function clampBox(b: Box, width: number, height: number): Box {
  const left = Math.max(0, Math.round(b.left));
  const top = Math.max(0, Math.round(b.top));
  return { left, top, width: Math.min(width - left, Math.round(b.width)), height: Math.min(height - top, Math.round(b.height)) };
}

export async function analyze(image: Buffer): Promise<SubjectAnalysis> {
  const h = await load();
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const tensor = h.tf.tensor3d(new Uint8Array(data), [info.height, info.width, 3], 'int32');
  try {
    return analyseDetections(await h.detect(tensor), info.width, info.height);
  } finally {
    tensor.dispose();
  }
}
