/**
 * The local cartoon look (src/models/local/toon.ts): on synthetic subjects with known geometry,
 * and on a real photo cut out by the local background removal (and its face found by the local
 * face mesh) — the output keeps the input's size and coordinates, the background stays clear, a
 * dark opaque outline surrounds the silhouette, the colours are a few flat regions, and skin in
 * the face oval is one or two tones.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FaceFeatures, Point } from '../../src/models/local/figure.js';
import { opencv } from '../../src/models/local/opencv.js';
import { toonify, type Raster } from '../../src/models/local/toon.js';

const PHOTOS = path.resolve(import.meta.dirname, '../fixtures/photos');

// ---- helpers ---------------------------------------------------------------------------------

/** A deterministic pseudo-random sequence (photo-like noise without Math.random). */
function noise(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) / 0xffffffff) * 2 - 1;
  };
}

const luma = (r: Raster, i: number) => 0.299 * r.rgba[i * 4]! + 0.587 * r.rgba[i * 4 + 1]! + 0.114 * r.rgba[i * 4 + 2]!;
const alphaAt = (r: Raster, x: number, y: number) => r.rgba[(Math.round(y) * r.width + Math.round(x)) * 4 + 3]!;

/** How many distinct colours it takes to cover `share` of the selected pixels (flat art needs few). */
function coloursCovering(r: Raster, select: (i: number) => boolean, share = 0.95): number {
  const counts = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < r.width * r.height; i++) {
    if (!select(i)) continue;
    const key = (r.rgba[i * 4]! << 16) | (r.rgba[i * 4 + 1]! << 8) | r.rgba[i * 4 + 2]!;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    total++;
  }
  const sorted = [...counts.values()].sort((a, b) => b - a);
  let covered = 0;
  for (let k = 0; k < sorted.length; k++) {
    covered += sorted[k]!;
    if (covered >= share * total) return k + 1;
  }
  return sorted.length;
}

/** Share of the selected pixels whose right-hand neighbour has exactly the same colour. */
function flatness(r: Raster, select: (i: number) => boolean): number {
  let same = 0;
  let total = 0;
  for (let i = 0; i < r.width * r.height - 1; i++) {
    if (!select(i) || !select(i + 1)) continue;
    total++;
    if (r.rgba.readUIntBE(i * 4, 3) === r.rgba.readUIntBE(i * 4 + 4, 3)) same++;
  }
  return same / Math.max(1, total);
}

