import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { iou, normalizedMask as silhouette } from '../support/silhouette.js';
import { buildRig, renderFrame, renderFrames, stillPoints, type Rig } from '../../src/models/local/animate.js';
import type { BodyPart, Figure, Keypoint } from '../../src/models/local/figure.js';
import { apply, jointTransform } from '../../src/models/local/rig/geometry.js';
import { frameAt, WAVE } from '../../src/models/local/rig/motion.js';
import { boneIndex } from '../../src/models/local/rig/skeleton.js';
import { deform, foldedTriangles, worldTransforms } from '../../src/models/local/rig/skin.js';

type Xy = [number, number];

/** A flat cartoon person (240×400, thick outline) standing with its arms hanging, and its keypoints. */
async function stickPerson(o: { leftElbow?: Xy; leftWrist?: Xy; drop?: BodyPart[]; face?: boolean; height?: number } = {}): Promise<{ png: Buffer; figure: Figure }> {
  const pts: Record<BodyPart, Xy> = {
    nose: [120, 68], leftEye: [136, 56], rightEye: [104, 56], leftEar: [158, 62], rightEar: [82, 62],
    leftShoulder: [152, 118], rightShoulder: [88, 118], leftElbow: o.leftElbow ?? [182, 185], rightElbow: [58, 185],
    leftWrist: o.leftWrist ?? [192, 250], rightWrist: [48, 250], leftHip: [138, 245], rightHip: [102, 245],
    leftKnee: [143, 320], rightKnee: [97, 320], leftAnkle: [145, 385], rightAnkle: [95, 385],
  };
  const limb = (a: Xy, b: Xy, c: Xy, w: number, fill: string) =>
    `<polyline points="${a} ${b} ${c}" fill="none" stroke="#222" stroke-width="${w + 8}" stroke-linecap="round" stroke-linejoin="round"/>` +
    `<polyline points="${a} ${b} ${c}" fill="none" stroke="${fill}" stroke-width="${w}" stroke-linecap="round" stroke-linejoin="round"/>`;
  const height = o.height ?? 400;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="${height}">
  ${limb(pts.leftHip, pts.leftKnee, pts.leftAnkle, 26, '#3b5bdb')}${limb(pts.rightHip, pts.rightKnee, pts.rightAnkle, 26, '#3b5bdb')}
  <rect x="84" y="104" width="72" height="150" rx="22" fill="#e8590c" stroke="#222" stroke-width="4"/>
  ${limb(pts.rightShoulder, pts.rightElbow, pts.rightWrist, 20, '#e8590c')}${limb(pts.leftShoulder, pts.leftElbow, pts.leftWrist, 20, '#e8590c')}
  <circle cx="120" cy="58" r="42" fill="#f1c27d" stroke="#222" stroke-width="4"/>
  <ellipse cx="104" cy="56" rx="8" ry="6" fill="#fff" stroke="#222" stroke-width="2"/><circle cx="104" cy="56" r="3.5" fill="#222"/>
  <ellipse cx="136" cy="56" rx="8" ry="6" fill="#fff" stroke="#222" stroke-width="2"/><circle cx="136" cy="56" r="3.5" fill="#222"/>
</svg>`;
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  const keypoints: Keypoint[] = Object.entries(pts)
    .filter(([part, [, y]]) => !o.drop?.includes(part as BodyPart) && y < height)
    .map(([part, [x, y]]) => ({ part: part as BodyPart, x, y, score: 0.9 }));
  const ring = (cx: number, cy: number, rx: number, ry: number) => Array.from({ length: 16 }, (_, i) => ({ x: cx + rx * Math.cos((i / 16) * 2 * Math.PI), y: cy + ry * Math.sin((i / 16) * 2 * Math.PI) }));
  // The face mesh's outlines as a detector would give them: the eyes a little inside the drawn ones.
  const face = o.face ? { oval: ring(120, 58, 40, 40), leftEye: ring(136, 56, 7, 5), rightEye: ring(104, 56, 7, 5), leftBrow: ring(136, 42, 9, 2), rightBrow: ring(104, 42, 9, 2), lips: ring(120, 82, 12, 4), mouth: ring(120, 82, 10, 1) } : undefined;
  return { png, figure: { kind: 'person', framing: 'full_body', width: 240, height, keypoints, face } };
}

/** A toy-like blob with no keypoints (300×220). */
const blob = () =>
  sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="300" height="220"><ellipse cx="150" cy="125" rx="140" ry="90" fill="#c92a2a" stroke="#222" stroke-width="6"/><circle cx="70" cy="45" r="35" fill="#c92a2a" stroke="#222" stroke-width="6"/></svg>`))
    .png()
    .toBuffer();

