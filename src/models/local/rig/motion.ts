/**
 * Stage 4 — the motion: a pure function from time to a pose (bone turns and stretches), the
 * body's own deformation (squash, stretch, lift, bend) and the eyelids. Every motion's period
 * divides the 5-second loop, and the one-off actions (a wave, a hop) start and end at rest, so
 * the loop is seamless. Timings follow the classic principles: anticipation before the hop,
 * stretch on take-off, squash on landing, overlap between the arm and the forearm.
 */
import { clamp, smoothstep } from './geometry.js';
import { boneIndex, type Side, type Skeleton } from './skeleton.js';
import type { Pose } from './skin.js';

export type Act = 'full_body' | 'bust' | 'thing';

/** The whole body's deformation, applied after the bones (see `bodyDeform`). */
export interface BodyMotion {
  /** > 0 squashes (shorter, wider at the base), < 0 stretches. A fraction of the height. */
  squash: number;
  /** Lift off the ground, a fraction of the height. */
  lift: number;
  /** Sideways bend of the top, a fraction of the height (the bottom stays put). */
  bend: number;
}

export interface Frame {
  pose: Pose;
  body: BodyMotion;
  /** Eyelids: 0 open, 0.5 half shut, 1 shut. */
  blink: number;
}

const DEG = Math.PI / 180;
const TAU = 2 * Math.PI;
const wave = (t: number, period: number) => Math.sin((TAU * t) / period);
/** 0 at rest, 1 at the peak, period `period`: (1 − cos)/2. */
const swell = (t: number, period: number) => (1 - Math.cos((TAU * t) / period)) / 2;

/**
 * One hop, u ∈ [0, 1] across its window: squash (anticipation) → stretch (take-off) → air →
 * squash (landing) → settle. Keyframes of squash, eased; lift is a parabola while airborne.
 */
const HOP_KEYS: [number, number][] = [
  [0, 0],
  [0.22, 0.13],
  [0.32, -0.1],
  [0.5, 0],
  [0.66, -0.05],
  [0.74, 0.12],
  [0.86, -0.02],
  [1, 0],
];
const TAKE_OFF = 0.3;
const LANDING = 0.72;
export function hop(u: number): { squash: number; lift: number } {
  if (u <= 0 || u >= 1) return { squash: 0, lift: 0 };
  let squash = 0;
  for (let i = 1; i < HOP_KEYS.length; i++) {
    const [u1, s1] = HOP_KEYS[i]!;
    const [u0, s0] = HOP_KEYS[i - 1]!;
    if (u <= u1) {
      squash = s0 + (s1 - s0) * smoothstep(u0, u1, u);
      break;
    }
  }
  const x = (u - TAKE_OFF) / (LANDING - TAKE_OFF);
  return { squash, lift: x > 0 && x < 1 ? 4 * x * (1 - x) : 0 };
}

const hopAt = (t: number, start: number, length: number) => hop((t - start) / length);

/** Blinks: three frames each (half, shut, half) at these times. */
const BLINKS = [1.6, 4.2];
export function blinkAt(t: number, fps: number): number {
  for (const tb of BLINKS) {
    const f = Math.round((t - tb) * fps);
    if (f === 0 || f === 2) return 0.5;
    if (f === 1) return 1;
  }
  return 0;
}

const normalizeAngle = (a: number) => Math.atan2(Math.sin(a), Math.cos(a));

/**
 * The wave's two arm turns for arm `side`, eased by `amount` (0–1) and with the forearm's
 * swing `swing` (−1…1): the upper arm rises to 25° above horizontal, outward; the forearm
 * points up and swings about the elbow. Turns are capped so nothing folds.
 */
export function waveAngles(skeleton: Skeleton, side: Side, amount: number, swing: number): { upper: number; fore: number } {
  const s = side === 'left' ? 'L' : 'R';
  const upper = skeleton.bones[boneIndex(skeleton, `upperArm${s}`)]!;
  const fore = skeleton.bones[boneIndex(skeleton, `forearm${s}`)]!;
  // The person's left arm is on the picture's right: outward is +x there.
  const mirror = (a: number) => (side === 'left' ? a : Math.PI - a);
  const upperTarget = mirror(-25 * DEG);
  const foreTarget = mirror((-72 + 22 * swing) * DEG);
  const upperRest = Math.atan2(upper.axis.y, upper.axis.x);
  const foreRest = Math.atan2(fore.axis.y, fore.axis.x);
  const du = clamp(normalizeAngle(upperTarget - upperRest), -120 * DEG, 120 * DEG);
  const df = clamp(normalizeAngle(foreTarget - (foreRest + du)), -110 * DEG, 110 * DEG);
  return { upper: du * amount, fore: df * amount };
}

