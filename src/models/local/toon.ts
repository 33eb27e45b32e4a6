/**
 * The local cartoon look, as an algorithm (no cartoon model may be used commercially here): the
 * cut-out subject becomes flat colour regions with one darker shade band, clean ink lines and a
 * thick rounded sticker outline; a face (when its features are known) gets flat skin and drawn
 * eyes, brows and mouth. OpenCV (opencv-js, wasm) does the filters; per-pixel logic is plain JS
 * on typed arrays. Every size is scaled from a 768-px reference (`s`).
 */
import type { FaceFeatures, Point } from './figure.js';
import { opencv, type CV } from './opencv.js';

export interface Raster {
  rgba: Buffer;
  width: number;
  height: number;
}

type Mat = InstanceType<CV['Mat']>;
type Rgb = [number, number, number];

/** Ink (lines and outline): a warm near-black reads friendlier than pure black. */
const INK: Rgb = [34, 26, 38];
/** Clusters of the subject's colours (before the shade split). */
const CLUSTERS = 10;
/** Outline width as a share of the longer side. */
const OUTLINE = 0.025;
/** Side of the image the colour smoothing works on (bilateral is the costly step). */
const WORK_SIDE = 400;

/** Mats made during one call, deleted together at the end (opencv-js has no GC of its heap). */
class Mats {
  private readonly made: { delete(): void }[] = [];
  constructor(readonly cv: CV) {}
  keep<T extends { delete(): void }>(mat: T): T {
    this.made.push(mat);
    return mat;
  }
  mat(height: number, width: number, type: number, data?: ArrayLike<number>): Mat {
    const m = this.keep(new this.cv.Mat(height, width, type));
    if (data) (m.depth() === this.cv.CV_32F ? m.data32F : m.depth() === this.cv.CV_32S ? m.data32S : m.data).set(data);
    return m;
  }
  free(): void {
    for (const m of this.made.splice(0)) m.delete();
  }
}

/** The subject as a cartoon: same size and coordinates as the input; alpha = the subject's silhouette grown by the outline. */
export async function toonify(subject: Raster, face?: FaceFeatures): Promise<Raster> {
  const cv = await opencv();
  const mats = new Mats(cv);
  try {
    const { width: w, height: h } = subject;
    const s = Math.max(w, h) / 768;
    const silhouette = cleanMatte(mats, subject, s);
    const rgb = fillOutside(mats, subject, silhouette.inside);
    const smooth = smoothColours(mats, rgb, w, h);
    const lab = toLab(mats, smooth, w, h);
    const regions = flatRegions(mats, lab, silhouette.inside, w, h, s);
    const oval = face && polygonCoverage(mats, [face.oval], w, h);
    const box = face && faceBox(face, w, h);
    if (face && oval && box) flatSkin(mats, { ...inBox(box, face, { oval, lab, inside: silhouette.inside }, w, h), s }, regions, box);
    const colours = antialias(mats, paint(regions), w, h);
    const ink = inkLines(mats, { smooth, regions, inside: silhouette.inside, faceZone: oval, faceSize: face ? faceSize(face.oval) : 0, w, h, s });
    if (face && oval && box) {
      // Drawn on a crop around the face (the face stage touches nothing else), then pasted back.
      const c = { ...inBox(box, face, { oval, lab, inside: silhouette.inside, colours, ink }, w, h), s };
      drawFeatures(mats, c);
      paste(colours, c.colours, box, w);
      paste(ink, c.ink, box, w);
    }
    return compose(mats, colours, ink, silhouette, w, h);
  } finally {
    mats.free();
  }
}

// ---------------------------------------------------------------------------------------------
// Silhouette

interface Silhouette {
  /** 1 inside the cleaned subject, 0 outside. */
  inside: Uint8Array;
  /** Antialiased coverage of the subject's edge, 0–1. */
  coverage: Float32Array;
}

/**
 * The matte cleaned into one hard, smooth shape: background removal leaves soft edges, specks,
 * pinholes and stray hairs, and a thick outline traced around those would magnify every one.
 */
function cleanMatte(mats: Mats, subject: Raster, s: number): Silhouette {
  const { cv } = mats;
  const { width: w, height: h, rgba } = subject;
  const n = w * h;
  const hard = new Uint8Array(n);
  for (let i = 0; i < n; i++) hard[i] = rgba[i * 4 + 3]! >= 128 ? 255 : 0;
  const bin = mats.mat(h, w, cv.CV_8UC1, hard);
  // Open (erode, then dilate) with a disk: drops hair-thin strands and one-pixel noise.
  const disk = mats.keep(cv.getStructuringElement(cv.MORPH_ELLIPSE, new cv.Size(odd(4 * s), odd(4 * s))));
  cv.morphologyEx(bin, bin, cv.MORPH_OPEN, disk);
  // Blur and threshold again: the edge's stair-steps and nicks become a smooth curve.
  const blurred = mats.mat(h, w, cv.CV_8UC1);
  cv.GaussianBlur(bin, blurred, new cv.Size(0, 0), 2.5 * s);
  cv.threshold(blurred, bin, 127, 255, cv.THRESH_BINARY);
  const inside = new Uint8Array(n);
  const smoothed = bin.data; // (a view of the wasm heap: read before the next OpenCV call)
  for (let i = 0; i < n; i++) inside[i] = smoothed[i]! ? 1 : 0;
  removeSpecks(mats, inside, w, h, s);
  fillHoles(mats, inside, w, h);
  // Coverage for antialiasing the colour/outline seam: the hard shape blurred by under a pixel.
  bin.data.set(scaled8(inside, 255));
  cv.GaussianBlur(bin, blurred, new cv.Size(0, 0), 0.7);
  const coverage = new Float32Array(n);
  const soft = blurred.data;
  for (let i = 0; i < n; i++) coverage[i] = inside[i] ? Math.max(0.5, soft[i]! / 255) : 0;
  return { inside, coverage };
}

/** a·v + b for every value of a 0/1 mask (plain loops: typed-array map with a callback is slow at this size). */
function scaled8(on: Uint8Array, a: number, b = 0): Uint8Array {
  const out = new Uint8Array(on.length);
  for (let i = 0; i < on.length; i++) out[i] = a * on[i]! + b;
  return out;
}

function sum(v: Uint8Array): number {
  let total = 0;
  for (let i = 0; i < v.length; i++) total += v[i]!;
  return total;
}

/** 8-bit values as 0–1 floats. */
function unit(v: Uint8Array): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / 255;
  return out;
}

const odd = (x: number) => Math.max(3, 2 * Math.round(x / 2) + 1);

