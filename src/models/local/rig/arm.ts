/**
 * The waving arm as a cut-out piece. A puppet's arm is a separate piece pinned at the shoulder:
 * here it is the part of the silhouette within the arm's reach of its two bones (its own
 * measured thickness; the hand a little more), outside the torso polygon and the face. The mesh
 * gets extra vertices along that cut line, so the seam that opens when the arm lifts is a clean
 * line rather than the zig-zag of whole grid triangles.
 */
import { insidePolygon, segmentDistance, smoothstep, dist, type Point } from './geometry.js';
import { boneIndex, type Skeleton } from './skeleton.js';

export interface ArmCut {
  upper: number;
  fore: number;
  /** Half the arm's thickness, in pixels. */
  radius: number;
}

/**
 * Measures the waving arm: half the forearm's thickness across the silhouette at the forearm's
 * middle (the forearm stands clear of the body, so the run of opaque pixels there is the arm
 * alone), plus slack for the anti-aliased outline.
 */
export function armCut(skeleton: Skeleton, alpha: Uint8Array | undefined, width: number, height: number): ArmCut | undefined {
  if (!skeleton.wavingArm) return undefined;
  const s = skeleton.wavingArm === 'left' ? 'L' : 'R';
  const upper = boneIndex(skeleton, `upperArm${s}`);
  const fore = boneIndex(skeleton, `forearm${s}`);
  const sw = skeleton.shoulderWidth;
  let radius = sw * 0.16;
  const f = skeleton.bones[fore]!;
  const c = { x: f.joint.x + (f.tail.x - f.joint.x) * 0.4, y: f.joint.y + (f.tail.y - f.joint.y) * 0.4 };
  const n = { x: -f.axis.y, y: f.axis.x };
  const opaque = (d: number) => {
    const x = Math.round(c.x + n.x * d);
    const y = Math.round(c.y + n.y * d);
    return !!alpha && x >= 0 && y >= 0 && x < width && y < height && alpha[y * width + x]! >= 128;
  };
  if (opaque(0)) {
    let a = 0;
    let b = 0;
    while (a < sw * 0.4 && opaque(-a - 1)) a++;
    while (b < sw * 0.4 && opaque(b + 1)) b++;
    radius = (a + b + 1) / 2 + 2.5;
  }
  return { upper, fore, radius: Math.min(sw * 0.32, Math.max(sw * 0.08, radius)) };
}

/** How far p lies outside the arm's reach (negative inside), and which arm bone is nearer. */
export function armReach(p: Point, skeleton: Skeleton, cut: ArmCut): { outside: number; bone: number } {
  const u = skeleton.bones[cut.upper]!;
  const f = skeleton.bones[cut.fore]!;
  const du = segmentDistance(p, u.joint, u.tail).d - cut.radius;
  const sf = segmentDistance(p, f.joint, f.tail);
  const df = sf.d - cut.radius * (1 + 0.4 * smoothstep(0.6, 0.9, sf.t));
  return df <= du ? { outside: df, bone: cut.fore } : { outside: du, bone: cut.upper };
}

/** Whether p is the arm's (not the face's or the torso's). */
export function inArm(p: Point, skeleton: Skeleton, cut: ArmCut): boolean {
  const { head, torso } = skeleton;
  if (head && (head.oval ? insidePolygon(p, head.oval) : dist(p, head.center) < head.radius * 0.9)) return false;
  if (torso.length >= 3 && insidePolygon(p, torso)) return false;
  return armReach(p, skeleton, cut).outside < 0;
}

/**
 * Points along the cut line, `spacing` apart: the boundary of the arm's reach, and the torso's
 * edge where the reach overlaps it. `inside` says whether a point lies in the silhouette.
 */
export function seamPoints(skeleton: Skeleton, cut: ArmCut, spacing: number, inside: (p: Point) => boolean): Point[] {
  const out: Point[] = [];
  const keep = (p: Point, onReach: boolean) => {
    if (!inside(p)) return;
    if (onReach && !inArmBorder(p)) return;
    out.push(p);
  };
  // On the reach's boundary: not inside the other bone's reach, not in the face or torso.
  const inArmBorder = (p: Point) => {
    const { head, torso } = skeleton;
    if (head && (head.oval ? insidePolygon(p, head.oval) : dist(p, head.center) < head.radius * 0.9)) return false;
    if (torso.length >= 3 && insidePolygon(p, torso)) return false;
    return Math.abs(armReach(p, skeleton, cut).outside) < 0.75;
  };
  for (const bi of [cut.upper, cut.fore]) {
    const b = skeleton.bones[bi]!;
    const n = { x: -b.axis.y, y: b.axis.x };
    const steps = Math.max(2, Math.ceil(b.length / spacing));
    for (let i = 0; i <= steps; i++) {
      const t = i / steps;
      const r = bi === cut.fore ? cut.radius * (1 + 0.4 * smoothstep(0.6, 0.9, t)) : cut.radius;
      const c = { x: b.joint.x + (b.tail.x - b.joint.x) * t, y: b.joint.y + (b.tail.y - b.joint.y) * t };
      keep({ x: c.x + n.x * r, y: c.y + n.y * r }, true);
      keep({ x: c.x - n.x * r, y: c.y - n.y * r }, true);
    }
    // Round ends at both joints.
    for (const [c, r] of [
      [b.joint, bi === cut.fore ? cut.radius : cut.radius],
      [b.tail, bi === cut.fore ? cut.radius * 1.4 : cut.radius],
    ] as const) {
      const arcSteps = Math.max(8, Math.ceil((2 * Math.PI * r) / spacing));
      for (let i = 0; i < arcSteps; i++) {
        const a = (i / arcSteps) * 2 * Math.PI;
        keep({ x: c.x + Math.cos(a) * r, y: c.y + Math.sin(a) * r }, true);
      }
    }
  }
  // The torso's edge inside the reach.
  const { torso } = skeleton;
  for (let i = 0; i < torso.length; i++) {
    const a = torso[i]!;
    const b = torso[(i + 1) % torso.length]!;
    const steps = Math.max(1, Math.ceil(dist(a, b) / spacing));
    for (let k = 0; k <= steps; k++) {
      const p = { x: a.x + ((b.x - a.x) * k) / steps, y: a.y + ((b.y - a.y) * k) / steps };
      if (armReach(p, skeleton, cut).outside < 0) keep(p, false);
    }
  }
  return out;
}
