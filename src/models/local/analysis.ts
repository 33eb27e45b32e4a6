/**
 * The photo's analysis on the local CPU models: who or what the subject is, where it is, and
 * whether a person is shown as a bust or with their legs.
 *
 * People come from @vladmandic/human (faces and MoveNet keypoints), found twice: on the whole
 * photo, then on a subject-sized crop, where MoveNet (which sees 192×192 pixels) finds the knees
 * and ankles of a small standing figure that it misses on the whole photo. A photo with nobody in
 * it may still show one clear subject (a cat, a toy): background removal finds it.
 */
import sharp from 'sharp';
import type { Box, SubjectAnalysis } from '../port.js';
import { removeBackground } from './background.js';
import { BODY_MIN, confidentKeypoints, countedFaces, detectPeople, isPerson, type HumanResult } from './detect.js';
import type { BodyPart, Keypoint } from './figure.js';
import { regionsOf } from './regions.js';

const lowest = (points: Keypoint[], parts: BodyPart[]) =>
  Math.max(-Infinity, ...points.filter((k) => parts.includes(k.part)).map((k) => k.y));

/**
 * Bust or full body, from a person's keypoints and how far the photo reaches below them. Legs
 * are shown when an ankle is found, when a knee is found clearly below the hips, or when the
 * photo goes on below the hips for most of a torso's length (the thighs are in the picture even
 * if MoveNet placed no knee). A photo that already shows legs is never "expanded".
 */
export function decideFraming(points: Keypoint[], imageHeight: number): SubjectAnalysis['framing'] {
  if (points.some((k) => k.part.endsWith('Ankle'))) return 'full_body';
  const hipY = lowest(points, ['leftHip', 'rightHip']);
  const shoulderY = lowest(points, ['leftShoulder', 'rightShoulder']);
  if (!Number.isFinite(hipY) || !Number.isFinite(shoulderY) || hipY <= shoulderY) return 'bust';
  const torso = hipY - shoulderY;
  const kneeY = lowest(points, ['leftKnee', 'rightKnee']);
  if (Number.isFinite(kneeY) && kneeY > hipY + torso * 0.4) return 'full_body';
  return imageHeight - hipY >= torso * 0.8 ? 'full_body' : 'bust';
}

/** Keypoints of two passes in one set: for each part, the more confident finding. */
export function mergeKeypoints(a: Keypoint[], b: Keypoint[]): Keypoint[] {
  const byPart = new Map<BodyPart, Keypoint>();
  for (const k of [...a, ...b]) {
    const seen = byPart.get(k.part);
    if (!seen || k.score > seen.score) byPart.set(k.part, k);
  }
  return [...byPart.values()];
}

/** The whole figure around its keypoints (and face): the head above the eyes, the feet below the ankles. */
export function personBox(points: Keypoint[], face: Box | undefined, framing: SubjectAnalysis['framing'], width: number, height: number): Box {
  const xs = points.map((k) => k.x);
  const ys = points.map((k) => k.y);
  if (face) {
    xs.push(face.left, face.left + face.width);
    ys.push(face.top - face.height * 0.35, face.top + face.height);
  }
  if (!xs.length) return { left: 0, top: 0, width: 0, height: 0 };
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const span = Math.max(maxY - minY, (face?.height ?? 0) * 2, 1);
  const padX = Math.max((maxX - minX) * 0.3, span * 0.12);
  const top = minY - span * 0.12;
  // A full body ends a little below the ankles (the feet) or where the photo does; a bust runs
  // out of the frame, so it ends at the photo's bottom.
  const ankles = lowest(points, ['leftAnkle', 'rightAnkle']);
  const bottom = framing === 'full_body' && Number.isFinite(ankles) ? ankles + span * 0.08 : height;
  return clampBox({ left: minX - padX, top, width: maxX - minX + 2 * padX, height: bottom - top }, width, height);
}