/** Connected components of a 0/1 image: the label image and each label's area and whether it touches the border. */
function components(mats: Mats, on: Uint8Array, w: number, h: number) {
  const { cv } = mats;
  const src = mats.mat(h, w, cv.CV_8UC1, on);
  const labels = mats.mat(h, w, cv.CV_32S);
  const stats = mats.mat(1, 1, cv.CV_32S);
  const centroids = mats.mat(1, 1, cv.CV_64F);
  const count = cv.connectedComponentsWithStats(src, labels, stats, centroids, 8, cv.CV_32S);
  const st = stats.data32S;
  const area: number[] = [];
  const border: boolean[] = [];
  for (let l = 0; l < count; l++) {
    const [x, y, bw, bh, a] = [st[l * 5]!, st[l * 5 + 1]!, st[l * 5 + 2]!, st[l * 5 + 3]!, st[l * 5 + 4]!];
    area.push(a);
    border.push(x === 0 || y === 0 || x + bw === w || y + bh === h);
  }
  return { labels: Int32Array.from(labels.data32S), area, border, count };
}

/** Islands far smaller than the main subject are matte noise (a patch of background, a speck). */
function removeSpecks(mats: Mats, inside: Uint8Array, w: number, h: number, s: number): void {
  const { labels, area, count } = components(mats, inside, w, h);
  const largest = Math.max(0, ...area.slice(1));
  const keep = area.map((a, l) => l > 0 && a >= Math.max(0.015 * largest, 200 * s * s));
  if (count <= 1) return;
  for (let i = 0; i < inside.length; i++) if (inside[i] && !keep[labels[i]!]) inside[i] = 0;
}

/** Small enclosed gaps are matte holes; large ones (between an arm and the body) are real background. */
function fillHoles(mats: Mats, inside: Uint8Array, w: number, h: number): void {
  const outside = scaled8(inside, -1, 1);
  const subjectArea = inside.length - sum(outside);
  const { labels, area, border } = components(mats, outside, w, h);
  const fill = area.map((a, l) => l > 0 && !border[l] && a < 0.005 * subjectArea);
  for (let i = 0; i < inside.length; i++) if (outside[i] && fill[labels[i]!]) inside[i] = 1;
}

// ---------------------------------------------------------------------------------------------
// Colour

/**
 * RGB with the background replaced by the subject's own nearby colours (a normalised blur), so
 * the smoothing below never bleeds the removed background (often black) into the subject's edge.
 */
function fillOutside(mats: Mats, subject: Raster, inside: Uint8Array): Uint8Array {
  const { cv } = mats;
  const { width: w, height: h, rgba } = subject;
  const n = w * h;
  const weighted = mats.mat(h, w, cv.CV_32FC4);
  const f = weighted.data32F;
  for (let i = 0; i < n; i++) {
    const m = inside[i]!;
    f[i * 4] = rgba[i * 4]! * m;
    f[i * 4 + 1] = rgba[i * 4 + 1]! * m;
    f[i * 4 + 2] = rgba[i * 4 + 2]! * m;
    f[i * 4 + 3] = m;
  }
  // Blurred on a quarter-size copy: the fill only has to be plausible, and a wide blur is costly.
  const small = mats.mat(1, 1, cv.CV_32FC4);
  const q = Math.max(1, Math.round(Math.max(w, h) / 192));
  cv.resize(weighted, small, new cv.Size(Math.ceil(w / q), Math.ceil(h / q)), 0, 0, cv.INTER_AREA);
  cv.GaussianBlur(small, small, new cv.Size(0, 0), Math.max(w, h) / 60 / q);
  const spread = mats.mat(1, 1, cv.CV_32FC4);
  cv.resize(small, spread, new cv.Size(w, h), 0, 0, cv.INTER_LINEAR);
  const g = spread.data32F;
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      rgb[i * 3 + c] = inside[i] ? rgba[i * 4 + c]! : g[i * 4 + 3]! > 1e-3 ? g[i * 4 + c]! / g[i * 4 + 3]! : 128;
    }
  }
  return rgb;
}

/**
 * Edge-preserving smoothing: repeated small bilateral filters flatten texture (skin pores,
 * fabric, fur) while keeping the edges between objects. It runs on a reduced copy — cheaper,
 * and the reduction itself removes fine detail a cartoon does not draw — and is scaled back.
 */
function smoothColours(mats: Mats, rgb: Uint8Array, w: number, h: number): Uint8Array {
  const { cv } = mats;
  const full = mats.mat(h, w, cv.CV_8UC3, rgb);
  const f = Math.min(1, WORK_SIDE / Math.max(w, h));
  const small = mats.mat(1, 1, cv.CV_8UC3);
  cv.resize(full, small, new cv.Size(Math.round(w * f), Math.round(h * f)), 0, 0, cv.INTER_AREA);
  const tmp = mats.mat(1, 1, cv.CV_8UC3);
  for (let pass = 0; pass < 4; pass++) {
    cv.bilateralFilter(small, tmp, 7, 36, 5);
    cv.bilateralFilter(tmp, small, 7, 36, 5);
  }
  cv.medianBlur(small, tmp, 3);
  cv.resize(tmp, full, new cv.Size(w, h), 0, 0, cv.INTER_LINEAR);
  return Uint8Array.from(full.data);
}

/** OpenCV's 8-bit Lab (L×2.55, a+128, b+128): a perceptual space for clustering colours. */
function toLab(mats: Mats, rgb: Uint8Array, w: number, h: number): Uint8Array {
  const { cv } = mats;
  const src = mats.mat(h, w, cv.CV_8UC3, rgb);
  const dst = mats.mat(1, 1, cv.CV_8UC3);
  cv.cvtColor(src, dst, cv.COLOR_RGB2Lab);
  return Uint8Array.from(dst.data);
}

function labToRgb(mats: Mats, colours: Rgb[]): Rgb[] {
  const { cv } = mats;
  if (!colours.length) return [];
  const src = mats.mat(1, colours.length, cv.CV_8UC3, colours.flat().map(clamp8));
  const dst = mats.mat(1, 1, cv.CV_8UC3);
  cv.cvtColor(src, dst, cv.COLOR_Lab2RGB);
  const d = dst.data;
  return colours.map((_, i) => [d[i * 3]!, d[i * 3 + 1]!, d[i * 3 + 2]!]);
}

const clamp8 = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

interface Regions {
  /** Region label per pixel (-1 outside the subject). */
  label: Int32Array;
  /** Flat colour of each label, RGB. */
  palette: Rgb[];
  /** The same colours in 8-bit Lab. */
  paletteLab: Rgb[];
  /** The first of the face's two skin labels (lit, shaded), when a face was flattened. */
  skin?: number;
  w: number;
  h: number;
}

/**
 * Flat colour regions: k-means in Lab on the subject's pixels (lightness weighted down so the
 * clusters follow hue and chroma), each cluster split into a lit and a shaded band, region
 * borders smoothed, and regions too small to read as shapes merged into a neighbour.
 */
function flatRegions(mats: Mats, lab: Uint8Array, inside: Uint8Array, w: number, h: number, s: number): Regions {
  const centres = clusterColours(mats, lab, inside);
  let label = assign(lab, inside, centres);
  label = splitShade(lighting(mats, lab, w, h, 4 * s), label, centres.length);
  label = smoothLabels(mats, label, w, h, s);
  const subjectArea = sum(inside);
  for (let pass = 0; pass < 3; pass++) if (!mergeSmall(label, w, h, Math.max(150 * s * s, 0.002 * subjectArea))) break;
  const paletteLab = regionColours(lab, label, centres.length * 2);
  return { label, palette: labToRgb(mats, paletteLab), paletteLab, w, h };
}