function insidePolygon(p: Point[], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = p.length - 1; i < p.length; j = i++) {
    const [a, b] = [p[i]!, p[j]!];
    if (a.y > y !== b.y > y && x < ((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

const ellipse = (cx: number, cy: number, rx: number, ry: number, n = 24): Point[] =>
  Array.from({ length: n }, (_, k) => ({ x: cx + rx * Math.cos((2 * Math.PI * k) / n), y: cy + ry * Math.sin((2 * Math.PI * k) / n) }));

/** Distance from (x, y) to the nearest point of a polygon's outline. */
function distanceToOutline(p: Point[], x: number, y: number): number {
  let best = Infinity;
  for (let i = 0; i < p.length; i++) {
    const [a, b] = [p[i]!, p[(i + 1) % p.length]!];
    const [dx, dy] = [b.x - a.x, b.y - a.y];
    const t = Math.max(0, Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / (dx * dx + dy * dy || 1)));
    best = Math.min(best, Math.hypot(x - a.x - t * dx, y - a.y - t * dy));
  }
  return best;
}

/**
 * A photo-like subject: a round body with a lighting gradient, a patch of a second colour and
 * pixel noise, on a transparent canvas; its matte has a soft edge, a pinhole and a stray speck.
 */
function syntheticSubject(size = 240): { raster: Raster; cx: number; cy: number; r: number } {
  const rnd = noise(7);
  const rgba = Buffer.alloc(size * size * 4);
  const [cx, cy, r] = [size / 2, size / 2, size * 0.3];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      const d = Math.hypot(x - cx, y - cy);
      const light = 1 - (0.35 * (x - cx + r)) / (2 * r); // lit from the left
      const patch = Math.abs(x - cx - 10) < 18 && Math.abs(y - cy + 12) < 14;
      const base = patch ? [60, 90, 200] : [220, 120, 60];
      for (let c = 0; c < 3; c++) rgba[i + c] = Math.max(0, Math.min(255, base[c]! * light + rnd() * 22));
      rgba[i + 3] = Math.max(0, Math.min(255, (r - d) * 128 + 128)); // about one pixel of soft edge
    }
  }
  // A 3-px pinhole inside and a 3-px speck well outside (in the margin the outline would fill).
  for (const [x0, y0, a] of [
    [cx - 20, cy + 25, 0],
    [size - 14, 12, 255],
  ] as const) {
    for (let y = y0; y < y0 + 3; y++) for (let x = x0; x < x0 + 3; x++) rgba[(y * size + x) * 4 + 3] = a;
  }
  return { raster: { rgba, width: size, height: size }, cx, cy, r };
}

/** A skin-coloured face with texture and a shadowed side, and its features as polygons. */
function syntheticFace(size = 320): { raster: Raster; face: FaceFeatures } {
  const rnd = noise(11);
  const [cx, cy] = [size / 2, size / 2];
  const face: FaceFeatures = {
    oval: ellipse(cx, cy, size * 0.28, size * 0.36, 36),
    leftEye: ellipse(cx + size * 0.11, cy - size * 0.06, size * 0.055, size * 0.025, 16),
    rightEye: ellipse(cx - size * 0.11, cy - size * 0.06, size * 0.055, size * 0.025, 16),
    leftBrow: ellipse(cx + size * 0.11, cy - size * 0.13, size * 0.065, size * 0.014, 14),
    rightBrow: ellipse(cx - size * 0.11, cy - size * 0.13, size * 0.065, size * 0.014, 14),
    lips: ellipse(cx, cy + size * 0.17, size * 0.08, size * 0.03, 20),
    mouth: ellipse(cx, cy + size * 0.17, size * 0.06, size * 0.004, 20),
  };
  const rgba = Buffer.alloc(size * size * 4);
  const body = ellipse(cx, cy + size * 0.05, size * 0.36, size * 0.42, 48);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      if (!insidePolygon(body, x, y)) continue;
      let c = [70, 45, 30]; // hair around the face
      if (insidePolygon(face.oval, x, y)) {
        const shadow = x < cx - size * 0.12 ? 0.8 : 1; // one side in shadow
        const blotch = Math.sin(x * 0.21) * Math.sin(y * 0.17) * 14; // uneven skin
        c = [232, 180, 150].map((v) => v * shadow + blotch);
        if (insidePolygon(face.leftEye, x, y) || insidePolygon(face.rightEye, x, y)) c = [200, 190, 185];
        if (insidePolygon(face.leftBrow, x, y) || insidePolygon(face.rightBrow, x, y)) c = [90, 60, 40];
        if (insidePolygon(face.lips, x, y)) c = [190, 100, 100];
      }
      for (let k = 0; k < 3; k++) rgba[i + k] = Math.max(0, Math.min(255, c[k]! + rnd() * 18));
      rgba[i + 3] = 255;
    }
  }
  return { raster: { rgba, width: size, height: size }, face };
}

/** Skin pixels of the face: inside the oval, clear of its edge and of the eyes, brows and lips. */
function skinSelector(r: Raster, face: FaceFeatures, margin: number) {
  const features = [face.leftEye, face.rightEye, face.leftBrow, face.rightBrow, face.lips];
  return (i: number) => {
    const [x, y] = [i % r.width, Math.floor(i / r.width)];
    if (!insidePolygon(face.oval, x, y) || distanceToOutline(face.oval, x, y) < margin) return false;
    return !features.some((f) => insidePolygon(f, x, y) || distanceToOutline(f, x, y) < margin);
  };
}

// ---- synthetic subjects ----------------------------------------------------------------------