function clampBox(b: Box, width: number, height: number): Box {
  const left = Math.max(0, Math.round(b.left));
  const top = Math.max(0, Math.round(b.top));
  return { left, top, width: Math.max(0, Math.min(width - left, Math.round(b.width + Math.min(0, b.left)))), height: Math.max(0, Math.min(height - top, Math.round(b.height + Math.min(0, b.top)))) };
}

const faceBox = (f: HumanResult['face'][number] | undefined): Box | undefined => f && { left: f.box[0], top: f.box[1], width: f.box[2], height: f.box[3] };

/** Keypoints found on a crop of the photo, moved back into the photo's coordinates. */
async function keypointsOnCrop(photo: Buffer, crop: Box): Promise<Keypoint[]> {
  if (crop.width < 32 || crop.height < 32) return [];
  const found = await detectPeople(await sharp(photo).extract(crop).png().toBuffer());
  const body = found.body.filter((b) => b.score >= BODY_MIN)[0];
  return confidentKeypoints(body).map((k) => ({ ...k, x: k.x + crop.left, y: k.y + crop.top }));
}

/** The region where a person's whole figure can be: around what was found, down to the photo's bottom. */
function searchRegion(points: Keypoint[], face: Box | undefined, width: number, height: number): Box {
  const rough = personBox(points, face, 'bust', width, height);
  const grow = Math.max(rough.width, rough.height * 0.3) * 0.35;
  return clampBox({ left: rough.left - grow, top: rough.top - grow * 0.5, width: rough.width + 2 * grow, height }, width, height);
}

export interface ThingMask {
  /** Opaque share of the photo. */
  coverage: number;
  /** The largest connected region's share of everything opaque. */
  dominance: number;
  box: Box;
}

/** The largest region of a matte (alpha ≥ 128) and how much of the opaque area it holds. */
export function largestRegion(alpha: Uint8Array, width: number, height: number): ThingMask {
  const { sizes, boxes } = regionsOf(alpha, width, height);
  let best = 0;
  for (let id = 1; id < sizes.length; id++) if (sizes[id]! > sizes[best]!) best = id;
  const total = sizes.reduce((a, b) => a + b, 0);
  return { coverage: total / (width * height), dominance: total ? sizes[best]! / total : 0, box: boxes[best]! };
}

/**
 * One clear subject without a person: background removal leaves one region that dominates what
 * it kept, is neither a speck nor the whole photo. A texture or a landscape leaves nothing of
 * the kind, and is refused (NoSubject).
 */
async function findThing(photo: Buffer, width: number, height: number): Promise<SubjectAnalysis> {
  const side = 160; // connected regions on a small copy: plenty for a bounding box
  const { data, info } = await sharp(await removeBackground(photo))
    .ensureAlpha()
    .extractChannel('alpha')
    .resize(side, side, { fit: 'inside' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const mask = largestRegion(new Uint8Array(data), info.width, info.height);
  const clear = mask.coverage >= 0.03 && mask.coverage <= 0.85 && mask.dominance >= 0.7;
  if (!clear) return { framing: 'full_body', box: { left: 0, top: 0, width: 0, height: 0 }, subjects: 0, kind: 'thing' };
  const sx = width / info.width;
  const sy = height / info.height;
  const box = clampBox({ left: (mask.box.left - 1) * sx, top: (mask.box.top - 1) * sy, width: (mask.box.width + 2) * sx, height: (mask.box.height + 2) * sy }, width, height);
  return { framing: 'full_body', box, subjects: 1, kind: 'thing' };
}

export async function analyze(photo: Buffer): Promise<SubjectAnalysis> {
  const found = await detectPeople(photo);
  const { width, height } = found;
  const faces = countedFaces(found.face);
  const body = found.body.filter((b) => b.score >= BODY_MIN)[0];
  if (!isPerson(found.face, body)) return findThing(photo, width, height);
  let points = confidentKeypoints(body);
  const face = faceBox(faces[0]);
  points = mergeKeypoints(points, await keypointsOnCrop(photo, searchRegion(points, face, width, height)));
  const framing = decideFraming(points, height);
  return { framing, box: personBox(points, face, framing, width, height), subjects: Math.max(faces.length, 1), kind: 'person' };
}