const L_WEIGHT = 0.55;

/** k-means centres (weighted Lab) from a deterministic sample of the subject's pixels. */
function clusterColours(mats: Mats, lab: Uint8Array, inside: Uint8Array): Rgb[] {
  const { cv } = mats;
  const count = sum(inside);
  const step = Math.max(1, Math.floor(count / 16000));
  const sample: number[] = [];
  for (let i = 0, k = 0; i < inside.length; i++) {
    if (!inside[i] || k++ % step) continue;
    sample.push(lab[i * 3]! * L_WEIGHT, lab[i * 3 + 1]!, lab[i * 3 + 2]!);
  }
  const rows = sample.length / 3;
  const k = Math.min(CLUSTERS, rows);
  if (k < 1) return [];
  const data = mats.keep(cv.matFromArray(rows, 3, cv.CV_32F, sample));
  const labels = mats.mat(1, 1, cv.CV_32S);
  const centers = mats.mat(1, 1, cv.CV_32F);
  cv.setRNGSeed(7); // the same photo gives the same cartoon
  const criteria = new cv.TermCriteria(cv.TermCriteria_EPS + cv.TermCriteria_MAX_ITER, 20, 0.5);
  cv.kmeans(data, k, labels, criteria, 2, (cv as unknown as { KMEANS_PP_CENTERS: number }).KMEANS_PP_CENTERS, centers);
  const c = centers.data32F;
  const out: Rgb[] = [];
  for (let i = 0; i < k; i++) out.push([c[i * 3]!, c[i * 3 + 1]!, c[i * 3 + 2]!]);
  // Near-duplicate centres give two almost equal flat colours side by side: keep one.
  return out.filter((a, i) => !out.slice(0, i).some((b) => dist2(a, b) < 36));
}

const dist2 = (a: Rgb, b: Rgb) => (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;

function assign(lab: Uint8Array, inside: Uint8Array, centres: Rgb[]): Int32Array {
  const label = new Int32Array(inside.length).fill(-1);
  for (let i = 0; i < inside.length; i++) {
    if (!inside[i]) continue;
    const L = lab[i * 3]! * L_WEIGHT;
    const a = lab[i * 3 + 1]!;
    const b = lab[i * 3 + 2]!;
    let best = 0;
    let bestD = Infinity;
    for (let j = 0; j < centres.length; j++) {
      const c = centres[j]!;
      const d = (L - c[0]) ** 2 + (a - c[1]) ** 2 + (b - c[2]) ** 2;
      if (d < bestD) {
        best = j;
        bestD = d;
      }
    }
    label[i] = best;
  }
  return label;
}

/** The image's lightness at a larger scale (the light falling on things, not their texture). */
function lighting(mats: Mats, lab: Uint8Array, w: number, h: number, sigma: number): Uint8Array {
  const { cv } = mats;
  const L = new Uint8Array(w * h);
  for (let i = 0; i < L.length; i++) L[i] = lab[i * 3]!;
  const m = mats.mat(h, w, cv.CV_8UC1, L);
  cv.GaussianBlur(m, m, new cv.Size(0, 0), sigma);
  return Uint8Array.from(m.data);
}

/**
 * One shade band per colour: the darker part of a cluster with a real spread of lightness
 * becomes its own flat, darker tone (cel shading); label 2c is lit, 2c+1 shaded.
 */
function splitShade(light: Uint8Array, label: Int32Array, k: number): Int32Array {
  const sum = new Float64Array(k);
  const sq = new Float64Array(k);
  const n = new Float64Array(k);
  for (let i = 0; i < label.length; i++) {
    const l = label[i]!;
    if (l < 0) continue;
    const L = light[i]!;
    sum[l]! += L;
    sq[l]! += L * L;
    n[l]! += 1;
  }
  const threshold = Array.from({ length: k }, (_, c) => {
    const mean = sum[c]! / Math.max(1, n[c]!);
    const sd = Math.sqrt(Math.max(0, sq[c]! / Math.max(1, n[c]!) - mean * mean));
    // Flat clusters (sd under ≈ 3.5 L*) stay one tone, and so do near-blacks: a darker black is a blot.
    return sd > 9 && mean > 60 ? mean - 0.5 * sd : -1;
  });
  const out = new Int32Array(label.length);
  for (let i = 0; i < label.length; i++) out[i] = label[i]! < 0 ? -1 : 2 * label[i]! + (light[i]! < threshold[label[i]!]! ? 1 : 0);
  return out;
}

/**
 * Smooth region borders (a vector-art look, not pixel stairs): each label's mask is blurred and
 * every pixel takes the label with the most weight around it — a soft majority vote.
 */
function smoothLabels(mats: Mats, label: Int32Array, w: number, h: number, s: number): Int32Array {
  const { cv } = mats;
  const sigma = 3 * s;
  const pad = Math.ceil(3 * sigma);
  const boxes = labelBoxes(label, w);
  const best = new Uint8Array(label.length);
  const out = new Int32Array(label);
  // Each label is voted only inside its own bounding box (grown by the blur's reach): most
  // labels cover a small part of the image.
  for (const [l, box] of boxes) {
    const x0 = Math.max(0, box[0] - pad);
    const y0 = Math.max(0, box[1] - pad);
    const bw = Math.min(w, box[2] + pad + 1) - x0;
    const bh = Math.min(h, box[3] + pad + 1) - y0;
    const on = new Uint8Array(bw * bh);
    for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) on[y * bw + x] = label[(y + y0) * w + x + x0] === l ? 255 : 0;
    const mask = mats.mat(bh, bw, cv.CV_8UC1, on);
    cv.GaussianBlur(mask, mask, new cv.Size(0, 0), sigma);
    const b = mask.data;
    for (let y = 0; y < bh; y++) {
      for (let x = 0; x < bw; x++) {
        const i = (y + y0) * w + x + x0;
        const v = b[y * bw + x]!;
        if (label[i]! >= 0 && v > best[i]!) {
          best[i] = v;
          out[i] = l;
        }
      }
    }
  }
  return out;
}

/** Each label's bounding box [x0, y0, x1, y1]. */
function labelBoxes(label: Int32Array, w: number): Map<number, [number, number, number, number]> {
  const boxes = new Map<number, [number, number, number, number]>();
  for (let i = 0; i < label.length; i++) {
    const l = label[i]!;
    if (l < 0) continue;
    const x = i % w;
    const y = (i - x) / w;
    const b = boxes.get(l);
    if (!b) boxes.set(l, [x, y, x, y]);
    else {
      if (x < b[0]) b[0] = x;
      if (x > b[2]) b[2] = x;
      if (y > b[3]) b[3] = y;
    }
  }
  return boxes;
}

/**
 * Confetti removal: a 4-connected region smaller than `minArea` takes the label most common
 * along its border. Returns whether anything changed.
 */