describe('toonify on a synthetic subject', () => {
  const { raster, cx, cy, r } = syntheticSubject();
  const outline = 0.025 * raster.width; // the outline's width: 2.5 % of the longer side
  let out: Raster;
  beforeAll(async () => {
    out = await toonify(raster);
  });

  it('keeps the size and leaves the background transparent', () => {
    expect([out.width, out.height, out.rgba.length]).toEqual([raster.width, raster.height, raster.rgba.length]);
    let stray = 0;
    for (let y = 0; y < out.height; y++) {
      for (let x = 0; x < out.width; x++) if (Math.hypot(x - cx, y - cy) > r + outline + 2 && alphaAt(out, x, y) > 0) stray++;
    }
    expect(stray).toBe(0); // the stray speck in the margin is gone too
  });

  it('surrounds the silhouette with a dark, opaque, smooth outline of the expected width', () => {
    for (let k = 0; k < 72; k++) {
      const a = (2 * Math.PI * k) / 72;
      const at = (d: number) => [cx + (r + d) * Math.cos(a), cy + (r + d) * Math.sin(a)] as const;
      const [x, y] = at(outline / 2);
      const i = Math.round(y) * out.width + Math.round(x);
      expect(alphaAt(out, x, y)).toBe(255);
      expect(luma(out, i)).toBeLessThan(60);
      expect(alphaAt(out, ...at(outline + 1.5))).toBe(0); // no wider than the outline
    }
  });

  it('has hard alpha: only the outermost pixel is partly transparent', () => {
    const { width: w, height: h } = out;
    for (let y = 1; y < h - 1; y++) {
      for (let x = 1; x < w - 1; x++) {
        const a = alphaAt(out, x, y);
        if (a === 0 || a === 255) continue;
        const clearNear = [-1, 0, 1].some((dy) => [-1, 0, 1].some((dx) => alphaAt(out, x + dx, y + dy) === 0));
        expect(clearNear).toBe(true);
      }
    }
  });

  it('fills matte pinholes', () => {
    expect(alphaAt(out, cx - 19, cy + 26)).toBe(255);
  });

  it('flattens the subject into a few colours, where the photo has hundreds', () => {
    const body = (i: number) => Math.hypot((i % raster.width) - cx, Math.floor(i / raster.width) - cy) < r - 4;
    const photo = coloursCovering(raster, body);
    // 90 %: region borders are antialiased, and those blended pixels are not regions.
    const toon = coloursCovering(out, body, 0.9);
    expect(photo).toBeGreaterThan(1000);
    expect(toon).toBeLessThanOrEqual(8);
    // …and the second colour survives as its own region (the clustering is not one flat blob).
    const patch = out.rgba.subarray(((cy - 12) * out.width + cx + 10) * 4, ((cy - 12) * out.width + cx + 10) * 4 + 3);
    expect(patch[2]!).toBeGreaterThan(patch[0]! + 60);
  });

  it('frees its OpenCV memory: the wasm heap does not grow over repeated calls', async () => {
    const cv = (await opencv()) as unknown as { HEAPU8: Uint8Array };
    await toonify(raster);
    const before = cv.HEAPU8.length;
    for (let k = 0; k < 8; k++) await toonify(raster);
    expect(cv.HEAPU8.length).toBe(before);
  });
});

describe('toonify with face features', () => {
  const { raster, face } = syntheticFace();
  let drawn: Raster;
  beforeAll(async () => {
    drawn = await toonify(raster, face);
  });

  it('paints the skin in the oval as one or two flat tones', () => {
    const skin = skinSelector(raster, face, 6);
    expect(coloursCovering(raster, skin)).toBeGreaterThan(500);
    // 90 %: the border between the two tones is antialiased.
    expect(coloursCovering(drawn, skin, 0.9)).toBeLessThanOrEqual(2);
    expect(flatness(drawn, skin)).toBeGreaterThan(0.9);
  });

  it('draws each eye as a white opening with a dark pupil', () => {
    for (const eye of [face.leftEye, face.rightEye]) {
      const inEye: number[] = [];
      for (let i = 0; i < drawn.width * drawn.height; i++) if (insidePolygon(eye, i % drawn.width, Math.floor(i / drawn.width))) inEye.push(i);
      const lumas = inEye.map((i) => luma(drawn, i));
      expect(lumas.filter((v) => v > 235).length).toBeGreaterThan(inEye.length * 0.15); // white of the eye
      expect(lumas.filter((v) => v < 50).length).toBeGreaterThan(inEye.length * 0.08); // pupil / lid line
    }
  });
});

// ---- a real photo ----------------------------------------------------------------------------

