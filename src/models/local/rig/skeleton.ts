/**
 * Stage 2 — the skeleton. Bones come from the figure's confident keypoints: a spine (hips → neck,
 * or from the bottom edge for a bust), the head (neck → crown), and per side an arm (shoulder →
 * elbow → wrist) and a leg (hip → knee → ankle) only when all three of its keypoints are there —
 * a limb with a joint missing simply has no bones and rides on the torso (legs go as a pair). The skeleton also
 * decides which ONE arm may wave: only an arm that stands clear of the torso and the face can
 * move without dragging body pixels with it.
 */
import { keypoint, type BodyPart, type Figure } from '../figure.js';
import { add, dist, lerp, mean, mid, polygonDistance, scale, sub, unit, type Point } from './geometry.js';

export type BoneName = 'spine' | 'head' | 'upperArmL' | 'forearmL' | 'upperArmR' | 'forearmR' | 'thighL' | 'shinL' | 'thighR' | 'shinR';
export type Side = 'left' | 'right';

export interface Bone {
  name: BoneName;
  /** Index of the parent bone in `Skeleton.bones`, −1 for the root. Parents come first. */
  parent: number;
  /** The pivot: where this bone turns against its parent. */
  joint: Point;
  tail: Point;
  /** Unit vector joint → tail at rest. */
  axis: Point;
  length: number;
}

export interface Skeleton {
  bones: Bone[];
  /** Shoulders and hips (a bust: shoulders and the bottom edge), the body's core. */
  torso: Point[];
  head?: { center: Point; radius: number; oval?: Point[] };
  shoulderWidth: number;
  /** The one arm free to wave (the person's own side), if any. */
  wavingArm?: Side;
  /**
   * Arms and legs without bones (a joint missing): their known segments, so their pixels are
   * bound to the torso instead of to whatever bone happens to be nearest.
   */
  anchors: [Point, Point][];
}

export const boneIndex = (skeleton: Skeleton, name: BoneName): number => skeleton.bones.findIndex((b) => b.name === name);

/** How far (in shoulder widths) an elbow or wrist must stay from the torso and the face to wave. */
export const ARM_CLEARANCE = 0.12;

const side = (s: Side) => (s === 'left' ? 'L' : 'R');

/**
 * `alpha` (the still's alpha channel, width × height), when given, also lets the skeleton check
 * that a waving arm's forearm stands free in the silhouette (transparent on both sides).
 */
