/**
 * People in an image, with @vladmandic/human (MIT; its models ship inside the package) on the
 * TensorFlow.js wasm backend: faces (BlazeFace, with the 468-point face mesh for eyes, brows and
 * mouth) and body keypoints (MoveNet Lightning). One instance per process (or per model thread),
 * loaded on first use.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';
import { BODY_PARTS, KEYPOINT_MIN, type BodyPart, type FaceFeatures, type Figure, type Keypoint, type Point } from './figure.js';
import { packageDir, tfjs, wasmDir } from './tfjs.js';

const require = createRequire(import.meta.url);

type Xy = [number, number, number?];
interface HumanFace {
  boxScore: number;
  faceScore?: number;
  box: [number, number, number, number];
  annotations?: Record<string, Xy[]>;
}
interface HumanBody {
  score: number;
  box: [number, number, number, number];
  keypoints: { part: string; score: number; position: Xy }[];
}
export interface HumanResult {
  face: HumanFace[];
  body: HumanBody[];
}
interface Human {
  load(): Promise<void>;
  detect(input: unknown): Promise<HumanResult>;
  tf: typeof import('@tensorflow/tfjs');
}

export const FACE_MIN = 0.5;
export const BODY_MIN = 0.3;
/** A body found without a face must be this sure of itself, with at least 8 confident keypoints. */
export const BODY_ALONE_MIN = 0.6;

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
      face: {
        enabled: true,
        detector: { maxDetected: 8, rotation: false, minConfidence: 0.3 },
        mesh: { enabled: true },
        iris: off,
        description: off,
        emotion: off,
        antispoof: off,
        liveness: off,
        attention: off,
      },
      body: { enabled: true, modelPath: 'movenet-lightning.json', minConfidence: 0.1 },
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

/** Raw detections on an image (PNG/JPEG/...; transparency flattened onto white). */
export async function detectPeople(image: Buffer): Promise<HumanResult & { width: number; height: number }> {
  const h = await load();
  const { data, info } = await sharp(image).flatten({ background: '#ffffff' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const tensor = h.tf.tensor3d(new Uint8Array(data), [info.height, info.width, 3], 'int32');
  try {
    const result = await h.detect(tensor);
    return { face: result.face, body: result.body, width: info.width, height: info.height };
  } finally {
    tensor.dispose();
  }
}

/** The confident keypoints of a body, by name. */
export function confidentKeypoints(body: HumanBody | undefined): Keypoint[] {
  if (!body) return [];
  return body.keypoints
    .filter((k) => k.score >= KEYPOINT_MIN && (BODY_PARTS as readonly string[]).includes(k.part))
    .map((k) => ({ part: k.part as BodyPart, score: k.score, x: k.position[0], y: k.position[1] }));
}

const pts = (xs: Xy[] | undefined): Point[] => (xs ?? []).map(([x, y]) => ({ x, y }));
/** One closed outline from an upper and a lower contour that share their ends' direction. */
const ring = (upper: Xy[] | undefined, lower: Xy[] | undefined): Point[] => [...pts(upper), ...pts(lower).reverse()];

/** Eyes, brows, lips and the face's oval from the face mesh's annotated contours. */
export function faceFeatures(face: HumanFace | undefined): FaceFeatures | undefined {
  const a = face?.annotations;
  if (!a?.silhouette?.length || !a.leftEyeUpper0?.length || !a.rightEyeUpper0?.length) return undefined;
  return {
    oval: pts(a.silhouette),
    // MediaPipe's "left" is the person's own left, as MoveNet's is.
    leftEye: ring(a.leftEyeUpper0, a.leftEyeLower0),
    rightEye: ring(a.rightEyeUpper0, a.rightEyeLower0),
    leftBrow: ring(a.leftEyebrowUpper, a.leftEyebrowLower),
    rightBrow: ring(a.rightEyebrowUpper, a.rightEyebrowLower),
    lips: [...pts(a.lipsLowerOuter), ...pts(a.lipsUpperOuter).reverse()],
    mouth: [...pts(a.lipsLowerInner), ...pts(a.lipsUpperInner).reverse()],
  };
}

/** The faces worth counting: confident, and not tiny beside the largest (people far behind). */
export function countedFaces(faces: HumanFace[]): HumanFace[] {
  const confident = faces.filter((f) => f.boxScore >= FACE_MIN);
  const largest = Math.max(0, ...confident.map((f) => f.box[2]));
  return confident.filter((f) => f.box[2] >= largest * 0.35);
}

/**
 * Whether what was found is a person: a face, or a body that MoveNet is sure of on its own (it
 * also "finds" a faint body in a pagoda or a bicycle: seen at 0.35–0.51, real people 0.76–0.85).
 */
export function isPerson(faces: HumanFace[], body: HumanBody | undefined): boolean {
  return countedFaces(faces).length > 0 || (!!body && body.score >= BODY_ALONE_MIN && confidentKeypoints(body).length >= 8);
}

/**
 * The person in an image as a Figure (keypoints and face features), or undefined when nobody is
 * found. The framing is the photo's analysis's to decide: the caller passes it on.
 */
export async function detectFigure(image: Buffer, framing: Figure['framing']): Promise<Figure | undefined> {
  const found = await detectPeople(image);
  const body = found.body.filter((b) => b.score >= BODY_MIN)[0];
  if (!isPerson(found.face, body)) return undefined;
  const face = faceFeatures(countedFaces(found.face)[0]);
  return { kind: 'person', framing, width: found.width, height: found.height, keypoints: confidentKeypoints(body), face };
}
