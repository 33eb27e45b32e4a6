/**
 * The local back end's animation: the cut-out character is rigged like a 2-D puppet and moved by
 * a procedural 5-second loop, so its parts move against each other — a full-body person tilts
 * the head, breathes, blinks, waves one free arm and hops with squash and stretch; a bust tilts,
 * nods, breathes, blinks and bobs; a thing (an animal, a toy) squashes, bends as it sways and
 * hops. The stages live in `rig/`:
 *
 *   mesh (triangles over the opaque area) → skeleton (bones from the keypoints) → skin (each
 *   vertex bound to a bone) → motion (pose per frame) → raster (triangles drawn back from the
 *   still) → PNG.
 *
 * Everything is plain JS over typed arrays plus sharp for decoding and encoding, with no state
 * outside the call, so it runs as well inside a worker thread.
 */
import sharp from 'sharp';
import { transformFigure, type Figure } from './figure.js';
import { armCut, seamPoints } from './rig/arm.js';
import { closeEyes, eyePolygons } from './rig/eyes.js';
import { buildMesh } from './rig/mesh.js';
import { bodyDeform, frameAt, type Act, type Stance } from './rig/motion.js';
import { drawMesh, premultiply, unpremultiply, type Source } from './rig/raster.js';
import { buildSkeleton, type Skeleton } from './rig/skeleton.js';
import { outlineInk, planSeam } from './rig/seam.js';
import { armTriangles, bindSkin, deform, type Skin } from './rig/skin.js';

export interface AnimationSpec {
  seconds: number;
  fps: number;
  /** Canvas side in pixels. */
  side: number;
}

export const DEFAULT_SPEC: AnimationSpec = { seconds: 5, fps: 24, side: 512 };

/** The character's rest height on the canvas, and the ground line, as fractions of the side. */
const FIT_HEIGHT = 0.8;
const FIT_WIDTH = 0.9;
const GROUND = 0.93;
const MARGIN = 0.015;

export interface Rig {
  spec: AnimationSpec;
  act: Act;
  /** The still at working size (its pixels are the rig's coordinates). */
  width: number;
  height: number;
  /** The body layer's stills (eyes open, half shut, shut), and the waving arm's. */
  sources: { open: Source; half?: Source; shut?: Source; arm?: Source };
  skeleton?: Skeleton;
  skin: Skin;
  stance: Stance;
  /** Triangles in drawing order: the body, then (from `armStart`) the waving arm in front of it. */
  order: Uint32Array;
  armStart: number;
  /** Still → canvas: canvas = still · scale + (dx, dy). */
  place: { scale: number; dx: number; dy: number };
}

/**
 * Rigs the cut-out: sizes the still for the canvas (the rig works at output resolution),
 * meshes and skins it, and places it so that every frame of the loop stays on the canvas.
 */
export async function buildRig(cutout: Buffer, figure: Figure | undefined, spec: AnimationSpec = DEFAULT_SPEC): Promise<Rig> {
  const { side } = spec;
  const meta = await sharp(cutout).metadata();
  const w0 = meta.width ?? 1;
  const h0 = meta.height ?? 1;
  const k = Math.min((side * FIT_HEIGHT) / h0, (side * FIT_WIDTH) / w0);
  const width = Math.max(1, Math.round(w0 * k));
  const height = Math.max(1, Math.round(h0 * k));
  const raw = await sharp(cutout).resize(width, height, { fit: 'fill' }).ensureAlpha().raw().toBuffer();
  const rgba = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  const fig = figure && transformFigure(figure, width / (figure.width || w0), 0, 0, width, height);

  const alpha = new Uint8Array(width * height);
  for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[4 * i + 3]!;
  const skeleton = fig ? buildSkeleton(fig, width, height, alpha) : undefined;
  const act: Act = !skeleton ? 'thing' : fig!.framing === 'bust' ? 'bust' : 'full_body';
  const cut = skeleton && armCut(skeleton, alpha, width, height);
  const mesh = buildMesh(alpha, width, height, undefined, cut && ((step, inside) => seamPoints(skeleton!, cut, step / 2, inside)));
  const own = cut && armTriangles(mesh, skeleton!, cut);
  // The body layer's still: with the ink and the shoulder it keeps under the arm (`seam.ts`).
  const seam = cut && own && planSeam(rgba, width, height, mesh.points, mesh.triangles, own, outlineInk(rgba, width, height), skeleton!.bones[cut.upper]!.joint, cut.radius);
  const skin = bindSkin(mesh, skeleton, cut, { own, under: seam?.under });
  const bodyRgba = seam ? seam.body : rgba;

  const eyes = act === 'thing' ? [] : eyePolygons(fig);
  const sources: Rig['sources'] = { open: premultiply(bodyRgba, width, height) };
  if (seam) sources.arm = premultiply(rgba, width, height);
  if (eyes.length) {
    sources.half = premultiply(closeEyes(bodyRgba, width, height, eyes, 0.5), width, height);
    sources.shut = premultiply(closeEyes(bodyRgba, width, height, eyes, 1), width, height);
  }

  let minY = Infinity, maxY = -Infinity, minX = Infinity, maxX = -Infinity;
  for (let i = 0; i < mesh.points.length; i += 2) {
    minX = Math.min(minX, mesh.points[i]!);
    maxX = Math.max(maxX, mesh.points[i]!);
    minY = Math.min(minY, mesh.points[i + 1]!);
    maxY = Math.max(maxY, mesh.points[i + 1]!);
  }
  if (!Number.isFinite(minX)) [minX, maxX, minY, maxY] = [0, width, 0, height];
  const stance: Stance = { ground: maxY, height: Math.max(1, maxY - minY), centerX: skeleton ? skeleton.bones[0]!.joint.x : (minX + maxX) / 2 };

  const layer0: number[] = [];
  const layer1: number[] = [];
  skin.layer.forEach((l, t) => (l ? layer1 : layer0).push(t));
  const order = Uint32Array.from([...layer0, ...layer1]);
  const rig: Rig = { spec, act, width, height, sources, skeleton, skin, stance, order, armStart: layer0.length, place: { scale: 1, dx: 0, dy: 0 } };
  rig.place = placement(rig, (minX + maxX) / 2);
  return rig;
}