export const WAVE = { start: 0.25, up: 0.45, end: 2.45, swings: 3.5 };
const HOP_FULL = { start: 2.75, length: 1.3 };
const HOP_THING = [
  { start: 0.2, length: 1.2 },
  { start: 2.7, length: 1.2 },
];

export function frameAt(act: Act, skeleton: Skeleton | undefined, t: number, fps: number): Frame {
  t = ((t % 5) + 5) % 5;
  const pose: Pose = {};
  const body: BodyMotion = { squash: 0, lift: 0, bend: 0 };
  let blink = 0;
  if (act === 'thing' || !skeleton) {
    // A thing has no bones: it breathes (a slow squash), sways with a bend and hops twice.
    body.bend = 0.08 * wave(t, 2.5);
    body.squash = 0.03 * wave(t, 1.25);
    for (const h of HOP_THING) {
      const j = hopAt(t, h.start, h.length);
      body.squash += j.squash;
      body.lift += 0.12 * j.lift;
    }
    return { pose, body, blink };
  }
  blink = blinkAt(t, fps);
  if (act === 'bust') {
    // Head and shoulders: a slow tilt with a quicker nod on top, both turns of the head about
    // the neck (together at most 6°, so the neck's blend never folds), breathing in the
    // shoulders, a bob with a squash.
    pose.head = { angle: 3.5 * DEG * wave(t, 5) + 2.5 * DEG * wave(t, 1.25) };
    pose.spine = { stretch: 1 + 0.02 * swell(t, 2.5) };
    // The bust's bottom edge is a cut: it stays on the ground, the bob is a squash above it.
    body.squash = 0.035 * (swell(t, 1.25) - 0.5);
    return { pose, body, blink };
  }
  // A full body: head tilt, breathing, one arm waving, then a hop.
  pose.head = { angle: 4 * DEG * wave(t, 5) };
  pose.spine = { stretch: 1 + 0.018 * swell(t, 2.5) };
  if (skeleton.wavingArm) {
    const s = skeleton.wavingArm === 'left' ? 'L' : 'R';
    const amount = smoothstep(WAVE.start, WAVE.up, t) * (1 - smoothstep(WAVE.end - 0.35, WAVE.end, t));
    const swingT = (t - WAVE.up) / (WAVE.end - 0.35 - WAVE.up);
    const swing = swingT > 0 && swingT < 1 ? Math.sin(TAU * WAVE.swings * swingT) * Math.sin(Math.PI * swingT) : 0;
    const a = waveAngles(skeleton, skeleton.wavingArm, amount, swing);
    pose[`upperArm${s}`] = { angle: a.upper };
    pose[`forearm${s}`] = { angle: a.fore };
  }
  const j = hopAt(t, HOP_FULL.start, HOP_FULL.length);
  body.squash = j.squash;
  body.lift = 0.1 * j.lift;
  // Knees give in the squashes: thighs turn out, shins back in.
  const knee = Math.max(0, j.squash) / 0.13;
  pose.thighL = { angle: -5 * DEG * knee };
  pose.shinL = { angle: 8 * DEG * knee };
  pose.thighR = { angle: 5 * DEG * knee };
  pose.shinR = { angle: -8 * DEG * knee };
  return { pose, body, blink };
}

/** Geometry of the rest pose that the body's deformation is anchored to. */
export interface Stance {
  /** The ground line (the lowest rest point) and the rest height. */
  ground: number;
  height: number;
  /** The body's vertical axis. */
  centerX: number;
}

/**
 * The whole body's squash and stretch as a mesh deformation: height scales about the ground;
 * width grows more at the base than at the top (the body settles); a bend shifts each point
 * sideways by the square of its height, so the top sways while the feet stay planted.
 */
export function bodyDeform(points: Float64Array, stance: Stance, m: BodyMotion, out = new Float64Array(points.length)): Float64Array {
  const { ground, height, centerX } = stance;
  const sy = 1 - m.squash;
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i]!;
    const y = points[i + 1]!;
    const h = clamp((ground - y) / height, -0.2, 1.3);
    const sx = 1 + m.squash * (1.5 - 1.1 * h);
    out[i] = centerX + (x - centerX) * sx + m.bend * height * h * h;
    out[i + 1] = ground - (ground - y) * sy - m.lift * height;
  }
  return out;
}