function mergeSmall(label: Int32Array, w: number, h: number, minArea: number): boolean {
  const seen = new Uint8Array(label.length);
  const stack = new Int32Array(label.length);
  const members: number[] = [];
  let changed = false;
  for (let start = 0; start < label.length; start++) {
    if (seen[start] || label[start]! < 0) continue;
    const l = label[start]!;
    members.length = 0;
    const around = new Map<number, number>();
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top) {
      const i = stack[--top]!;
      members.push(i);
      const x = i % w;
      const y = (i - x) / w;
      for (let k = 0; k < 4; k++) {
        const j = k === 0 ? (x > 0 ? i - 1 : -1) : k === 1 ? (x < w - 1 ? i + 1 : -1) : k === 2 ? (y > 0 ? i - w : -1) : y < h - 1 ? i + w : -1;
        if (j < 0) continue;
        const m = label[j]!;
        if (m === l) {
          if (!seen[j]) {
            seen[j] = 1;
            stack[top++] = j;
          }
        } else if (m >= 0) around.set(m, (around.get(m) ?? 0) + 1);
      }
    }
    if (members.length >= minArea || !around.size) continue;
    const into = [...around.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    for (const i of members) label[i] = into;
    changed = true;
  }
  return changed;
}

/**
 * Each label's flat colour: the mean of its pixels, then made friendlier — chroma boosted,
 * contrast lifted a little — and a shaded band kept clearly darker than its lit band.
 */
function regionColours(lab: Uint8Array, label: Int32Array, count: number): Rgb[] {
  const sum = Array.from({ length: count }, () => [0, 0, 0, 0]);
  for (let i = 0; i < label.length; i++) {
    const l = label[i]!;
    if (l < 0) continue;
    const t = sum[l]!;
    t[0]! += lab[i * 3]!;
    t[1]! += lab[i * 3 + 1]!;
    t[2]! += lab[i * 3 + 2]!;
    t[3]! += 1;
  }
  const mean = sum.map(([L, a, b, n]): Rgb => (n ? [L! / n, a! / n, b! / n] : [128, 128, 128]));
  return mean.map((c, l) => {
    const lit = l % 2 === 0 ? c : mean[l - 1]!;
    const hasLit = l % 2 === 1 && sum[l - 1]![3]! > 0;
    const L = hasLit ? Math.min(c[0], lit[0] - 26) : c[0];
    return friendly([L, c[1], c[2]]);
  });
}

/** More chroma and a little more contrast: photo colours read as muddy once flattened. */
function friendly([L, a, b]: Rgb, boost = 1.35): Rgb {
  const chroma = Math.hypot(a - 128, b - 128);
  const gain = chroma < 4 ? 1 : Math.min(boost, Math.max(1, 80 / chroma)); // keep greys grey, cap vivid ones
  return [128 + (L - 128) * 1.08 + 6, 128 + (a - 128) * gain, 128 + (b - 128) * gain];
}

/** The flat-coloured image (RGB) from the region labels. */
function paint(regions: Regions): Uint8Array {
  const { label, palette } = regions;
  const rgb = new Uint8Array(label.length * 3);
  for (let i = 0; i < label.length; i++) {
    const c = palette[label[i]!];
    if (!c) continue;
    rgb.set(c, i * 3);
  }
  return rgb;
}

/** Region borders antialiased: a sub-pixel blur leaves flat areas flat and softens only the stair-steps. */
function antialias(mats: Mats, rgb: Uint8Array, w: number, h: number): Uint8Array {
  const { cv } = mats;
  const src = mats.mat(h, w, cv.CV_8UC3, rgb);
  cv.GaussianBlur(src, src, new cv.Size(3, 3), 0.6);
  return Uint8Array.from(src.data);
}

// ---------------------------------------------------------------------------------------------
// Ink lines

interface InkInput {
  smooth: Uint8Array;
  regions: Regions;
  inside: Uint8Array;
  /** The face oval (0–1), where only long lines (glasses, not wrinkles) are kept. */
  faceZone?: Float32Array;
  faceSize: number;
  w: number;
  h: number;
  s: number;
}

/**
 * Ink lines where a cartoonist would draw them: thin dark features from a difference of
 * Gaussians on the smoothed image (seams, folds, gaps between objects) and the borders between
 * flat regions of clearly different colour. Then cleaned so it reads as drawn: specks and short
 * strokes dropped, every stroke thinned to its centre line and redrawn at one weight,
 * antialiased. Lines hugging the silhouette are left out: the outline draws that edge.
 */
function inkLines(mats: Mats, input: InkInput): Float32Array {
  const { inside, w, h, s } = input;
  const depth = distanceInside(mats, inside, w, h);
  const dark = darkLines(mats, input.smooth, w, h, s);
  const borders = regionBorders(input.regions);
  const on = new Uint8Array(w * h);
  for (let i = 0; i < on.length; i++) on[i] = depth[i]! > 6 * s && (dark[i] || borders[i]) ? 1 : 0;
  dropSmall(mats, on, w, h, 30 * s * s);
  const centre = thin(on, w, h);
  dropSmall(mats, centre, w, h, 20 * s);
  if (input.faceZone) dropShortInZone(mats, centre, input.faceZone, w, h, 0.4 * input.faceSize);
  clearSkin(mats, centre, input.regions, s);
  return strokes(mats, centre, w, h, 1.5 * s);
}

/** Difference of Gaussians, dark side only: pixels clearly darker than their surroundings. */
function darkLines(mats: Mats, smooth: Uint8Array, w: number, h: number, s: number): Uint8Array {
  const { cv } = mats;
  const rgb = mats.mat(h, w, cv.CV_8UC3, smooth);
  const grey = mats.mat(1, 1, cv.CV_8UC1);
  cv.cvtColor(rgb, grey, cv.COLOR_RGB2GRAY);
  const g32 = mats.mat(1, 1, cv.CV_32F);
  grey.convertTo(g32, cv.CV_32F);
  const fine = mats.mat(1, 1, cv.CV_32F);
  const wide = mats.mat(1, 1, cv.CV_32F);
  cv.GaussianBlur(g32, fine, new cv.Size(0, 0), 1.4 * s);
  cv.GaussianBlur(g32, wide, new cv.Size(0, 0), 2.6 * s);
  const a = fine.data32F;
  const b = wide.data32F;
  const on = new Uint8Array(w * h);
  for (let i = 0; i < on.length; i++) on[i] = a[i]! - b[i]! < -4 ? 1 : 0;
  return on;
}

/** Pixels on the border between two different colours (not between a colour's two shade bands) that differ clearly. */
function regionBorders(regions: Regions): Uint8Array {
  const { label, paletteLab, w, h } = regions;
  const on = new Uint8Array(label.length);
  const contrast = (l: number, m: number) => m >= 0 && l >> 1 !== m >> 1 && dist2(paletteLab[l]!, paletteLab[m]!) > 30 * 30;
  for (let y = 0; y < h - 1; y++) {
    for (let x = 0; x < w - 1; x++) {
      const i = y * w + x;
      const l = label[i]!;
      if (l < 0) continue;
      if (contrast(l, label[i + 1]!) || contrast(l, label[i + w]!)) on[i] = 1;
    }
  }
  return on;
}

