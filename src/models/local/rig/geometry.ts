/**
 * Small 2-D helpers shared by the rig's stages: points, 2×3 affine matrices, segments and
 * polygons. Image coordinates throughout: x to the right, y down, so a positive angle turns
 * clockwise on screen.
 */
import type { Point } from '../figure.js';

export type { Point };

/** x' = a·x + b·y + tx, y' = c·x + d·y + ty. */
export interface Affine {
  a: number;
  b: number;
  c: number;
  d: number;
  tx: number;
  ty: number;
}

export const IDENTITY: Affine = { a: 1, b: 0, c: 0, d: 1, tx: 0, ty: 0 };

export const apply = (m: Affine, x: number, y: number): Point => ({ x: m.a * x + m.b * y + m.tx, y: m.c * x + m.d * y + m.ty });

/** m ∘ n: first n, then m. */
export function compose(m: Affine, n: Affine): Affine {
  return {
    a: m.a * n.a + m.b * n.c,
    b: m.a * n.b + m.b * n.d,
    c: m.c * n.a + m.d * n.c,
    d: m.c * n.b + m.d * n.d,
    tx: m.a * n.tx + m.b * n.ty + m.tx,
    ty: m.c * n.tx + m.d * n.ty + m.ty,
  };
}

/**
 * Rotation by `angle` about `pivot`, after a stretch by `stretch` along the unit axis `axis`
 * (through the pivot), then a shift by (dx, dy): the local motion of one bone.
 */
export function jointTransform(pivot: Point, axis: Point, angle: number, stretch: number, dx: number, dy: number): Affine {
  const k = stretch - 1;
  // S = I + k·axis·axisᵀ
  const sa = 1 + k * axis.x * axis.x;
  const sb = k * axis.x * axis.y;
  const sd = 1 + k * axis.y * axis.y;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  // R·S
  const a = cos * sa - sin * sb;
  const b = cos * sb - sin * sd;
  const c = sin * sa + cos * sb;
  const d = sin * sb + cos * sd;
  return { a, b, c, d, tx: pivot.x - a * pivot.x - b * pivot.y + dx, ty: pivot.y - c * pivot.x - d * pivot.y + dy };
}

export const sub = (p: Point, q: Point): Point => ({ x: p.x - q.x, y: p.y - q.y });
export const add = (p: Point, q: Point): Point => ({ x: p.x + q.x, y: p.y + q.y });
export const scale = (p: Point, k: number): Point => ({ x: p.x * k, y: p.y * k });
export const lerp = (p: Point, q: Point, t: number): Point => ({ x: p.x + (q.x - p.x) * t, y: p.y + (q.y - p.y) * t });
export const dist = (p: Point, q: Point): number => Math.hypot(p.x - q.x, p.y - q.y);
export const mid = (p: Point, q: Point): Point => lerp(p, q, 0.5);
export function unit(p: Point): Point {
  const l = Math.hypot(p.x, p.y) || 1;
  return { x: p.x / l, y: p.y / l };
}
export const mean = (ps: Point[]): Point => ({ x: ps.reduce((s, p) => s + p.x, 0) / ps.length, y: ps.reduce((s, p) => s + p.y, 0) / ps.length });

export const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
export function smoothstep(e0: number, e1: number, x: number): number {
  const t = clamp((x - e0) / (e1 - e0), 0, 1);
  return t * t * (3 - 2 * t);
}

/** Where the point p falls along segment a→b (0 at a, 1 at b, unclamped) and its distance from the segment. */
export function segmentDistance(p: Point, a: Point, b: Point): { t: number; d: number } {
  const vx = b.x - a.x;
  const vy = b.y - a.y;
  const len2 = vx * vx + vy * vy || 1;
  const t = ((p.x - a.x) * vx + (p.y - a.y) * vy) / len2;
  const tc = clamp(t, 0, 1);
  return { t, d: Math.hypot(p.x - (a.x + vx * tc), p.y - (a.y + vy * tc)) };
}

export function insidePolygon(p: Point, poly: Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i]!;
    const b = poly[j]!;
    if (a.y > p.y !== b.y > p.y && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

/** Distance from p to the polygon's outline; 0 inside. */
export function polygonDistance(p: Point, poly: Point[]): number {
  if (insidePolygon(p, poly)) return 0;
  let best = Infinity;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) best = Math.min(best, segmentDistance(p, poly[j]!, poly[i]!).d);
  return best;
}

/** The polygon grown (k > 1) or shrunk about its centroid. */
export function scalePolygon(poly: Point[], k: number): Point[] {
  const c = mean(poly);
  return poly.map((p) => lerp(c, p, k));
}
