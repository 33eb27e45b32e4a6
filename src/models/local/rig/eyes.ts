/**
 * Blinks. Rather than move pixels, a blink draws eyelids onto copies of the still (half shut and
 * shut): each eye's polygon, a little grown, filled with the skin tone found just above it, and a
 * dark lid line.
 * Blink frames are rasterised from those copies through the same deformed mesh, so the lids
 * tilt, breathe and hop with the head.
 */
import { keypoint, type Figure } from '../figure.js';
import { clamp, dist, insidePolygon, mean, polygonDistance, scalePolygon, segmentDistance, sub, unit, type Point } from './geometry.js';

/** The eye outlines to blink: the face mesh's, else ellipses around the eye keypoints, else none. */
export function eyePolygons(figure: Figure | undefined): Point[][] {
  if (!figure || figure.kind !== 'person') return [];
  const face = figure.face;
  if (face && face.leftEye.length >= 3 && face.rightEye.length >= 3) return [face.leftEye, face.rightEye];
  const le = keypoint(figure, 'leftEye');
  const re = keypoint(figure, 'rightEye');
  if (!le || !re) return [];
  const d = dist(le, re);
  const w = d * 0.42;
  const h = w * 0.45;
  const ellipse = (c: Point) => Array.from({ length: 16 }, (_, i) => ({ x: c.x + (w / 2) * Math.cos((i / 16) * 2 * Math.PI), y: c.y + (h / 2) * Math.sin((i / 16) * 2 * Math.PI) }));
  return [ellipse(le), ellipse(re)];
}

/**
 * The commonest colour of the opaque pixels in a box (r, g, b), or undefined when there are
 * none: a cartoon's skin is one flat tone, and the mode ignores the ink lines and brows in it.
 */
function flatColor(rgba: Uint8Array, width: number, height: number, x0: number, y0: number, x1: number, y1: number): [number, number, number] | undefined {
  const bins = new Map<number, [number, number, number, number]>();
  let best: [number, number, number, number] | undefined;
  for (let y = Math.max(0, Math.floor(y0)); y < Math.min(height, Math.ceil(y1)); y++)
    for (let x = Math.max(0, Math.floor(x0)); x < Math.min(width, Math.ceil(x1)); x++) {
      const i = (y * width + x) * 4;
      if (rgba[i + 3]! < 200) continue;
      const key = ((rgba[i]! >> 4) << 8) | ((rgba[i + 1]! >> 4) << 4) | (rgba[i + 2]! >> 4);
      const bin = bins.get(key) ?? [0, 0, 0, 0];
      bin[0] += rgba[i]!;
      bin[1] += rgba[i + 1]!;
      bin[2] += rgba[i + 2]!;
      bin[3]++;
      bins.set(key, bin);
      if (!best || bin[3] > best[3]) best = bin;
    }
  return best && [best[0] / best[3], best[1] / best[3], best[2] / best[3]];
}

/**
 * A copy of the still (straight RGBA) with the eyes `amount` shut (0.5 half, 1 shut). `across`
 * is the direction from one eye to the other, so lids follow a tilted face.
 */
