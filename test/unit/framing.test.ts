/**
 * The local back end's reading of a photo: bust or full body from keypoint sets, the figure's
 * box, the one clear subject of a photo without a person, and the figure that travels inside the
 * cut-out's PNG.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readPngText, withPngText } from '../../src/media/png-text.js';
import { decideFraming, largestRegion, mergeKeypoints, personBox } from '../../src/models/local/analysis.js';
import { countedFaces, isPerson } from '../../src/models/local/detect.js';
import { attachFigure, figureOf, transformFigure, type BodyPart, type Figure, type Keypoint } from '../../src/models/local/figure.js';
import { keepSubject } from '../../src/models/local/stylize.js';

const kp = (part: BodyPart, x: number, y: number, score = 0.8): Keypoint => ({ part, x, y, score });
/** A person facing the camera in a 400×1000 photo: head at the top, feet near the bottom. */
const head = [kp('nose', 200, 100), kp('leftEye', 215, 90), kp('rightEye', 185, 90), kp('leftEar', 235, 100), kp('rightEar', 165, 100)];
const shoulders = [kp('leftShoulder', 260, 200), kp('rightShoulder', 140, 200)];
const arms = [kp('leftElbow', 280, 330), kp('rightElbow', 120, 330), kp('leftWrist', 285, 450), kp('rightWrist', 115, 450)];
const hips = [kp('leftHip', 235, 480), kp('rightHip', 165, 480)];
const knees = [kp('leftKnee', 230, 700), kp('rightKnee', 170, 700)];
const ankles = [kp('leftAnkle', 228, 900), kp('rightAnkle', 172, 900)];

describe('framing: bust or full body', () => {
  it('a person standing, ankles found: full body', () => {
    expect(decideFraming([...head, ...shoulders, ...arms, ...hips, ...knees, ...ankles], 1000)).toBe('full_body');
  });

  it('ankles missed (small figure, dark shoes) but knees well below the hips: full body', () => {
    expect(decideFraming([...head, ...shoulders, ...hips, ...knees], 1000)).toBe('full_body');
  });

  it('no knee found, but the photo goes on far below the hips (the thighs are in it): full body, never expanded', () => {
    expect(decideFraming([...head, ...shoulders, ...hips], 1000)).toBe('full_body');
  });

  it('head and shoulders only: a bust', () => {
    expect(decideFraming([...head, ...shoulders], 320)).toBe('bust');
  });

  it('down to the waist with the photo ending there: a bust', () => {
    expect(decideFraming([...head, ...shoulders, ...hips], 560)).toBe('bust');
  });

  it('a "knee" found at the hips (a false detection in a bust) does not make legs', () => {
    expect(decideFraming([...head, ...shoulders, ...hips, kp('leftKnee', 230, 500)], 560)).toBe('bust');
  });

  it('the more confident finding of each keypoint wins when two passes are merged', () => {
    const merged = mergeKeypoints([kp('leftKnee', 1, 1, 0.35), kp('nose', 5, 5, 0.9)], [kp('leftKnee', 2, 2, 0.7), kp('leftAnkle', 3, 3, 0.6)]);
    expect(Object.fromEntries(merged.map((k) => [k.part, k.x]))).toEqual({ leftKnee: 2, nose: 5, leftAnkle: 3 });
  });
});

describe('the figure box', () => {
  it('a full body reaches above the head and below the ankles (the feet), inside the photo', () => {
    const box = personBox([...head, ...shoulders, ...arms, ...hips, ...knees, ...ankles], undefined, 'full_body', 400, 1000);
    expect(box.top).toBeLessThan(90);
    expect(box.top + box.height).toBeGreaterThan(900);
    expect(box.top + box.height).toBeLessThanOrEqual(1000);
    expect(box.left).toBeLessThan(115);
    expect(box.left + box.width).toBeGreaterThan(285);
  });

  it('a bust runs to the bottom of the photo', () => {
    const box = personBox([...head, ...shoulders], { left: 160, top: 50, width: 80, height: 100 }, 'bust', 400, 320);
    expect(box.top + box.height).toBe(320);
    expect(box.top).toBeLessThan(50);
  });

  it('a person is a face, or a body MoveNet is sure of on its own (not the faint "body" it finds in a pagoda)', () => {
    const body = (score: number, parts: number) => ({
      score,
      box: [0, 0, 1, 1] as [number, number, number, number],
      keypoints: [...head, ...shoulders, ...arms, ...hips].slice(0, parts).map((k) => ({ part: k.part, score: 0.7, position: [k.x, k.y] as [number, number] })),
    });
    expect(isPerson([], body(0.85, 12))).toBe(true); // a small standing figure whose face is too small to find
    expect(isPerson([], body(0.51, 7))).toBe(false); // seen on a photo of a pagoda
    expect(isPerson([], body(0.9, 5))).toBe(false);
    expect(isPerson([{ boxScore: 0.9, box: [0, 0, 50, 50] }], undefined)).toBe(true);
  });

  it('small faces far behind the subject are not counted as more people', () => {
    const face = (x: number, size: number, score = 0.9) => ({ boxScore: score, box: [x, 10, size, size] as [number, number, number, number] });
    expect(countedFaces([face(0, 100), face(300, 20), face(500, 90, 0.2)])).toHaveLength(1);
    expect(countedFaces([face(0, 100), face(300, 80)])).toHaveLength(2);
  });
});

