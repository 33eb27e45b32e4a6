/**
 * Closing the body where the waving arm is cut away. A cartoon's thick outline runs round the
 * silhouette only, so when the arm lifts, the torso's side that lay under it has no outline and
 * the shoulder shows a notch. As a paper puppet is made, the body piece is given a little more
 * than it shows: under the arm it gets a band of ink (the outline's own tone and width) along
 * the cut, and under the arm's round root a copy of the shoulder. Both live on the body layer,
 * which the arm covers exactly at rest, so nothing changes until the arm moves.
 */
import type { Point } from './geometry.js';
import { insideDistance } from './mesh.js';

export interface Ink {
  rgb: [number, number, number];
  /** The outline's width in pixels. */
  width: number;
}

const luma = (rgba: Uint8Array, i: number) => 0.299 * rgba[4 * i]! + 0.587 * rgba[4 * i + 1]! + 0.114 * rgba[4 * i + 2]!;

/**
 * The cut-out's outline: the darkest tone along the silhouette's edge, and how deep it runs —
 * the depth at which pixels stop being mostly that tone. (A photo with no outline gets its
 * darkest edge tone and a thin line.)
 */
export function outlineInk(rgba: Uint8Array, width: number, height: number): Ink {
  const n = width * height;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = rgba[4 * i + 3]! >= 128 ? 1 : 0;
  const depth = insideDistance(mask, width, height);
  const maxDepth = Math.max(3, Math.round(Math.max(width, height) * 0.05));
  const edge: number[] = [];
  for (let i = 0; i < n; i++) if (depth[i] === 2 || depth[i] === 3) edge.push(i);
  if (!edge.length) return { rgb: [34, 26, 38], width: 2 };
  edge.sort((a, b) => luma(rgba, a) - luma(rgba, b));
  const dark = edge.slice(0, Math.max(1, Math.floor(edge.length * 0.2)));
  const rgb = [0, 1, 2].map((c) => dark.map((i) => rgba[4 * i + c]!).sort((a, b) => a - b)[dark.length >> 1]!) as Ink['rgb'];
  const isInk = (i: number) => Math.abs(rgba[4 * i]! - rgb[0]) + Math.abs(rgba[4 * i + 1]! - rgb[1]) + Math.abs(rgba[4 * i + 2]! - rgb[2]) < 90;
  const hits = new Uint32Array(maxDepth + 2);
  const all = new Uint32Array(maxDepth + 2);
  for (let i = 0; i < n; i++) {
    const d = depth[i]!;
    if (d < 1 || d > maxDepth + 1) continue;
    all[d]!++;
    if (isInk(i)) hits[d]!++;
  }
  let w = 1;
  while (w <= maxDepth && hits[w + 1]! >= all[w + 1]! * 0.5) w++;
  return { rgb, width: Math.min(Math.max(width, height) * 0.03, Math.max(2, w)) };
}

/** Which of the mesh's triangles cover each pixel at rest (−1 none); pixel centres, no overlaps. */
function triangleMap(points: Float64Array, triangles: Uint32Array, width: number, height: number): Int32Array {
  const map = new Int32Array(width * height).fill(-1);
  for (let t = 0; t < triangles.length / 3; t++) {
    const [i, j, k] = [triangles[3 * t]!, triangles[3 * t + 1]!, triangles[3 * t + 2]!];
    const ax = points[2 * i]!, ay = points[2 * i + 1]!, bx = points[2 * j]!, by = points[2 * j + 1]!, cx = points[2 * k]!, cy = points[2 * k + 1]!;
    const area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
    if (!area) continue;
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx, cx))), x1 = Math.min(width - 1, Math.ceil(Math.max(ax, bx, cx)));
    const y0 = Math.max(0, Math.floor(Math.min(ay, by, cy))), y1 = Math.min(height - 1, Math.ceil(Math.max(ay, by, cy)));
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5, py = y + 0.5;
        const w0 = ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) / area;
        const w1 = ((cx - bx) * (py - by) - (cy - by) * (px - bx)) / area;
        const w2 = ((ax - cx) * (py - cy) - (ay - cy) * (px - cx)) / area;
        if (w0 >= 0 && w1 >= 0 && w2 >= 0) map[y * width + x] = t;
      }
  }
  return map;
}

