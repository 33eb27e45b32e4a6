/**
 * Stage 1 — the mesh. The still is cut into triangles so it can bend: points along the outline
 * of the opaque area (so the edge deforms with the body and nothing of the outline is lost) plus
 * an even interior grid (so large areas bend smoothly), triangulated with Delaunay and then
 * pruned to the silhouette: Delaunay covers the convex hull, so triangles bridging the gap
 * between the legs or under an arm are dropped.
 */
import Delaunator from 'delaunator';

export interface Mesh {
  /** Rest positions in the still's pixels, [x0, y0, x1, y1, …]. */
  points: Float64Array;
  /** Three vertex indices per triangle. */
  triangles: Uint32Array;
  /** The interior grid's spacing in pixels. */
  step: number;
}

/** Alpha at or above this counts as part of the character when meshing (edges are anti-aliased). */
const ALPHA_MIN = 8;

/**
 * Pixels of the character, grown by one pixel so that the mesh's outline lies just outside the
 * last visible pixel of the anti-aliased edge (the sampled alpha does the rest).
 */
export function coverMask(alpha: Uint8Array, width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      if (alpha[y * width + x]! < ALPHA_MIN) continue;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx >= 0 && yy >= 0 && xx < width && yy < height) mask[yy * width + xx] = 1;
        }
    }
  return mask;
}

/** City-block distance of every mask pixel from the nearest pixel outside (two passes). */
export function insideDistance(mask: Uint8Array, width: number, height: number): Uint16Array {
  const big = 65535;
  const d = new Uint16Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      const up = y > 0 ? d[i - width]! : 0;
      const left = x > 0 ? d[i - 1]! : 0;
      d[i] = Math.min(big, Math.min(up, left) + 1);
    }
  for (let y = height - 1; y >= 0; y--)
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      if (!mask[i]) continue;
      const down = y < height - 1 ? d[i + width]! : 0;
      const right = x < width - 1 ? d[i + 1]! : 0;
      d[i] = Math.min(d[i]!, Math.min(down, right) + 1);
    }
  return d;
}

/** Grid spacing for a silhouette of `area` pixels: ~1500 interior points, 5–12 px apart. */
export const meshStep = (area: number): number => Math.max(5, Math.min(12, Math.sqrt(area / 1500)));

/**
 * `seams(step, inside)` may add points along lines the mesh must follow (the waving arm's cut):
 * grid points too close to them are left out so no slivers form.
 */
export function buildMesh(alpha: Uint8Array, width: number, height: number, step?: number, seams?: (step: number, inside: (p: { x: number; y: number }) => boolean) => { x: number; y: number }[]): Mesh {
  const mask = coverMask(alpha, width, height);
  const depth = insideDistance(mask, width, height);
  let area = 0;
  for (let i = 0; i < mask.length; i++) area += mask[i]!;
  const s = step ?? meshStep(area);
  const xs: number[] = [];

  // Outline points: one pixel of the mask's edge per (s/2)-sized cell, so the outline is
  // followed closely but evenly whatever its shape.
  const cell = Math.max(2, Math.round(s / 2));
  const cols = Math.ceil(width / cell);
  const taken = new Uint8Array(cols * Math.ceil(height / cell));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      if (depth[y * width + x] !== 1) continue;
      const c = Math.floor(y / cell) * cols + Math.floor(x / cell);
      if (taken[c]) continue;
      taken[c] = 1;
      xs.push(x + 0.5, y + 0.5);
    }
  // Seam points, inside the silhouette and clear of the outline.
  const minDepth = Math.max(2, s * 0.45);
  const deepEnough = (p: { x: number; y: number }, min: number) => {
    const x = Math.floor(p.x);
    const y = Math.floor(p.y);
    return x >= 0 && y >= 0 && x < width && y < height && depth[y * width + x]! >= min;
  };
  const seam = seams ? seams(s, (p) => deepEnough(p, Math.max(2, s * 0.3))) : [];
  const near = new Set<number>();
  const seamCell = (x: number, y: number) => Math.floor(y / s) * (Math.ceil(width / s) + 1) + Math.floor(x / s);
  for (const p of seam) {
    xs.push(p.x, p.y);
    near.add(seamCell(p.x, p.y));
  }
  // Interior grid, kept clear of the outline and the seams so no sliver triangles form.
  for (let gy = s / 2; gy < height; gy += s)
    for (let gx = s / 2; gx < width; gx += s) {
      if (!deepEnough({ x: gx, y: gy }, minDepth)) continue;
      if (near.has(seamCell(gx, gy)) && seam.some((p) => Math.hypot(p.x - gx, p.y - gy) < s * 0.45)) continue;
      xs.push(gx, gy);
    }

  const points = Float64Array.from(xs);
  const all = new Delaunator(points).triangles;
  const inMask = (x: number, y: number) => {
    const ix = Math.floor(x);
    const iy = Math.floor(y);
    return ix >= 0 && iy >= 0 && ix < width && iy < height && mask[iy * width + ix] === 1;
  };
  const kept: number[] = [];
  const maxEdge = s * 2.6;
  for (let t = 0; t < all.length; t += 3) {
    const i = all[t]!;
    const j = all[t + 1]!;
    const k = all[t + 2]!;
    const ax = points[2 * i]!, ay = points[2 * i + 1]!;
    const bx = points[2 * j]!, by = points[2 * j + 1]!;
    const cx = points[2 * k]!, cy = points[2 * k + 1]!;
    if (Math.hypot(ax - bx, ay - by) > maxEdge || Math.hypot(bx - cx, by - cy) > maxEdge || Math.hypot(cx - ax, cy - ay) > maxEdge) continue;
    // A triangle belongs to the silhouette when its centre and the middles of its edges do.
    if (!inMask((ax + bx + cx) / 3, (ay + by + cy) / 3)) continue;
    if (!inMask((ax + bx) / 2, (ay + by) / 2) || !inMask((bx + cx) / 2, (by + cy) / 2) || !inMask((cx + ax) / 2, (cy + ay) / 2)) continue;
    kept.push(i, j, k);
  }
  return { points, triangles: Uint32Array.from(kept), step: s };
}
