/**
 * The die-cut line: one closed, smooth path round the opaque art and the QR badge, a white border
 * away from both. Traced from the alpha mask (d3-contour, sub-pixel), simplified, then grown with
 * round joins (clipper-lib). Separate islands of art are joined to each other by bridges (a
 * sticker is one piece), and holes in the art are ignored: the blade only goes round the outside.
 *
 * Coordinates are pixels at the art's placed resolution, in the page's frame (x right, y down).
 */
import ClipperLib, { type IntPoint, type Path } from 'clipper-lib';
import { contours } from 'd3-contour';
import simplify from 'simplify-js';

export interface Pt {
  x: number;
  y: number;
}

export interface AlphaMask {
  data: Uint8Array;
  width: number;
  height: number;
  /** Where the mask's top-left corner sits, in the same pixel frame as the result. */
  left: number;
  top: number;
}

/** Alpha at or above this counts as art that must be inside the cut. */
export const OPAQUE_ALPHA = 128;
/** clipper-lib works on integers: keep 1/100 px. */
const SCALE = 100;
/** Simplify tolerance before offsetting (px): far below the border, and 80× faster offsets. */
const SIMPLIFY_PX = 0.5;

type Ring = Path;

const toRing = (points: Pt[]): Ring => points.map((p) => ({ X: Math.round(p.x * SCALE), Y: Math.round(p.y * SCALE) }));
const area = (r: Ring) => Math.abs(ClipperLib.Clipper.Area(r));
/** clipper-lib treats rings of positive orientation as outlines, negative ones as holes. */
const asOutline = (r: Ring) => (ClipperLib.Clipper.Orientation(r) ? r : [...r].reverse());

function offset(rings: Ring[], openLines: Ring[], deltaPx: number): Ring[] {
  const co = new ClipperLib.ClipperOffset(2, 0.25 * SCALE);
  co.AddPaths(rings, ClipperLib.JoinType.jtRound, ClipperLib.EndType.etClosedPolygon);
  if (openLines.length) co.AddPaths(openLines, ClipperLib.JoinType.jtRound, ClipperLib.EndType.etOpenRound);
  const out: Ring[] = [];
  co.Execute(out, deltaPx * SCALE);
  return out;
}

/**
 * Tracing resolution: the mask shrunk by POOL, each pixel the most opaque of the POOL×POOL it
 * covers. Every opaque pixel of the art stays inside what is traced; the outline is at most POOL
 * art pixels (1/100 in, 0.25 mm) wide of the exact one — far inside the 1/8 in border, which the
 * round offset smooths anyway — and tracing visits a ninth of the cells.
 */
const POOL = 3;

function maxPool(mask: AlphaMask): { data: Uint8Array; width: number; height: number } {
  const width = Math.ceil(mask.width / POOL);
  const height = Math.ceil(mask.height / POOL);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < mask.height; y++) {
    const row = mask.width * y;
    const out = width * Math.floor(y / POOL);
    for (let x = 0; x < mask.width; x++) {
      const a = mask.data[row + x]!;
      const i = out + Math.floor(x / POOL);
      if (a > data[i]!) data[i] = a;
    }
  }
  return { data, width, height };
}

/** Outer rings of the opaque parts of the mask, dropping islands that sit inside another's hole. */
function traceOutlines(mask: AlphaMask): Ring[] {
  const small = maxPool(mask);
  const [shape] = contours()
    .size([small.width, small.height])
    .thresholds([OPAQUE_ALPHA])(small.data as unknown as number[]);
  const rings = (shape?.coordinates ?? [])
    .map((polygon) => polygon[0]!.map(([x, y]) => ({ x: x! * POOL + mask.left, y: y! * POOL + mask.top })))
    .map((points) => asOutline(toRing(simplify(points, SIMPLIFY_PX, true))))
    .filter((r) => r.length >= 3 && area(r) > 0)
    .sort((a, b) => area(b) - area(a));
  return rings.filter((r, i) => !rings.slice(0, i).some((bigger) => ClipperLib.Clipper.PointInPolygon(r[0]!, bigger) === 1));
}

/** Closest pair of vertices of two rings (squared distance). */
function closest(a: Ring, b: Ring): { d2: number; p: IntPoint; q: IntPoint } {
  let best = { d2: Infinity, p: a[0]!, q: b[0]! };
  for (const p of a) {
    for (const q of b) {
      const d2 = (p.X - q.X) ** 2 + (p.Y - q.Y) ** 2;
      if (d2 < best.d2) best = { d2, p, q };
    }
  }
  return best;
}

/** Bridges (2-point lines) of a minimum spanning tree over the islands (Prim), so all connect. */
function bridges(rings: Ring[]): Ring[] {
  const lines: Ring[] = [];
  const best = rings.map((r) => (r === rings[0] ? undefined : closest(rings[0]!, r)));
  const joined = new Set([0]);
  while (joined.size < rings.length) {
    let next = -1;
    for (let i = 0; i < rings.length; i++) if (!joined.has(i) && (next < 0 || best[i]!.d2 < best[next]!.d2)) next = i;
    const link = best[next]!;
    lines.push([link.p, link.q]);
    joined.add(next);
    for (let i = 0; i < rings.length; i++) {
      if (joined.has(i)) continue;
      const c = closest(rings[next]!, rings[i]!);
      if (c.d2 < best[i]!.d2) best[i] = c;
    }
  }
  return lines;
}

/**
 * The cut path round the mask's opaque art plus `extras` (e.g. the QR badge), `borderPx` away
 * from them. Concave notches narrower than about two borders are bridged over (a closing), so the
 * blade never has to turn into a slot it cannot cut.
 */
export function traceCutPath(mask: AlphaMask, extras: Pt[][], borderPx: number): Pt[] {
  const rings = [...traceOutlines(mask), ...extras.map((e) => asOutline(toRing(e)))];
  if (!rings.length) throw new Error('nothing to cut round: the mask has no opaque pixel');
  const closing = borderPx;
  const grown = offset(rings, bridges(rings), borderPx + closing);
  const outlines = offset(grown, [], -closing)
    .filter((r) => ClipperLib.Clipper.Orientation(r))
    .sort((a, b) => area(b) - area(a));
  const outline = outlines[0];
  if (!outline) throw new Error('tracing the cut path produced no outline');
  const stray = outlines.slice(1).find((r) => ClipperLib.Clipper.PointInPolygon(r[0]!, outline) === 0);
  if (stray) throw new Error('tracing the cut path left a separate piece (a bridge failed)');
  return simplify(
    outline.map((p) => ({ x: p.X / SCALE, y: p.Y / SCALE })),
    0.25,
    true,
  );
}