const WAVE_PEAK = Math.round(((WAVE.up + WAVE.end) / 2) * 24);
const SIDE = 512;

/** Vertices (indices) whose rest position lies within r of p. */
function verticesNear(rig: Rig, p: Xy, r: number): number[] {
  const k = rig.width / 240; // the rig works on the still scaled to the canvas
  const out: number[] = [];
  for (let v = 0; v < rig.skin.rest.length / 2; v++) if (Math.hypot(rig.skin.rest[2 * v]! - p[0] * k, rig.skin.rest[2 * v + 1]! - p[1] * k) < r * k) out.push(v);
  return out;
}

/** Largest distance between where the vertices are posed and where the torso's transform alone would put them. */
function driftFromTorso(rig: Rig, vertices: number[], index: number): number {
  const { pose } = frameAt(rig.act, rig.skeleton, index / 24, 24);
  const posed = deform(rig.skin, rig.skeleton, pose);
  const torso = worldTransforms(rig.skeleton!, pose)[0]!;
  let worst = 0;
  for (const v of vertices) {
    const q = apply(torso, rig.skin.rest[2 * v]!, rig.skin.rest[2 * v + 1]!);
    worst = Math.max(worst, Math.hypot(posed[2 * v]! - q.x, posed[2 * v + 1]! - q.y));
  }
  return worst;
}

/** The frame's silhouette, cropped to its box and scaled to a small square. */
const normalizedMask = (rgba: Uint8Array) => silhouette(rgba, SIDE, SIDE);

describe('rig: skinning and forward kinematics', () => {
  let rig: Rig;
  beforeAll(async () => {
    const { png, figure } = await stickPerson();
    rig = await buildRig(png, figure);
  });

  it('builds spine, head, both arms and both legs, and picks one free arm to wave', () => {
    expect(rig.act).toBe('full_body');
    expect(rig.skeleton!.bones.map((b) => b.name).sort()).toEqual(['forearmL', 'forearmR', 'head', 'shinL', 'shinR', 'spine', 'thighL', 'thighR', 'upperArmL', 'upperArmR'].sort());
    expect(rig.skeleton!.wavingArm).toBeDefined();
  });

  it('moves a vertex bound to a bone by exactly that bone’s rotation about its joint', () => {
    const sk = rig.skeleton!;
    const fore = boneIndex(sk, 'forearmR');
    const upper = boneIndex(sk, 'upperArmR');
    const rigid = [...rig.skin.bone.keys()].filter((v) => rig.skin.bone[v] === fore && rig.skin.weight[v] === 1);
    expect(rigid.length).toBeGreaterThan(10);
    const theta = 0.7;
    const rotate = (p: { x: number; y: number }, c: { x: number; y: number }, a: number) => ({
      x: c.x + (p.x - c.x) * Math.cos(a) - (p.y - c.y) * Math.sin(a),
      y: c.y + (p.x - c.x) * Math.sin(a) + (p.y - c.y) * Math.cos(a),
    });
    const elbow = sk.bones[fore]!.joint;
    const posed = deform(rig.skin, sk, { forearmR: { angle: theta } });
    // Turning the parent carries the child with it (forward kinematics).
    const shoulder = sk.bones[upper]!.joint;
    const chained = deform(rig.skin, sk, { upperArmR: { angle: -0.4 }, forearmR: { angle: theta } });
    for (const v of rigid) {
      const p = { x: rig.skin.rest[2 * v]!, y: rig.skin.rest[2 * v + 1]! };
      const q = rotate(p, elbow, theta);
      expect(posed[2 * v]).toBeCloseTo(q.x, 9);
      expect(posed[2 * v + 1]).toBeCloseTo(q.y, 9);
      const r = rotate(q, shoulder, -0.4);
      expect(chained[2 * v]).toBeCloseTo(r.x, 9);
      expect(chained[2 * v + 1]).toBeCloseTo(r.y, 9);
    }
    const m = jointTransform(elbow, { x: 1, y: 0 }, theta, 1, 0, 0);
    expect(apply(m, elbow.x, elbow.y).x).toBeCloseTo(elbow.x, 12);
  });

  it('waves the free arm: the hand rises well above its rest position while the other arm stays with the torso', () => {
    const side = rig.skeleton!.wavingArm!;
    const wrist: Xy = side === 'left' ? [192, 250] : [48, 250];
    const otherWrist: Xy = side === 'left' ? [48, 250] : [192, 250];
    const hand = verticesNear(rig, wrist, 8);
    const posed = deform(rig.skin, rig.skeleton, frameAt(rig.act, rig.skeleton, WAVE_PEAK / 24, 24).pose);
    const rise = Math.min(...hand.map((v) => rig.skin.rest[2 * v + 1]! - posed[2 * v + 1]!));
    expect(rise).toBeGreaterThan(rig.height * 0.3);
    expect(driftFromTorso(rig, verticesNear(rig, otherWrist, 8), WAVE_PEAK)).toBeLessThan(1e-9);
  });

  it('never folds a triangle over the whole loop', () => {
    const folded = Array.from({ length: 120 }, (_, i) => foldedTriangles(rig.skin.rest, stillPoints(rig, i), rig.skin.triangles));
    expect(folded.flatMap((n, i) => (n > 0 ? [i] : []))).toEqual([]);
  });

  it('keeps the rest of the body out of the waving arm: torso vertices beside the arm follow the torso', () => {
    const side = rig.skeleton!.wavingArm!;
    // A point on the torso's flank, next to the arm's shoulder.
    const flank: Xy = side === 'left' ? [146, 170] : [94, 170];
    expect(driftFromTorso(rig, verticesNear(rig, flank, 5), WAVE_PEAK)).toBeLessThan(1e-9);
  });
});