/** No general ink on the flat skin (a nose or wrinkle line from the photo); its border with hair or collar stays. */
function clearSkin(mats: Mats, centre: Uint8Array, regions: Regions, s: number): void {
  const { cv } = mats;
  const { label, skin, w, h } = regions;
  if (skin === undefined) return;
  const on = new Uint8Array(label.length);
  for (let i = 0; i < on.length; i++) on[i] = label[i]! >= skin ? 255 : 0;
  const m = mats.mat(h, w, cv.CV_8UC1, on);
  const disk = mats.keep(cv.getStructuringElement(cv.MORPH_ELLIPSE, new cv.Size(odd(6 * s), odd(6 * s))));
  cv.erode(m, m, disk);
  const interior = m.data;
  for (let i = 0; i < centre.length; i++) if (interior[i]) centre[i] = 0;
}

/** Inside the face only long strokes stay (glasses, the jaw), not wrinkles and pores. */
function dropShortInZone(mats: Mats, centre: Uint8Array, zone: Float32Array, w: number, h: number, min: number): void {
  const { labels, area } = components(mats, centre, w, h);
  for (let i = 0; i < centre.length; i++) if (centre[i] && zone[i]! > 0 && area[labels[i]!]! < min) centre[i] = 0;
}

/** Distance of each subject pixel to the nearest background pixel (0 outside). */
function distanceInside(mats: Mats, inside: Uint8Array, w: number, h: number): Float32Array {
  const { cv } = mats;
  const src = mats.mat(h, w, cv.CV_8UC1, inside);
  const dst = mats.mat(1, 1, cv.CV_32F);
  cv.distanceTransform(src, dst, cv.DIST_L2, cv.DIST_MASK_PRECISE);
  return Float32Array.from(dst.data32F);
}

/** Removes connected pieces of a 0/1 image with fewer than `min` pixels. */
function dropSmall(mats: Mats, on: Uint8Array, w: number, h: number, min: number): void {
  const { labels, area } = components(mats, on, w, h);
  for (let i = 0; i < on.length; i++) if (on[i] && area[labels[i]!]! < min) on[i] = 0;
}

/** Zhang–Suen thinning: each stroke becomes its one-pixel centre line. */
function thin(on: Uint8Array, w: number, h: number): Uint8Array {
  const img = Uint8Array.from(on);
  for (let x = 0; x < w; x++) img[x] = img[(h - 1) * w + x] = 0;
  for (let y = 0; y < h; y++) img[y * w] = img[y * w + w - 1] = 0;
  // Only foreground pixels are ever visited (the list shrinks as pixels are peeled off).
  let live: number[] = [];
  for (let i = 0; i < img.length; i++) if (img[i]) live.push(i);
  const remove: number[] = [];
  const p = new Uint8Array(8);
  for (let changed = true; changed; ) {
    changed = false;
    for (const step of [0, 1]) {
      remove.length = 0;
      for (const i of live) {
        // Neighbours clockwise from north: p2..p9 in Zhang and Suen's paper.
        p[0] = img[i - w]!;
        p[1] = img[i - w + 1]!;
        p[2] = img[i + 1]!;
        p[3] = img[i + w + 1]!;
        p[4] = img[i + w]!;
        p[5] = img[i + w - 1]!;
        p[6] = img[i - 1]!;
        p[7] = img[i - w - 1]!;
        const count = p[0]! + p[1]! + p[2]! + p[3]! + p[4]! + p[5]! + p[6]! + p[7]!;
        if (count < 2 || count > 6) continue;
        let transitions = 0;
        for (let k = 0; k < 8; k++) if (!p[k] && p[(k + 1) & 7]) transitions++;
        if (transitions !== 1) continue;
        const [n, e, so, we] = [p[0]!, p[2]!, p[4]!, p[6]!];
        if (step === 0 ? n * e * so === 0 && e * so * we === 0 : n * e * we === 0 && n * so * we === 0) remove.push(i);
      }
      for (const i of remove) img[i] = 0;
      if (remove.length) changed = true;
    }
    live = live.filter((i) => img[i]);
  }
  return img;
}

/**
 * Centre lines drawn as strokes about `half` pixels either side: the one-pixel lines are blurred
 * and cut at the level a straight line reaches `half` pixels out, which gives an even width,
 * smooths the stair-steps of the pixel centre line, rounds the ends, and antialiases the edge.
 */
function strokes(mats: Mats, centre: Uint8Array, w: number, h: number, half: number): Float32Array {
  const { cv } = mats;
  const sigma = half;
  const src = mats.mat(h, w, cv.CV_32F, centre);
  const blur = mats.mat(1, 1, cv.CV_32F);
  cv.GaussianBlur(src, blur, new cv.Size(0, 0), sigma);
  const peak = 1 / (sigma * Math.sqrt(2 * Math.PI));
  const level = peak * Math.exp(-0.5 * (half / sigma) ** 2);
  const slope = (level * half) / (sigma * sigma); // fall-off per pixel at the stroke's edge
  const v = blur.data32F;
  const ink = new Float32Array(centre.length);
  for (let i = 0; i < ink.length; i++) ink[i] = Math.max(0, Math.min(1, (v[i]! - level) / slope + 0.5));
  return ink;
}

// ---------------------------------------------------------------------------------------------
// Face

interface FaceInput {
  face: FaceFeatures;
  /** The face oval's coverage (0–1). */
  oval: Float32Array;
  lab: Uint8Array;
  inside: Uint8Array;
  w: number;
  h: number;
  s: number;
}

interface FaceCanvas extends FaceInput {
  colours: Uint8Array;
  ink: Float32Array;
}

/**
 * Skin as one flat region: photo skin broken into colour patches is what makes a cartoon look
 * like a damaged photo. The skin (face, and the neck and ears near it) becomes two new labels —
 * one flat tone and at most one shade band — so the ink stage sees it as a single shape.
 */