export function closeEyes(rgba: Uint8Array, width: number, height: number, eyes: Point[][], amount: number): Uint8Array {
  const out = Uint8Array.from(rgba);
  if (eyes.length < 1 || amount <= 0) return out;
  const centers = eyes.map(mean);
  const across = centers.length >= 2 ? unit(sub(centers[1]!, centers[0]!)) : { x: 1, y: 0 };
  const u = across.x < 0 ? { x: -across.x, y: -across.y } : across;
  const n = { x: -u.y, y: u.x }; // points down the face
  for (const raw of eyes) {
    // The cartoon draws the eye a little larger than the face mesh's outline, and inks it: the
    // lid covers that much, plus a margin for the (heavier) upper lid line.
    const eye = scalePolygon(raw, 1.12);
    const c = mean(eye);
    const us = eye.map((p) => (p.x - c.x) * u.x + (p.y - c.y) * u.y);
    const vs = eye.map((p) => (p.x - c.x) * n.x + (p.y - c.y) * n.y);
    const [uMin, uMax, vMin, vMax] = [Math.min(...us), Math.max(...us), Math.min(...vs), Math.max(...vs)];
    const eyeW = uMax - uMin;
    const eyeH = Math.max(2, vMax - vMin);
    const margin = Math.max(1.5, eyeW * 0.1);
    const xs = eye.map((p) => p.x);
    const ys = eye.map((p) => p.y);
    const box = { x0: Math.min(...xs) - margin - 1, x1: Math.max(...xs) + margin + 1, y0: Math.min(...ys) - margin - 1, y1: Math.max(...ys) + margin + 1 };
    // Skin just above the eye (the lid's own place); below it (the cheek) if that is not there.
    const skin =
      flatColor(rgba, width, height, box.x0 + eyeW * 0.1, box.y0 - eyeH * 0.8, box.x1 - eyeW * 0.1, box.y0) ??
      flatColor(rgba, width, height, box.x0, box.y1, box.x1, box.y1 + eyeH) ?? [230, 190, 160];
    const ink: [number, number, number] = [Math.round(skin[0] * 0.25), Math.round(skin[1] * 0.2), Math.round(skin[2] * 0.2)];
    const thickness = clamp(eyeH * 0.22, 1.5, 5);
    // The lid's edge: across the eye at `amount` of its height, curving down when shut (‿).
    const lidAt = (uu: number) => {
      const s = clamp((uu - uMin) / eyeW, 0, 1);
      return vMin + eyeH * (amount >= 1 ? 0.55 + 0.2 * (1 - (2 * s - 1) ** 2) : 0.5);
    };
    const corner0 = { x: c.x + u.x * uMin + n.x * lidAt(uMin), y: c.y + u.y * uMin + n.y * lidAt(uMin) };
    const corner1 = { x: c.x + u.x * uMax + n.x * lidAt(uMax), y: c.y + u.y * uMax + n.y * lidAt(uMax) };
    for (let y = Math.max(0, Math.floor(box.y0)); y < Math.min(height, Math.ceil(box.y1)); y++)
      for (let x = Math.max(0, Math.floor(box.x0)); x < Math.min(width, Math.ceil(box.x1)); x++) {
        const p = { x: x + 0.5, y: y + 0.5 };
        const i = (y * width + x) * 4;
        if (rgba[i + 3]! < 8) continue;
        const pu = (p.x - c.x) * u.x + (p.y - c.y) * u.y;
        const pv = (p.x - c.x) * n.x + (p.y - c.y) * n.y;
        const inside = insidePolygon(p, eye) || polygonDistance(p, eye) <= margin;
        const lid = lidAt(pu);
        let paint: [number, number, number] | undefined;
        let cover = 0;
        if (inside && (amount >= 1 || pv < lid)) {
          paint = skin;
          cover = 1;
        }
        // The lid line, anti-aliased, from corner to corner (also just outside the polygon).
        const onLine = Math.abs(pv - lid);
        const withinEnds = segmentDistance(p, corner0, corner1).t;
        if (withinEnds >= -0.02 && withinEnds <= 1.02 && (inside || onLine < thickness)) {
          const a = clamp(thickness / 2 - onLine + 0.5, 0, 1);
          if (a > 0) {
            const base = paint ?? [out[i]!, out[i + 1]!, out[i + 2]!];
            paint = [base[0] + (ink[0] - base[0]) * a, base[1] + (ink[1] - base[1]) * a, base[2] + (ink[2] - base[2]) * a];
            cover = 1;
          }
        }
        if (paint && cover) {
          out[i] = Math.round(paint[0]);
          out[i + 1] = Math.round(paint[1]);
          out[i + 2] = Math.round(paint[2]);
        }
      }
  }
  return out;
}