/**
 * Centre the rest pose on the canvas with its feet on the ground line; then, if some frame
 * (a raised hand, the top of a hop) would leave the canvas, shrink about the ground point.
 */
function placement(rig: Rig, centerX: number): Rig['place'] {
  const { side } = rig.spec;
  const gx = side / 2;
  const gy = side * GROUND;
  let k = 1;
  const frames = Math.round(rig.spec.seconds * rig.spec.fps);
  for (let i = 0; i < frames; i++) {
    const p = stillPoints(rig, i);
    for (let j = 0; j < p.length; j += 2) {
      const x = p[j]! - centerX; // relative to the ground point, in still pixels
      const y = p[j + 1]! - rig.stance.ground;
      if (y < 0) k = Math.min(k, (gy - side * MARGIN) / -y);
      if (y > 0) k = Math.min(k, (side * (1 - MARGIN) - gy) / y);
      if (x < 0) k = Math.min(k, (gx - side * MARGIN) / -x);
      if (x > 0) k = Math.min(k, (side * (1 - MARGIN) - gx) / x);
    }
  }
  return { scale: k, dx: gx - centerX * k, dy: gy - rig.stance.ground * k };
}

/** Frame `index`'s vertex positions in the still's pixels (skinned, then the body's deformation). */
export function stillPoints(rig: Rig, index: number): Float64Array {
  const { pose, body } = frameAt(rig.act, rig.skeleton, index / rig.spec.fps, rig.spec.fps);
  return bodyDeform(deform(rig.skin, rig.skeleton, pose), rig.stance, body);
}

/** Frame `index` as straight RGBA, side × side. Index `frames` is the loop's frame 0 again. */
export function renderFrame(rig: Rig, index: number, canvas = new Float32Array(rig.spec.side * rig.spec.side * 4)): Uint8Array {
  const { side, fps } = rig.spec;
  const { blink } = frameAt(rig.act, rig.skeleton, index / fps, fps);
  const points = stillPoints(rig, index);
  const { scale, dx, dy } = rig.place;
  for (let i = 0; i < points.length; i += 2) {
    points[i] = points[i]! * scale + dx;
    points[i + 1] = points[i + 1]! * scale + dy;
  }
  const source = (blink >= 1 ? rig.sources.shut : blink > 0 ? rig.sources.half : undefined) ?? rig.sources.open;
  canvas.fill(0);
  const { order, armStart } = rig;
  drawMesh(canvas, side, source, points, rig.skin.rest, rig.skin.triangles, order.subarray(0, armStart));
  drawMesh(canvas, side, rig.sources.arm ?? source, points, rig.skin.rest, rig.skin.triangles, order.subarray(armStart));
  return unpremultiply(canvas);
}

export async function renderFrames(
  cutout: Buffer,
  figure: Figure | undefined,
  onFrame: (png: Buffer, index: number) => Promise<void>,
  spec: AnimationSpec = DEFAULT_SPEC,
): Promise<{ fps: number; frames: number }> {
  const rig = await buildRig(cutout, figure, spec);
  const frames = Math.round(spec.seconds * spec.fps);
  const canvas = new Float32Array(spec.side * spec.side * 4);
  for (let i = 0; i < frames; i++) {
    const rgba = renderFrame(rig, i, canvas);
    const png = await sharp(rgba, { raw: { width: spec.side, height: spec.side, channels: 4 } }).png({ compressionLevel: 1 }).toBuffer();
    await onFrame(png, i);
  }
  return { fps: spec.fps, frames };
}