describe('rig: the waving arm’s seam', () => {
  it('closes the torso with an ink line where the arm lay, and leaves nothing of the arm on the body', async () => {
    const { png, figure } = await stickPerson();
    const rig = await buildRig(png, figure);
    const side = rig.skeleton!.wavingArm!;
    expect(rig.sources.arm).toBeDefined();
    // The torso’s flank (still y = 150, below the armpit, where the hanging arm lay), scanned
    // from the arm's side of the picture: at the wave's peak the first opaque pixels are ink.
    const img = renderFrame(rig, WAVE_PEAK);
    const k = rig.width / 240;
    const y = Math.round(150 * k * rig.place.scale + rig.place.dy);
    const xs = Array.from({ length: SIDE }, (_, i) => (side === 'right' ? i : SIDE - 1 - i));
    const first = xs.findIndex((x) => img[(y * SIDE + x) * 4 + 3]! > 200);
    expect(first).toBeGreaterThan(0);
    const run = xs.slice(first, first + 3).map((x) => img.slice((y * SIDE + x) * 4, (y * SIDE + x) * 4 + 3));
    expect(run.map(([r, g, b]) => Math.max(r!, g!, b!))).toSatisfy((v: number[]) => v.filter((c) => c < 90).length >= 2);
    // At rest the arm covers all of it: frame 0 shows no ink on the orange sleeve's inner side
    // beyond the drawing's own (the same frame as drawing the arm and body from the plain still).
    const rest = renderFrame(rig, 0);
    const plain = renderFrame({ ...rig, sources: { ...rig.sources, open: rig.sources.arm!, half: undefined, shut: undefined } }, 0);
    let differ = 0;
    for (let i = 3; i < rest.length; i += 4) if (Math.abs(rest[i - 1]! - plain[i - 1]!) > 40 || Math.abs(rest[i - 3]! - plain[i - 3]!) > 40) differ++;
    expect(differ).toBeLessThan(10);
  });

  it('never folds a triangle of the body kept under the arm', async () => {
    const { png, figure } = await stickPerson();
    const rig = await buildRig(png, figure);
    // Body triangles lying exactly where arm triangles lie at rest: the piece under the arm.
    const { rest, triangles, layer } = rig.skin;
    const centre = (t: number) => [0, 1].map((c) => ((rest[2 * triangles[3 * t]! + c]! + rest[2 * triangles[3 * t + 1]! + c]! + rest[2 * triangles[3 * t + 2]! + c]!) / 3).toFixed(2)).join();
    const arm = new Set(Array.from(layer.keys()).filter((t) => layer[t] === 1).map(centre));
    const under = Array.from(layer.keys()).filter((t) => layer[t] === 0 && arm.has(centre(t)));
    expect(under.length).toBeGreaterThan(10);
    for (const i of [WAVE_PEAK - 10, WAVE_PEAK, WAVE_PEAK + 10]) expect(foldedTriangles(rig.skin.rest, stillPoints(rig, i), rig.skin.triangles)).toBe(0);
  });
});

