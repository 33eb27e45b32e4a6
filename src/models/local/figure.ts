/**
 * What the local back end knows of the character in an image: a person's body keypoints and face
 * features, or a "thing" (an animal, a toy) with none. The cartoon step finds it on the photo,
 * carries it inside the cut-out PNG it makes (see `png-text.ts`), and the animation step rigs
 * the cut-out from it. All coordinates are pixels of the image the figure travels with.
 */
import { readPngText, withPngText } from '../../media/png-text.js';

export interface Point {
  x: number;
  y: number;
}

/** MoveNet's 17 keypoints. "left" is the person's own left: on the right of a photo facing us. */
export const BODY_PARTS = [
  'nose',
  'leftEye',
  'rightEye',
  'leftEar',
  'rightEar',
  'leftShoulder',
  'rightShoulder',
  'leftElbow',
  'rightElbow',
  'leftWrist',
  'rightWrist',
  'leftHip',
  'rightHip',
  'leftKnee',
  'rightKnee',
  'leftAnkle',
  'rightAnkle',
] as const;
export type BodyPart = (typeof BODY_PARTS)[number];

export interface Keypoint extends Point {
  part: BodyPart;
  /** The detector's confidence, 0–1; only keypoints at or above `KEYPOINT_MIN` are kept. */
  score: number;
}

export const KEYPOINT_MIN = 0.3;

/** Outlines from the 468-point face mesh, each an ordered closed polygon. */
export interface FaceFeatures {
  /** The face's silhouette (forehead, cheeks, chin). */
  oval: Point[];
  leftEye: Point[];
  rightEye: Point[];
  leftBrow: Point[];
  rightBrow: Point[];
  /** The outer outline of the lips. */
  lips: Point[];
  /** The inner line between the lips (the mouth's opening). */
  mouth: Point[];
}

export interface Figure {
  kind: 'person' | 'thing';
  /** A person's framing; a thing is always whole. */
  framing: 'bust' | 'full_body';
  /** Size of the image the coordinates refer to. */
  width: number;
  height: number;
  /** Confident keypoints only (score ≥ KEYPOINT_MIN); empty for a thing. */
  keypoints: Keypoint[];
  face?: FaceFeatures;
}

export const keypoint = (figure: Figure, part: BodyPart): Keypoint | undefined => figure.keypoints.find((k) => k.part === part);

/** The figure with `move` applied to every point it holds (keypoints and face outlines). */
function mapPoints(figure: Figure, move: <T extends Point>(p: T) => T): Pick<Figure, 'keypoints' | 'face'> {
  const face = figure.face && (Object.fromEntries(Object.entries(figure.face).map(([k, pts]) => [k, (pts as Point[]).map(move)])) as unknown as FaceFeatures);
  return { keypoints: figure.keypoints.map(move), face };
}

/** The same figure in an image scaled by `scale` and then shifted by (dx, dy). */
export function transformFigure(figure: Figure, scale: number, dx: number, dy: number, width: number, height: number): Figure {
  return { ...figure, width, height, ...mapPoints(figure, (q) => ({ ...q, x: q.x * scale + dx, y: q.y * scale + dy })) };
}

/** The PNG text keyword under which a cut-out carries its figure. */
const FIGURE_KEYWORD = 'stickerflow:figure';

/** The image with its figure inside (a PNG text chunk), so it travels with the pixels it describes. */
export function attachFigure(png: Buffer, figure: Figure): Buffer {
  // A tenth of a pixel and a hundredth of a score are plenty, and keep the chunk small.
  const round = (v: number, per: number) => Math.round(v * per) / per;
  const compact = mapPoints(figure, (p) => ({ ...p, x: round(p.x, 10), y: round(p.y, 10), ...('score' in p ? { score: round(p.score as number, 100) } : {}) }));
  return withPngText(png, FIGURE_KEYWORD, JSON.stringify({ ...figure, ...compact }));
}

/** The figure an image carries, if it carries a well-formed one. */
export function figureOf(png: Buffer): Figure | undefined {
  const text = readPngText(png, FIGURE_KEYWORD);
  if (!text) return undefined;
  try {
    const f = JSON.parse(text) as Figure;
    const isPoint = (p: unknown) => typeof p === 'object' && p !== null && Number.isFinite((p as Point).x) && Number.isFinite((p as Point).y);
    const ok =
      (f.kind === 'person' || f.kind === 'thing') &&
      (f.framing === 'bust' || f.framing === 'full_body') &&
      Array.isArray(f.keypoints) &&
      f.keypoints.every((k) => isPoint(k) && (BODY_PARTS as readonly string[]).includes(k.part)) &&
      (f.face === undefined || Object.values(f.face).every((ps) => Array.isArray(ps) && ps.every(isPoint)));
    return ok ? f : undefined;
  } catch {
    return undefined;
  }
}