describe('one clear subject without a person', () => {
  const mask = (w: number, h: number, draw: (x: number, y: number) => boolean) => {
    const a = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) a[y * w + x] = draw(x, y) ? 255 : 0;
    return a;
  };

  it('a cat-shaped blob dominates: its box is the subject', () => {
    const m = largestRegion(mask(100, 80, (x, y) => (x - 50) ** 2 + (y - 40) ** 2 < 25 ** 2 || (x < 3 && y < 3)), 100, 80);
    expect(m.dominance).toBeGreaterThan(0.99);
    expect(m.box).toEqual({ left: 26, top: 16, width: 49, height: 49 });
    expect(m.coverage).toBeGreaterThan(0.2);
  });

  it('a texture leaves many small pieces: nothing dominates', () => {
    const m = largestRegion(mask(100, 100, (x, y) => x % 10 < 4 && y % 10 < 4), 100, 100);
    expect(m.dominance).toBeLessThan(0.05);
  });

  it('the cut-out keeps the subject and big parts of it, not a stray object', () => {
    const w = 60;
    const alpha = mask(w, 40, (x, y) => (x >= 5 && x < 30 && y >= 5 && y < 35) || (x >= 40 && x < 43 && y >= 5 && y < 8) || (x >= 33 && x < 45 && y >= 20 && y < 35));
    const kept = keepSubject(alpha, w, 40);
    expect(kept[10 * w + 10]).toBe(255); // the subject
    expect(kept[6 * w + 41]).toBe(0); // a speck of background
    expect(kept[25 * w + 38]).toBe(255); // a separated part a fifth of the subject's size or more
  });
});

describe('the figure inside the cut-out PNG', () => {
  const figure: Figure = {
    kind: 'person',
    framing: 'full_body',
    width: 40,
    height: 80,
    keypoints: [kp('nose', 20.04, 10.06, 0.912), kp('leftAnkle', 25, 75)],
    face: { oval: [{ x: 1, y: 2 }], leftEye: [], rightEye: [], leftBrow: [], rightBrow: [], lips: [], mouth: [] },
  };

  it('survives the trip with the pixels, and the image still decodes the same', async () => {
    const png = await sharp({ create: { width: 40, height: 80, channels: 4, background: '#3366ff' } }).png().toBuffer();
    const carried = attachFigure(png, figure);
    expect(figureOf(carried)).toMatchObject({ kind: 'person', framing: 'full_body', keypoints: [{ part: 'nose', x: 20, y: 10.1, score: 0.91 }, { part: 'leftAnkle' }] });
    const [a, b] = await Promise.all([sharp(png).raw().toBuffer(), sharp(carried).raw().toBuffer()]);
    expect(b.equals(a)).toBe(true);
    expect(figureOf(png)).toBeUndefined();
  });

  it('a second write replaces the first; text of any character survives; a forged or broken chunk is ignored', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 4, background: '#000' } }).png().toBuffer();
    const twice = withPngText(withPngText(png, 'k', 'one'), 'k', '"é ✓"');
    expect(JSON.parse(readPngText(twice, 'k')!)).toBe('é ✓');
    expect(figureOf(withPngText(png, 'stickerflow:figure', '{"kind":"person","keypoints":[{"part":"tail","x":1,"y":2}]}'))).toBeUndefined();
    expect(figureOf(withPngText(png, 'stickerflow:figure', 'not json'))).toBeUndefined();
    await expect(sharp(twice).metadata()).resolves.toMatchObject({ width: 4 });
  });

  it('moves with the image when it is scaled and shifted', () => {
    const moved = transformFigure(figure, 2, -10, 5, 70, 165);
    expect(moved.keypoints[1]).toMatchObject({ x: 40, y: 155 });
    expect(moved.face!.oval[0]).toEqual({ x: -8, y: 9 });
    expect(moved).toMatchObject({ width: 70, height: 165 });
  });
});