describe('rig: fallbacks', () => {
  it('a full body cut off at the thighs hops as a whole: no leg bones, the bottom planted in the squash, nothing folds', async () => {
    const { png, figure } = await stickPerson({ height: 300 });
    expect(figure.keypoints.some((k) => k.part.endsWith('Knee') || k.part.endsWith('Ankle'))).toBe(false);
    const rig = await buildRig(png, figure);
    expect(rig.act).toBe('full_body');
    expect(rig.skeleton!.bones.some((b) => b.name.startsWith('thigh') || b.name.startsWith('shin'))).toBe(false);
    const folded = Array.from({ length: 120 }, (_, i) => foldedTriangles(rig.skin.rest, stillPoints(rig, i), rig.skin.triangles));
    expect(folded.flatMap((n, i) => (n > 0 ? [i] : []))).toEqual([]);
    const squash = Math.round((2.75 + 0.22 * 1.3) * 24);
    expect(frameAt(rig.act, rig.skeleton, squash / 24, 24).body.squash).toBeGreaterThan(0.1);
    const bottom = (i: number) => Math.max(...stillPoints(rig, i).filter((_, j) => j % 2 === 1));
    expect(bottom(squash)).toBeCloseTo(bottom(0), 0);
    expect(Math.max(...stillPoints(rig, squash).filter((_, j) => j % 2 === 1)) - Math.min(...stillPoints(rig, squash).filter((_, j) => j % 2 === 1))).toBeLessThan(rig.stance.height * 0.95);
  });

  it('one leg missing a joint: neither leg bends, and the legs ride on the torso', async () => {
    const { png, figure } = await stickPerson({ drop: ['leftAnkle'] });
    const rig = await buildRig(png, figure);
    expect(rig.skeleton!.bones.some((b) => b.name.startsWith('thigh'))).toBe(false);
    const legs = [...verticesNear(rig, [97, 320], 8), ...verticesNear(rig, [143, 320], 8)];
    expect(legs.length).toBeGreaterThan(4);
    for (const v of legs) expect(rig.skin.bone[v]).toBe(0);
  });

  it('a missing wrist or elbow leaves that arm on the torso, and the other arm waves', async () => {
    for (const drop of [['rightWrist'], ['rightElbow']] as BodyPart[][]) {
      const { png, figure } = await stickPerson({ drop });
      const rig = await buildRig(png, figure);
      expect(rig.skeleton!.bones.some((b) => b.name === 'upperArmR' || b.name === 'forearmR')).toBe(false);
      expect(rig.skeleton!.wavingArm).toBe('left');
      const arm = [...verticesNear(rig, [58, 185], 10), ...verticesNear(rig, [48, 250], 10)];
      expect(arm.length).toBeGreaterThan(5);
      const moved = arm.filter((v) => [0, 20, WAVE_PEAK, 70, 100].some((i) => driftFromTorso(rig, [v], i) > 1e-9));
      expect(moved.map((v) => `${drop} ${rig.skin.rest[2 * v]!.toFixed(0)},${rig.skin.rest[2 * v + 1]!.toFixed(0)} ${rig.skeleton!.bones[rig.skin.bone[v]!]!.name} ${rig.skin.weight[v]}`)).toEqual([]);
    }
  });

  it('does not wave an arm lying across the torso', async () => {
    const { png, figure } = await stickPerson({ leftElbow: [150, 190], leftWrist: [118, 205], drop: ['rightWrist'] });
    const rig = await buildRig(png, figure);
    expect(rig.skeleton!.wavingArm).toBeUndefined();
    const arm = verticesNear(rig, [118, 205], 10);
    for (const i of [0, WAVE_PEAK, 100]) expect(driftFromTorso(rig, arm, i)).toBeLessThan(1e-9);
  });

  it('still rigs when the keypoints are few (head only)', async () => {
    const { png, figure } = await stickPerson({ drop: ['leftShoulder', 'rightShoulder', 'leftElbow', 'rightElbow', 'leftWrist', 'rightWrist', 'leftHip', 'rightHip', 'leftKnee', 'rightKnee', 'leftAnkle', 'rightAnkle'] });
    const rig = await buildRig(png, figure);
    expect(rig.skeleton!.wavingArm).toBeUndefined();
    const a = renderFrame(rig, 0);
    const b = renderFrame(rig, 30);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).not.toBe(0);
  });
});