export function buildSkeleton(figure: Figure, width: number, height: number, alpha?: Uint8Array): Skeleton | undefined {
  if (figure.kind !== 'person') return undefined;
  const kp = (part: BodyPart): Point | undefined => {
    const k = keypoint(figure, part);
    return k && { x: k.x, y: k.y };
  };
  const bones: Bone[] = [];
  const addBone = (name: BoneName, parent: number, joint: Point, tail: Point): number => {
    const axis = unit(sub(tail, joint));
    bones.push({ name, parent, joint, tail, axis, length: dist(joint, tail) });
    return bones.length - 1;
  };

  const ls = kp('leftShoulder');
  const rs = kp('rightShoulder');
  const lh = kp('leftHip');
  const rh = kp('rightHip');
  const shoulders = ls && rs ? mid(ls, rs) : (ls ?? rs);
  const hips = lh && rh ? mid(lh, rh) : (lh ?? rh);

  // The head: from the face outline when there is one, else from the face keypoints.
  const faceParts = (['nose', 'leftEye', 'rightEye', 'leftEar', 'rightEar'] as const).map(kp).filter((p): p is Point => !!p);
  const oval = figure.face?.oval.length ? figure.face.oval : undefined;
  let head: Skeleton['head'];
  if (oval) {
    const center = mean(oval);
    head = { center, radius: Math.max(...oval.map((p) => dist(p, center))), oval };
  } else if (faceParts.length) {
    const center = mean(faceParts);
    const le = kp('leftEye');
    const re = kp('rightEye');
    const lear = kp('leftEar');
    const rear = kp('rightEar');
    const radius = lear && rear ? dist(lear, rear) * 0.6 : le && re ? dist(le, re) * 1.3 : ls && rs ? dist(ls, rs) * 0.3 : height * 0.08;
    head = { center, radius };
  }
  if (!head && !shoulders) return undefined;

  const shoulderWidth = ls && rs ? dist(ls, rs) : head ? head.radius * 3 : width * 0.4;
  // The neck joint (the head's pivot) sits at the chin: the face outline's lowest point, or
  // below the face keypoints; never below the shoulders.
  let neck: Point;
  if (head) {
    const chin = oval ? oval.reduce((a, b) => (b.y > a.y ? b : a)) : add(head.center, { x: 0, y: head.radius * 0.8 });
    neck = { x: shoulders ? lerp(shoulders, head.center, 0.5).x : head.center.x, y: shoulders ? Math.min(chin.y, shoulders.y) : chin.y };
  } else neck = add(shoulders!, { x: 0, y: -shoulderWidth * 0.2 });
  const bust = figure.framing === 'bust';
  const base = !bust && hips ? hips : { x: (shoulders ?? neck).x, y: bust ? height : Math.min(height, neck.y + shoulderWidth * 1.6) };
  const spine = addBone('spine', -1, base, neck);
  if (head) addBone('head', spine, neck, add(head.center, scale(sub(head.center, neck), 0.8)));

  // The torso polygon: shoulders and hips, the hips pushed out a little because hip keypoints
  // sit inside the pelvis, not at the flanks.
  let torso: Point[] = [];
  if (ls && rs) {
    if (!bust && lh && rh) {
      const out = scale(sub(lh, rh), 0.15);
      torso = [ls, add(lh, out), sub(rh, out), rs];
    } else {
      const down = { x: 0, y: Math.max(0, base.y - Math.max(ls.y, rs.y)) };
      torso = [ls, add(ls, down), add(rs, down), rs];
    }
  }

  let wavingArm: Side | undefined;
  const anchors: [Point, Point][] = [];
  for (const s of ['left', 'right'] as const) {
    const chain = [kp(`${s}Shoulder`), kp(`${s}Elbow`), kp(`${s}Wrist`)];
    if (!bust && chain.every(Boolean)) continue;
    const known = chain.filter((p): p is Point => !!p);
    // Without a wrist the forearm and hand most likely carry on past the elbow.
    if (chain[0] && chain[1] && !chain[2]) known.push(add(chain[1], sub(chain[1], chain[0])));
    for (let i = 1; i < known.length; i++) anchors.push([known[i - 1]!, known[i]!]);
  }
  // Legs bend only as a pair: with a joint of either missing (the picture cut at the thighs,
  // a leg hidden), neither gets bones, the hop is the whole body's squash and stretch, and the
  // leg pixels there are ride on the torso rather than on a bone beside them.
  const legs = (['left', 'right'] as const).map((s) => [kp(`${s}Hip`), kp(`${s}Knee`), kp(`${s}Ankle`)]);
  const bothLegs = legs.every((chain) => chain.every(Boolean));
  if (!bust && !bothLegs)
    for (const chain of legs) {
      const known = chain.filter((p): p is Point => !!p);
      if (known.length === 1) known.push(add(known[0]!, { x: 0, y: shoulderWidth }));
      for (let i = 1; i < known.length; i++) anchors.push([known[i - 1]!, known[i]!]);
    }
  if (!bust) {
    let bestClearance = -Infinity;
    for (const s of ['left', 'right'] as const) {
      const shoulder = kp(`${s}Shoulder`);
      const elbow = kp(`${s}Elbow`);
      const wrist = kp(`${s}Wrist`);
      if (shoulder && elbow && wrist) {
        const upper = addBone(`upperArm${side(s)}`, spine, shoulder, elbow);
        addBone(`forearm${side(s)}`, upper, elbow, add(wrist, scale(sub(wrist, elbow), 0.25)));
        // Measured against the body's size: in a three-quarter view the shoulders overlap.
        const bodySize = Math.max(shoulderWidth, dist(base, neck) * 0.5, head ? head.radius * 2 : 0);
        const clearance = armClearance(elbow, wrist, torso, head) / bodySize;
        const free = !alpha || forearmStandsFree(alpha, width, height, elbow, wrist, bodySize * 0.45);
        if (free && clearance >= ARM_CLEARANCE && clearance > bestClearance) {
          bestClearance = clearance;
          wavingArm = s;
        }
      }
      const hip = kp(`${s}Hip`);
      const knee = kp(`${s}Knee`);
      const ankle = kp(`${s}Ankle`);
      if (hip && knee && ankle && bothLegs) {
        const thigh = addBone(`thigh${side(s)}`, spine, hip, knee);
        addBone(`shin${side(s)}`, thigh, knee, add(ankle, scale(sub(ankle, knee), 0.12)));
      }
    }
  }
  return { bones, torso, head, shoulderWidth, wavingArm, anchors };
}

/**
 * How far the arm's elbow, forearm and wrist stand from the torso polygon and the head, in
 * pixels (0 when any lies on them): an arm across the body would drag body pixels with it.
 */
export function armClearance(elbow: Point, wrist: Point, torso: Point[], head?: Skeleton['head']): number {
  const samples = [elbow, mid(elbow, wrist), wrist];
  let best = Infinity;
  for (const p of samples) {
    if (torso.length >= 3) best = Math.min(best, polygonDistance(p, torso));
    if (head) best = Math.min(best, Math.max(0, dist(p, head.center) - head.radius));
  }
  return best;
}

/**
 * Whether the silhouette is transparent on both sides of the forearm (at two points along it)
 * within `reach` pixels: a forearm resting on the body or holding something against the face
 * has body pixels all around it.
 */
export function forearmStandsFree(alpha: Uint8Array, width: number, height: number, elbow: Point, wrist: Point, reach: number): boolean {
  const axis = unit(sub(wrist, elbow));
  const n = { x: -axis.y, y: axis.x };
  const clearAt = (c: Point, sign: number) => {
    for (let d = 0; d <= reach; d++) {
      const x = Math.round(c.x + n.x * d * sign);
      const y = Math.round(c.y + n.y * d * sign);
      if (x < 0 || y < 0 || x >= width || y >= height || alpha[y * width + x]! < 128) return true;
    }
    return false;
  };
  return [0.4, 0.7].every((t) => {
    const c = lerp(elbow, wrist, t);
    return clearAt(c, 1) && clearAt(c, -1);
  });
}