function flatSkin(mats: Mats, c: FaceInput, regions: Regions, box: Box): void {
  const { face, w, h } = c;
  const size = faceSize(face.oval);
  const features = polygonCoverage(mats, [face.leftEye, face.rightEye, face.leftBrow, face.rightBrow, face.lips], w, h, 3 * c.s);
  const skin = skinTone(c, features);
  if (!skin) return;
  const area = skinArea(mats, c, skin, size);
  const shade = shadeBand(mats, c, area, skin, size);
  const lit = regions.palette.length;
  regions.skin = lit;
  regions.paletteLab.push(skinLit(skin), skinShade(skin));
  regions.palette.push(...labToRgb(mats, [skinLit(skin), skinShade(skin)]));
  for (let i = 0; i < area.length; i++) {
    if (!area[i]) continue;
    const x = i % c.w;
    regions.label[(box.y + (i - x) / c.w) * regions.w + box.x + x] = lit + shade[i]!;
  }
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The part of the image the face stage works in: the oval, grown sideways (ears) and down (neck). */
function faceBox(face: FaceFeatures, w: number, h: number): Box {
  const xs = face.oval.map((p) => p.x);
  const ys = face.oval.map((p) => p.y);
  const size = faceSize(face.oval);
  const x0 = Math.max(0, Math.floor(Math.min(...xs) - 0.35 * size));
  const y0 = Math.max(0, Math.floor(Math.min(...ys) - 0.1 * size));
  const x1 = Math.min(w, Math.ceil(Math.max(...xs) + 0.35 * size));
  const y1 = Math.min(h, Math.ceil(Math.max(...ys) + 0.8 * size));
  return { x: x0, y: y0, w: Math.max(1, x1 - x0), h: Math.max(1, y1 - y0) };
}

type Pixels = Uint8Array | Float32Array;

/** Crops of full-image arrays (any number of channels) and the face moved into the crop's coordinates. */
function inBox<T extends Record<string, Pixels>>(box: Box, face: FaceFeatures, arrays: T, width: number, height: number): T & { face: FaceFeatures; w: number; h: number } {
  const out: Record<string, Pixels> = {};
  for (const [key, src] of Object.entries(arrays)) {
    const k = src.length / (width * height); // channels per pixel
    const dst = new (src.constructor as new (n: number) => Pixels)(box.w * box.h * k);
    for (let y = 0; y < box.h; y++) dst.set(src.subarray(((box.y + y) * width + box.x) * k, ((box.y + y) * width + box.x + box.w) * k), y * box.w * k);
    out[key] = dst;
  }
  const move = (p: Point): Point => ({ x: p.x - box.x, y: p.y - box.y });
  const moved = Object.fromEntries(Object.entries(face).map(([k, pts]) => [k, (pts as Point[]).map(move)])) as unknown as FaceFeatures;
  return { ...(out as T), face: moved, w: box.w, h: box.h };
}

/** Writes a crop back into its full-image array. */
function paste(dst: Pixels, crop: Pixels, box: Box, width: number): void {
  const k = crop.length / (box.w * box.h);
  for (let y = 0; y < box.h; y++) dst.set(crop.subarray(y * box.w * k, (y + 1) * box.w * k), ((box.y + y) * width + box.x) * k);
}

/** Eyes, brows and mouth drawn as clean shapes from the face-mesh outlines, and a jaw line. */
function drawFeatures(mats: Mats, c: FaceCanvas): void {
  const { face } = c;
  const size = faceSize(face.oval);
  // In a three-quarter or profile view the far eye is foreshortened and the mesh unreliable
  // there: its eye and brow are left as the general treatment drew them.
  const widths = [face.leftEye, face.rightEye].map(extent);
  const sides: [Point[], Point[], number][] = [
    [face.leftEye, face.leftBrow, widths[0]!],
    [face.rightEye, face.rightBrow, widths[1]!],
  ];
  for (const [eye, brow, width] of sides) {
    if (width < 0.6 * Math.max(...widths)) continue;
    drawBrow(mats, c, brow, size);
    drawEye(mats, c, eye, size);
  }
  drawMouth(mats, c, size);
  drawJaw(mats, c, size);
}

/** A 0–1 coverage mask of filled polygons (antialiased), optionally grown by `grow` pixels. */
function polygonCoverage(mats: Mats, polygons: Point[][], w: number, h: number, grow = 0): Float32Array {
  const { cv } = mats;
  const img = mats.mat(h, w, cv.CV_8UC1);
  img.data.fill(0);
  const shapes = polygons.filter((p) => p.length >= 3);
  if (shapes.length) {
    const vec = polygonVector(mats, shapes);
    cv.fillPoly(img, vec, new cv.Scalar(255), cv.LINE_AA, SHIFT);
    if (grow > 0) {
      const disk = mats.keep(cv.getStructuringElement(cv.MORPH_ELLIPSE, new cv.Size(odd(2 * grow), odd(2 * grow))));
      cv.dilate(img, img, disk);
    }
  }
  return unit(img.data);
}

/** Polygons as OpenCV point lists, in fixed point (SHIFT fractional bits) for subpixel drawing. */
const SHIFT = 4;
function polygonVector(mats: Mats, polygons: Point[][]) {
  const { cv } = mats;
  const vec = mats.keep(new cv.MatVector());
  for (const p of polygons) {
    const m = cv.matFromArray(p.length, 1, cv.CV_32SC2, p.flatMap((q) => [Math.round(q.x * (1 << SHIFT)), Math.round(q.y * (1 << SHIFT))]));
    vec.push_back(m);
    m.delete();
  }
  return vec;
}

/** Horizontal extent of an outline. */
const extent = (p: Point[]) => (p.length ? Math.max(...p.map((q) => q.x)) - Math.min(...p.map((q) => q.x)) : 0);
const faceSize = (oval: Point[]) => Math.max(1, extent(oval));

/**
 * One skin tone, robustly: the Lab median of the face oval minus eyes, brows and lips, then the
 * mean of the pixels near that median (glasses, hair over the forehead and shadows fall out).
 */
function skinTone(c: FaceInput, features: Float32Array): Rgb | undefined {
  const picks: number[] = [];
  for (let i = 0; i < c.oval.length; i++) if (c.oval[i]! > 0.99 && features[i]! < 0.01 && c.inside[i]) picks.push(i);
  if (picks.length < 50) return undefined;
  const median = [0, 1, 2].map((k) => {
    const v = picks.map((i) => c.lab[i * 3 + k]!).sort((a, b) => a - b);
    return v[v.length >> 1]!;
  }) as Rgb;
  const sum = [0, 0, 0, 0];
  for (const i of picks) {
    const p: Rgb = [c.lab[i * 3]!, c.lab[i * 3 + 1]!, c.lab[i * 3 + 2]!];
    if (dist2(p, median) > 22 * 22) continue;
    sum[0]! += p[0];
    sum[1]! += p[1];
    sum[2]! += p[2];
    sum[3]! += 1;
  }
  const n = Math.max(1, sum[3]!);
  return [sum[0]! / n, sum[1]! / n, sum[2]! / n];
}

/**
 * Where the flat skin goes: the middle of the face always (between and around eyes and mouth),
 * and elsewhere in the oval or just around it (neck, ears, forehead) the pixels whose colour
 * is close to the skin tone — so bangs over the forehead stay hair. Smoothed into a clean shape.
 */
function skinArea(mats: Mats, c: FaceInput, skin: Rgb, size: number): Uint8Array {
  const { face, w, h, s } = c;
  const core = polygonCoverage(mats, [hull([...face.leftEye, ...face.rightEye, ...face.lips].map((p) => p)).map(grownFrom(centroid(face.oval), 1.25))], w, h);
  const xs = face.oval.map((p) => p.x);
  const ys = face.oval.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs) - 0.2 * size, Math.max(...xs) + 0.2 * size];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys) + 0.7 * size];
  const on = new Uint8Array(w * h);
  for (let i = 0; i < on.length; i++) {
    if (!c.inside[i]) continue;
    if (core[i]! > 0.5 && c.oval[i]! > 0.5) {
      on[i] = 1;
      continue;
    }
    const x = i % w;
    const y = (i - x) / w;
    if (x < x0 || x > x1 || y < y0 || y > y1) continue;
    const L = c.lab[i * 3]!;
    const chroma = Math.hypot(c.lab[i * 3 + 1]! - skin[1], c.lab[i * 3 + 2]! - skin[2]);
    if (chroma < 14 && L > skin[0] - 70 && L < skin[0] + 35) on[i] = 1;
  }
  const soft = blurMask(mats, on, w, h, 3 * s);
  for (let i = 0; i < on.length; i++) on[i] = soft[i]! > 0.5 && c.inside[i] ? 1 : 0;
  dropSmall(mats, on, w, h, 0.02 * size * size);
  fillHoles(mats, on, w, h);
  for (let i = 0; i < on.length; i++) on[i] = on[i]! & c.inside[i]!;
  return on;
}