describe('rig: frames', () => {
  it('renders 120 transparent 512² PNGs that loop seamlessly, and the silhouette changes shape', async () => {
    const { png, figure } = await stickPerson();
    const frames: Buffer[] = [];
    const out = await renderFrames(png, figure, async (f, i) => {
      expect(i).toBe(frames.length);
      frames.push(f);
    });
    expect(out).toEqual({ fps: 24, frames: 120 });
    expect(frames).toHaveLength(120);
    const first = await sharp(frames[0]!).raw().toBuffer({ resolveWithObject: true });
    expect(first.info).toMatchObject({ width: 512, height: 512, channels: 4 });
    expect(first.data[3]).toBe(0); // transparent corner

    // The frame after the last is frame 0 again.
    const rig = await buildRig(png, figure);
    const after = renderFrame(rig, 120);
    expect(Buffer.compare(Buffer.from(after), first.data)).toBe(0);
    // And the last frame is close to the first (no jump at the loop).
    const last = renderFrame(rig, 119);
    let diff = 0;
    for (let i = 3; i < last.length; i += 4) diff += Math.abs(last[i]! - first.data[i]!) > 128 ? 1 : 0;
    expect(diff).toBeLessThan(2000);

    // The silhouette bends: aligned and scaled to the same box, the wave's peak and the hop's
    // squash differ clearly from the rest pose (not a mere translation or scale).
    const rest = await normalizedMask(Uint8Array.from(first.data));
    const peak = await normalizedMask(Uint8Array.from((await sharp(frames[WAVE_PEAK]!).raw().toBuffer())));
    expect(iou(rest, peak)).toBeLessThan(0.8);
    const squash = await normalizedMask(Uint8Array.from(await sharp(frames[Math.round((2.75 + 0.22 * 1.3) * 24)]!).raw().toBuffer()));
    expect(iou(rest, squash)).toBeLessThan(0.97);
    // Standing on the ground: the lowest opaque row of the rest frame is near the bottom.
    let bottom = 0;
    for (let i = 3; i < first.data.length; i += 4) if (first.data[i]! > 128) bottom = Math.floor(i / 4 / 512);
    expect(bottom).toBeGreaterThan(512 * 0.88);
  }, 60_000);

  it('blinks: the eyes shut for a few frames, and only the eyes change', async () => {
    const { png, figure } = await stickPerson();
    const rig = await buildRig(png, figure);
    expect(rig.sources.shut).toBeDefined();
    const shut = Math.round(1.6 * 24) + 1;
    const open = renderFrame(rig, shut - 2); // a frame before the blink: eyes open
    const closed = renderFrame(rig, shut);
    const k = rig.width / 240;
    const eyeArea = (img: Uint8Array) => {
      // Dark pupil pixels near the eyes (the whole canvas is searched: the head moves a little).
      let dark = 0;
      for (let i = 0; i < img.length; i += 4) if (img[i + 3]! > 200 && img[i]! < 60 && img[i + 1]! < 60 && img[i + 2]! < 60) dark++;
      return dark;
    };
    expect(eyeArea(closed)).toBeLessThan(eyeArea(open) - 20 * k * k);
  });

  it('blinks the face mesh’s eyes: the shut still covers the whole drawn eye, and the lids move with the head', async () => {
    const { png, figure } = await stickPerson({ face: true });
    const rig = await buildRig(png, figure);
    const k = rig.width / 240;
    const { data, width } = rig.sources.shut!;
    const open = rig.sources.open.data;
    const head = boneIndex(rig.skeleton!, 'head');
    for (const [cx, cy] of [[104, 56], [136, 56]] as const) {
      // The drawn eye (ellipse 8×6 plus its outline): no white nor pupil left, all one skin tone.
      let white = 0, dark = 0, was = 0;
      for (let y = Math.floor((cy - 6) * k); y <= Math.ceil((cy + 6) * k); y++)
        for (let x = Math.floor((cx - 8) * k); x <= Math.ceil((cx + 8) * k); x++) {
          if (((x / k - cx) / 8) ** 2 + ((y / k - cy) / 6) ** 2 > 1) continue;
          const i = (y * width + x) * 4;
          if (open[i]! > 240 && open[i + 1]! > 240) was++;
          if (data[i]! > 240 && data[i + 1]! > 240 && data[i + 2]! > 240) white++;
          if (data[i]! < 60 && data[i + 1]! < 60 && data[i + 2]! < 60 && ((x / k - cx) / 8) ** 2 + ((y / k - cy) / 6) ** 2 < 0.3 && y / k < cy) dark++;
        }
      expect(was).toBeGreaterThan(25 * k * k);
      expect(white).toBe(0);
      expect(dark).toBe(0); // the lid line runs low; the upper half is skin
      // Every vertex over the eye is the head's outright.
      const over = verticesNear(rig, [cx, cy], 10);
      expect(over.length).toBeGreaterThan(2);
      for (const v of over) expect([rig.skin.bone[v], rig.skin.weight[v]]).toEqual([head, 1]);
    }
  });

  it('a bust nods by turning the head about the neck (at most 6°) while the shoulders breathe', async () => {
    const { png, figure } = await stickPerson({ height: 200 });
    const rig = await buildRig(png, { ...figure, framing: 'bust' });
    expect(rig.act).toBe('bust');
    const poses = Array.from({ length: 120 }, (_, i) => frameAt('bust', rig.skeleton, i / 24, 24).pose);
    const angles = poses.map((p) => p.head!.angle!);
    expect(Math.max(...angles.map(Math.abs))).toBeLessThanOrEqual((6 * Math.PI) / 180);
    expect(Math.max(...angles) - Math.min(...angles)).toBeGreaterThan((6 * Math.PI) / 180);
    expect(poses.every((p) => !p.head!.dx && !p.head!.dy)).toBe(true);
    expect(Math.max(...poses.map((p) => p.spine!.stretch!))).toBeGreaterThan(1.01);
    const folded = Array.from({ length: 120 }, (_, i) => foldedTriangles(rig.skin.rest, stillPoints(rig, i), rig.skin.triangles));
    expect(folded.reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('animates a thing with no keypoints: squash, a bending sway and a hop', async () => {
    const png = await blob();
    const rig = await buildRig(png, undefined);
    expect(rig.act).toBe('thing');
    expect(rig.skeleton).toBeUndefined();
    const f0 = renderFrame(rig, 0);
    const masks = await Promise.all([0, 15, 45, 75, 90].map((i) => normalizedMask(renderFrame(rig, i))));
    const m0 = masks[0]!;
    expect(Math.min(...masks.slice(1).map((m) => iou(m0, m)))).toBeLessThan(0.97);
    // The sway bends: at its peak the top has moved sideways more than the bottom.
    const topBottom = (img: Uint8Array) => {
      const rowCentre = (y: number) => {
        let s = 0, n = 0;
        for (let x = 0; x < SIDE; x++)
          if (img[(y * SIDE + x) * 4 + 3]! > 128) {
            s += x;
            n++;
          }
        return n ? s / n : NaN;
      };
      let top = 0, bottom = 0;
      for (let y = 0; y < SIDE; y++)
        if (!Number.isNaN(rowCentre(y))) {
          if (!top) top = y;
          bottom = y;
        }
      return { top: rowCentre(top + Math.round((bottom - top) * 0.4)), bottom: rowCentre(bottom - 5) };
    };
    const a = topBottom(f0);
    const b = topBottom(renderFrame(rig, 15)); // t = 0.625 s: the sway's peak
    expect(Math.abs(b.top - a.top)).toBeGreaterThan(Math.abs(b.bottom - a.bottom) + 4);
    expect(Buffer.compare(Buffer.from(renderFrame(rig, 120)), Buffer.from(f0))).toBe(0);
  });
});