/** Approximate Euclidean distance (chamfer 1/√2) from the seed pixels, capped at `cap`. */
function distanceFrom(seed: Uint8Array, width: number, height: number, cap: number): Float32Array {
  const d = new Float32Array(width * height).fill(cap);
  for (let i = 0; i < d.length; i++) if (seed[i]) d[i] = 0;
  const D = Math.SQRT2;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      let v = d[i]!;
      if (x > 0) v = Math.min(v, d[i - 1]! + 1);
      if (y > 0) {
        v = Math.min(v, d[i - width]! + 1);
        if (x > 0) v = Math.min(v, d[i - width - 1]! + D);
        if (x < width - 1) v = Math.min(v, d[i - width + 1]! + D);
      }
      d[i] = v;
    }
  for (let y = height - 1; y >= 0; y--)
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      let v = d[i]!;
      if (x < width - 1) v = Math.min(v, d[i + 1]! + 1);
      if (y < height - 1) {
        v = Math.min(v, d[i + width]! + 1);
        if (x < width - 1) v = Math.min(v, d[i + width + 1]! + D);
        if (x > 0) v = Math.min(v, d[i + width - 1]! + D);
      }
      d[i] = v;
    }
  return d;
}

export interface SeamPlan {
  /** The still for the body layer (straight RGBA): the arm's pixels replaced by the band and the shoulder. */
  body: Uint8Array;
  /** Per mesh triangle: 1 for an arm triangle that is also drawn on the body layer (under the arm). */
  under: Uint8Array;
}

/**
 * `own` marks the arm's triangles; `shoulder` and `radius` are the arm's pivot and half-width.
 * On the body's copy of the still, the arm's pixels within the outline's width of the body
 * become ink, those of the arm's root disc stay (the shoulder), and all others go transparent,
 * so nothing of the arm itself is left behind on the body.
 */
export function planSeam(rgba: Uint8Array, width: number, height: number, points: Float64Array, triangles: Uint32Array, own: Uint8Array, ink: Ink, shoulder: Point, radius: number): SeamPlan {
  const n = width * height;
  const map = triangleMap(points, triangles, width, height);
  const keep = new Uint8Array(n); // body pixels, and the arm's root: what the band is measured from
  const armPx = new Uint8Array(n);
  const r2 = radius * radius;
  for (let i = 0; i < n; i++) {
    const t = map[i]!;
    if (t < 0 || rgba[4 * i + 3]! < 8) continue;
    if (!own[t]) {
      keep[i] = rgba[4 * i + 3]! >= 128 ? 1 : 0;
      continue;
    }
    const x = (i % width) + 0.5 - shoulder.x;
    const y = Math.floor(i / width) + 0.5 - shoulder.y;
    if (x * x + y * y <= r2) keep[i] = 2;
    else armPx[i] = 1;
  }
  const d = distanceFrom(keep, width, height, ink.width + 4);
  const body = Uint8Array.from(rgba);
  const under = new Uint8Array(own.length);
  for (let i = 0; i < n; i++) {
    const t = map[i]!;
    if (keep[i] === 2) under[t] = 1;
    if (!armPx[i]) continue;
    // The first pixel past the cut keeps its colour: the body's own edge samples it while
    // the arm still lies there, and a dark one would show as a line along the seam.
    const cover = Math.min(1, Math.max(0, ink.width + 1.5 - d[i]!));
    if (d[i]! > 1.01) {
      body[4 * i] = ink.rgb[0];
      body[4 * i + 1] = ink.rgb[1];
      body[4 * i + 2] = ink.rgb[2];
    }
    body[4 * i + 3] = Math.round(rgba[4 * i + 3]! * cover);
    if (cover > 0) under[t] = 1;
  }
  return { body, under };
}