const grownFrom = (o: Point, k: number) => (q: Point): Point => ({ x: o.x + (q.x - o.x) * k, y: o.y + (q.y - o.y) * k });

/** Convex hull (monotone chain). */
function hull(points: Point[]): Point[] {
  const p = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  if (p.length < 3) return p;
  const cross = (o: Point, a: Point, b: Point) => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
  const half = (pts: Point[]) => {
    const out: Point[] = [];
    for (const q of pts) {
      while (out.length >= 2 && cross(out[out.length - 2]!, out[out.length - 1]!, q) <= 0) out.pop();
      out.push(q);
    }
    out.pop();
    return out;
  };
  return [...half(p), ...half([...p].reverse())];
}

/**
 * At most one shade band on the skin: the large-scale lightness (the light falling on the face,
 * not its texture) well below the skin's level; smoothed, and only kept as a sizeable shape.
 */
function shadeBand(mats: Mats, c: FaceInput, area: Uint8Array, skin: Rgb, size: number): Uint8Array {
  const { w, h } = c;
  const light = lighting(mats, c.lab, w, h, size / 16);
  const band = new Uint8Array(area.length);
  for (let i = 0; i < area.length; i++) band[i] = area[i] && light[i]! < skin[0] - 28 ? 1 : 0;
  dropSmall(mats, band, w, h, 0.03 * size * size);
  const soft = blurMask(mats, band, w, h, 4 * c.s);
  for (let i = 0; i < band.length; i++) band[i] = soft[i]! > 0.5 ? 1 : 0;
  return band;
}

/** A 0/1 mask blurred (smooth edges), returned as 0–1 coverage. */
function blurMask(mats: Mats, on: Uint8Array, w: number, h: number, sigma: number): Float32Array {
  const { cv } = mats;
  const src = mats.mat(h, w, cv.CV_8UC1, scaled8(on, 255));
  const dst = mats.mat(1, 1, cv.CV_8UC1);
  cv.GaussianBlur(src, dst, new cv.Size(0, 0), sigma);
  return unit(dst.data);
}

/** Skin keeps its own hue: a gentle chroma boost only (a strong one turns it orange). */
const skinLit = (skin: Rgb): Rgb => friendly([skin[0] + 14, skin[1], skin[2]], 0.9);
const skinShade = (skin: Rgb): Rgb => friendly([skin[0] - 12, skin[1] + 4, skin[2] + 1], 1.0);

/** Blends colour `t` into pixel `i` with weight `a`. */
function mix(rgb: Uint8Array, i: number, t: Rgb, a: number): void {
  for (let k = 0; k < 3; k++) rgb[i * 3 + k] = Math.round(rgb[i * 3 + k]! * (1 - a) + t[k]! * a);
}

/** Fills polygons with colour `t` (antialiased). */
function fillShape(mats: Mats, c: FaceCanvas, polygons: Point[][], t: Rgb): Float32Array {
  const cov = polygonCoverage(mats, polygons, c.w, c.h);
  for (let i = 0; i < cov.length; i++) if (cov[i]! > 0) mix(c.colours, i, t, cov[i]!);
  return cov;
}

/** Adds a polygon's outline (or an open polyline) to the ink layer, `r` its half-width. */
function inkPolygon(mats: Mats, c: FaceCanvas, p: Point[], r: number, open = false, opacity = 1): void {
  const { cv } = mats;
  if (p.length < 2) return;
  const img = mats.mat(c.h, c.w, cv.CV_8UC1);
  img.data.fill(0);
  const vec = mats.keep(new cv.MatVector());
  const m = cv.matFromArray(p.length, 1, cv.CV_32SC2, p.flatMap((q) => [Math.round(q.x * 16), Math.round(q.y * 16)]));
  vec.push_back(m);
  m.delete();
  cv.polylines(img, vec, !open, new cv.Scalar(255), Math.max(1, Math.round(2 * r)), cv.LINE_AA, 4);
  const line = img.data;
  for (let i = 0; i < c.ink.length; i++) if (line[i]) c.ink[i] = Math.max(c.ink[i]!, (line[i]! / 255) * opacity);
}

const centroid = (p: Point[]): Point => ({ x: p.reduce((a, q) => a + q.x, 0) / p.length, y: p.reduce((a, q) => a + q.y, 0) / p.length });
const scaled = (p: Point[], k: number): Point[] => {
  const o = centroid(p);
  return p.map((q) => ({ x: o.x + (q.x - o.x) * k, y: o.y + (q.y - o.y) * k }));
};
const area = (p: Point[]) => Math.abs(p.reduce((a, q, i) => a + q.x * p[(i + 1) % p.length]!.y - p[(i + 1) % p.length]!.x * q.y, 0)) / 2;

/** A brow as one dark, tidy stroke in the hair's own colour (darkened), a little slimmer than the mesh's. */
function drawBrow(mats: Mats, c: FaceCanvas, brow: Point[], size: number): void {
  if (brow.length < 3) return;
  const o = centroid(brow);
  const shape = brow.map((q) => ({ x: o.x + (q.x - o.x) * 1.04, y: o.y + (q.y - o.y) * 0.75 }));
  const hair = meanLab(c, polygonCoverage(mats, [shape], c.w, c.h));
  const colour = labToRgb(mats, [friendly([Math.min(hair[0] * 0.55, 70), hair[1], hair[2]], 1.3)])[0]!;
  fillShape(mats, c, [shape], colour);
  inkPolygon(mats, c, shape, Math.max(0.8, size * 0.004));
}

/** Mean Lab colour of the photo under a coverage mask. */
function meanLab(c: FaceInput, cov: Float32Array): Rgb {
  const sum = [0, 0, 0, 0];
  for (let i = 0; i < cov.length; i++) {
    const a = cov[i]!;
    if (a < 0.5) continue;
    for (let k = 0; k < 3; k++) sum[k]! += c.lab[i * 3 + k]!;
    sum[3]! += 1;
  }
  const n = Math.max(1, sum[3]!);
  return sum[3] ? [sum[0]! / n, sum[1]! / n, sum[2]! / n] : [80, 130, 135];
}