describe('toonify on a real photo', () => {
  let photo: Raster;
  let out: Raster;
  let withFace: Raster;
  let face: FaceFeatures | undefined;
  beforeAll(async () => {
    const { removeBackground } = await import('../../src/models/local/background.js');
    const { detectFigure } = await import('../../src/models/local/detect.js');
    const source = await sharp(await readFile(path.join(PHOTOS, 'astronaut.png'))).resize(640, 640, { fit: 'inside' }).png().toBuffer();
    // The caller's framing: the cut-out with a transparent margin (here 6 %) for the outline.
    const cut = await sharp(await removeBackground(source))
      .extend({ top: 40, bottom: 40, left: 40, right: 40, background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    photo = { rgba: cut.data, width: cut.info.width, height: cut.info.height };
    const png = await sharp(cut.data, { raw: { width: photo.width, height: photo.height, channels: 4 } }).png().toBuffer();
    face = (await detectFigure(png, 'bust'))?.face;
    out = await toonify(photo);
    withFace = face ? await toonify(photo, face) : out;
  }, 180_000);

  it('keeps the size and clears the background around the outline', () => {
    expect([out.width, out.height]).toEqual([photo.width, photo.height]);
    for (const [x, y] of [
      [0, 0],
      [out.width - 1, 0],
      [2, out.height - 3],
    ] as const) {
      expect(alphaAt(out, x, y)).toBe(0);
    }
    // Everything opaque lies within the outline's reach of the matte.
    let far = 0;
    const reach = Math.ceil(0.025 * Math.max(out.width, out.height)) + 3;
    for (let y = 0; y < out.height; y += 3) {
      for (let x = 0; x < out.width; x += 3) {
        if (!alphaAt(out, x, y)) continue;
        let near = false;
        for (let dy = -reach; dy <= reach && !near; dy += 2) {
          for (let dx = -reach; dx <= reach && !near; dx += 2) {
            const [u, v] = [x + dx, y + dy];
            if (u >= 0 && v >= 0 && u < out.width && v < out.height && photo.rgba[(v * out.width + u) * 4 + 3]! > 0) near = true;
          }
        }
        if (!near) far++;
      }
    }
    expect(far).toBe(0);
  });

  it('rims the silhouette with the dark opaque outline', () => {
    let rim = 0;
    let dark = 0;
    for (let y = 2; y < out.height - 2; y++) {
      for (let x = 2; x < out.width - 2; x++) {
        // A rim pixel: opaque, two pixels in from a transparent one.
        if (alphaAt(out, x, y) !== 255 || alphaAt(out, x + 2, y) !== 0) continue;
        rim++;
        if (luma(out, y * out.width + x) < 60) dark++;
      }
    }
    expect(rim).toBeGreaterThan(50);
    expect(dark / rim).toBeGreaterThan(0.97);
  });

  it('is made of flat regions of a few colours', () => {
    const subject = (i: number) => photo.rgba[i * 4 + 3]! >= 250; // imgly's matte tops out at 254
    // (The fixture is a palette PNG, so the photo itself has few distinct colours: flatness —
    // the share of pixels equal to their neighbour — is what tells a cartoon from it.)
    expect(flatness(photo, subject)).toBeLessThan(0.5);
    expect(flatness(out, subject)).toBeGreaterThan(0.75); // region borders and ink are antialiased
    expect(coloursCovering(out, subject, 0.8)).toBeLessThan(Math.min(30, coloursCovering(photo, subject, 0.8) / 3));
  });

  it('finds the face and paints its skin flat', () => {
    expect(face).toBeDefined();
    const size = Math.max(...face!.oval.map((p) => p.x)) - Math.min(...face!.oval.map((p) => p.x));
    const skin = skinSelector(photo, face!, size * 0.06);
    // 85 %: the rest is the antialiased border between the two tones and the features' ink.
    const [before, plainToon, flat] = [coloursCovering(photo, skin, 0.85), coloursCovering(out, skin, 0.85), coloursCovering(withFace, skin, 0.85)];
    expect(flatness(photo, skin)).toBeLessThan(0.5);
    expect(flatness(withFace, skin)).toBeGreaterThan(0.85);
    expect(flat).toBeLessThanOrEqual(2);
    expect(flat).toBeLessThan(Math.min(before, plainToon));
  });
});