/**
 * An eye: the opening as a white shape, a dark iris (the photo's, where it is found) with a
 * pupil and a small highlight, clipped to the opening, then outlined — the upper lid heavier.
 */
function drawEye(mats: Mats, c: FaceCanvas, eye: Point[], size: number): void {
  if (eye.length < 4) return;
  const shape = scaled(eye, 1.12);
  const xs = shape.map((p) => p.x);
  const width = Math.max(...xs) - Math.min(...xs);
  const height = area(shape) / Math.max(1, width) * 1.3;
  if (height < width * 0.12) {
    inkPolygon(mats, c, shape, Math.max(1.2, size * 0.008), false);
    return;
  }
  const opening = fillShape(mats, c, [shape], [250, 248, 244]);
  const iris = findIris(c, opening);
  const r = Math.min(width * 0.27, height * 0.62);
  const irisColour = labToRgb(mats, [[Math.min(iris.L, 90), 128 + (iris.a - 128) * 1.4, 128 + (iris.b - 128) * 1.4]])[0]!;
  disc(c, opening, iris.at, r, irisColour);
  disc(c, opening, iris.at, r * 0.5, [20, 16, 22]);
  disc(c, opening, { x: iris.at.x + r * 0.35, y: iris.at.y - r * 0.38 }, Math.max(1.2, r * 0.28), [255, 255, 255]);
  inkPolygon(mats, c, shape, Math.max(1, size * 0.006), false);
  const left = shape.reduce((a, p) => (p.x < a.x ? p : a));
  const right = shape.reduce((a, p) => (p.x > a.x ? p : a));
  const upper = shape.filter((p) => p.y <= left.y + ((right.y - left.y) * (p.x - left.x)) / Math.max(1, right.x - left.x));
  inkPolygon(mats, c, upper.sort((a, b) => a.x - b.x), Math.max(1.5, size * 0.011), true);
}

/** The iris centre (the darkest part of the opening) and its Lab colour. */
function findIris(c: FaceCanvas, opening: Float32Array): { at: Point; L: number; a: number; b: number } {
  const inner: number[] = [];
  for (let i = 0; i < opening.length; i++) if (opening[i]! > 0.9) inner.push(i);
  const byL = inner.sort((p, q) => c.lab[p * 3]! - c.lab[q * 3]!).slice(0, Math.max(1, Math.floor(inner.length * 0.3)));
  const at = { x: 0, y: 0 };
  const sum = [0, 0, 0];
  for (const i of byL) {
    at.x += i % c.w;
    at.y += Math.floor(i / c.w);
    for (let k = 0; k < 3; k++) sum[k]! += c.lab[i * 3 + k]!;
  }
  const n = Math.max(1, byL.length);
  return { at: { x: at.x / n, y: at.y / n }, L: sum[0]! / n, a: sum[1]! / n, b: sum[2]! / n };
}

/** A filled circle (antialiased), clipped to `clip`. */
function disc(c: FaceCanvas, clip: Float32Array, o: Point, r: number, t: Rgb): void {
  const x0 = Math.max(0, Math.floor(o.x - r - 1));
  const x1 = Math.min(c.w - 1, Math.ceil(o.x + r + 1));
  const y0 = Math.max(0, Math.floor(o.y - r - 1));
  const y1 = Math.min(c.h - 1, Math.ceil(o.y + r + 1));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const i = y * c.w + x;
      const a = Math.max(0, Math.min(1, r + 0.5 - Math.hypot(x - o.x, y - o.y))) * clip[i]!;
      if (a > 0) mix(c.colours, i, t, a);
    }
  }
}

/**
 * The mouth: the lips as one flat rosy shape; an open mouth filled white where the photo shows
 * teeth and dark otherwise; the line between the lips (or the opening) inked.
 */
function drawMouth(mats: Mats, c: FaceCanvas, size: number): void {
  const { lips, mouth } = c.face;
  if (lips.length < 3) return;
  const lip = meanLab(c, polygonCoverage(mats, [lips], c.w, c.h));
  const rosy = labToRgb(mats, [friendly([Math.min(lip[0], 165), Math.max(lip[1], 160), lip[2]], 1.25)])[0]!;
  fillShape(mats, c, [lips], rosy);
  inkPolygon(mats, c, lips, Math.max(0.7, size * 0.0035), false, 0.7);
  if (mouth.length < 3) return;
  if (area(mouth) > 0.08 * area(lips)) {
    const inner = meanLab(c, polygonCoverage(mats, [mouth], c.w, c.h));
    fillShape(mats, c, [mouth], inner[0] > 140 ? [252, 250, 244] : [86, 30, 42]);
  }
  inkPolygon(mats, c, mouth, Math.max(1, size * 0.007));
}

/** The jaw: the lower part of the face oval, where the chin meets the (same-coloured) neck. */
function drawJaw(mats: Mats, c: FaceCanvas, size: number): void {
  const { oval, lips } = c.face;
  if (lips.length < 3) return;
  const below = centroid(lips).y;
  const start = oval.findIndex((p) => p.y < below);
  if (start < 0) return;
  // The oval is closed: walk it from a point above the mouth so the part below is one run.
  const walk = [...oval.slice(start), ...oval.slice(0, start)];
  const jaw = walk.filter((p) => p.y >= below);
  inkPolygon(mats, c, jaw, Math.max(1, size * 0.006), true);
}

// ---------------------------------------------------------------------------------------------
// Outline and output

/**
 * The sticker outline: a dark band of constant width around the silhouette, from the distance
 * to the subject (a round brush, so corners are rounded and the edge smooth), opaque except the
 * outermost pixel, which is antialiased. Ink is laid over the flat colours.
 */
function compose(mats: Mats, colours: Uint8Array, ink: Float32Array, silhouette: Silhouette, w: number, h: number): Raster {
  const { cv } = mats;
  const n = w * h;
  const outside = mats.mat(h, w, cv.CV_8UC1, scaled8(silhouette.inside, -255, 255));
  const dist = mats.mat(1, 1, cv.CV_32F);
  cv.distanceTransform(outside, dist, cv.DIST_L2, cv.DIST_MASK_PRECISE);
  const d = dist.data32F;
  const width = OUTLINE * Math.max(w, h);
  const out = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    const outline = Math.max(0, Math.min(1, width + 0.5 - d[i]!));
    const cov = silhouette.coverage[i]!;
    const alpha = Math.max(outline, cov);
    if (alpha <= 0) continue;
    const k = ink[i]!;
    for (let ch = 0; ch < 3; ch++) {
      const colour = colours[i * 3 + ch]! * (1 - k) + INK[ch]! * k;
      out[i * 4 + ch] = Math.round(INK[ch]! * (1 - cov) + colour * cov);
    }
    out[i * 4 + 3] = Math.round(alpha * 255);
  }
  return { rgba: out, width: w, height: h };
}
