/**
 * Stage 3 — skinning. Every mesh vertex is bound to one bone and a weight `w` that blends it
 * between that bone (w = 1) and the bone's parent (w = 0). Blending the *joint angle* rather
 * than two matrices (a 2-D rig needs nothing more) bends a joint without the pinch of linear
 * blend skinning.
 *
 *  - Regions: the face and the torso polygon belong to the head and the spine outright; every
 *    other vertex to its nearest bone, so a limb's vertices are bound rigidly to their segment.
 *  - Joints: inside a disc around each joint the weight ramps smoothly across it (no crease).
 *  - The waving arm is a cut-out piece, as in a paper puppet: where it touches the body, the
 *    triangles along the seam get their own copies of the vertices, bound to one side. As the
 *    arm lifts, the seam opens cleanly instead of stretching body pixels after the arm (a ghost
 *    arm); the arm is drawn over the body and turns about its shoulder joint, where its round
 *    end stays in place.
 */
import type { BoneName, Skeleton } from './skeleton.js';
import { compose, dist, IDENTITY, insidePolygon, jointTransform, polygonDistance, scalePolygon, segmentDistance, smoothstep, type Affine, type Point } from './geometry.js';
import type { Mesh } from './mesh.js';
import { armReach, inArm, type ArmCut } from './arm.js';

export interface Skin {
  /** Rest positions (the mesh's, plus copies made along opened seams). */
  rest: Float64Array;
  bone: Int16Array;
  weight: Float32Array;
  triangles: Uint32Array;
  /** Drawing order per triangle: 0 body, 1 the waving arm (drawn over the body). */
  layer: Uint8Array;
}

/** One bone's motion against its parent: a turn about its joint, a stretch along it, a shift. */
export interface BoneMotion {
  angle: number;
  stretch: number;
  dx: number;
  dy: number;
}

export type Pose = Partial<Record<BoneName, Partial<BoneMotion>>>;

const isArmBone = (n: BoneName) => n.startsWith('upperArm') || n.startsWith('forearm');

/** The blend disc's radius around a bone's joint. */
function jointRadius(skeleton: Skeleton, b: number, step: number): number {
  const bone = skeleton.bones[b]!;
  const parent = skeleton.bones[bone.parent]!;
  // The elbow bends furthest (the wave): its blend is widest so its outer side does not fold.
  const k = bone.name.startsWith('forearm') ? 0.8 : isArmBone(bone.name) ? 0.55 : 0.45;
  const base = bone.name === 'head' ? (skeleton.head?.radius ?? bone.length) * 0.6 : Math.min(bone.length, parent.length) * k;
  return Math.max(base, step * 2.5);
}

/** The bone a vertex belongs to outright, before joints are blended; the waving arm excluded. */
function bodyRegion(p: Point, skeleton: Skeleton, oval: Point[] | undefined, cut: ArmCut | undefined): number {
  const { bones, head, torso } = skeleton;
  const headBone = bones.findIndex((b) => b.name === 'head');
  if (headBone >= 0 && head && (oval ? insidePolygon(p, oval) : dist(p, head.center) < head.radius * 0.9)) return headBone;
  if (torso.length >= 3 && insidePolygon(p, torso)) return 0;
  let best = 0;
  let bestD = Infinity;
  bones.forEach((b, i) => {
    if (cut && (i === cut.upper || i === cut.fore)) return;
    // The head is a round region, not a stick: measure from its rim.
    const d = i === headBone && head ? Math.max(0, dist(p, head.center) - head.radius * 0.9) : segmentDistance(p, b.joint, b.tail).d;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  // Body pixels nearer an arm or leg that has no bones of its own, or nearer the waving arm
  // (bits of its outline the body keeps) ride on the torso, not on whatever bone is nearest.
  for (const [a, b] of skeleton.anchors) if (segmentDistance(p, a, b).d < bestD) return 0;
  if (cut) for (const i of [cut.upper, cut.fore]) if (segmentDistance(p, bones[i]!.joint, bones[i]!.tail).d < bestD) return 0;
  return best;
}

/** A vertex's binding given its region's bone: blended across the nearest joint of that bone. */
function blendJoints(p: Point, primary: number, skeleton: Skeleton, radii: number[], cut: ArmCut | undefined, oval?: Point[]): { bone: number; weight: number } {
  const { bones } = skeleton;
  let out = { bone: primary, weight: 1 };
  let bestRel = 1;
  for (let c = 1; c < bones.length; c++) {
    const child = bones[c]!;
    // An arm at rest has no motion of its own (it moves as the torso does), so a hand raised to
    // the face blends into the head's turn like the torso does, instead of tearing from it.
    const restingArm = child.name === 'head' && isArmBone(bones[primary]!.name) && !(cut && (primary === cut.upper || primary === cut.fore));
    if (primary !== c && primary !== child.parent && !restingArm) continue;
    // The waving arm is a separate piece pinned at the shoulder: no blend there.
    if (cut && c === cut.upper) continue;
    if (child.name === 'head') {
      // The neck: the whole head turns, the turn fading down the neck from the chin (the
      // joint) — across the head's whole width, but not out into the shoulders.
      const r = skeleton.head?.radius ?? child.length / 2;
      const along = (p.x - child.joint.x) * child.axis.x + (p.y - child.joint.y) * child.axis.y;
      const lateral = Math.abs((p.x - child.joint.x) * child.axis.y - (p.y - child.joint.y) * child.axis.x);
      const ramp = smoothstep(-0.35 * r, 0.1 * r, along);
      let w = primary === c ? ramp : ramp * (1 - smoothstep(0.7 * r, 1.2 * r, lateral));
      if (restingArm) {
        // Fading out with the distance from the head's region, wherever round the head it is.
        const outside = oval ? polygonDistance(p, oval) : Math.max(0, dist(p, skeleton.head!.center) - 0.9 * r);
        w = ramp * (1 - smoothstep(0, 0.6 * r, outside));
      }
      if (w > 0 || primary === c) {
        out = { bone: c, weight: w };
        bestRel = 0;
      }
      continue;
    }
    const r = radii[c]!;
    const d = dist(p, child.joint);
    if (d / r >= bestRel) continue;
    bestRel = d / r;
    const inChild = primary === c ? 1 : 0;
    let w: number;
    if (child.name.startsWith('upperArm')) {
      // A resting arm's shoulder: both sides meet at 0.5 at the joint and part with distance.
      const apart = smoothstep(0.3 * r, r, d);
      w = inChild ? 0.5 + 0.5 * apart : 0.5 - 0.5 * apart;
    } else {
      // Elbow, neck, hip, knee: a ramp across the joint along the child bone, faded into the
      // region's own binding towards the disc's edge.
      const along = (p.x - child.joint.x) * child.axis.x + (p.y - child.joint.y) * child.axis.y;
      const ramp = smoothstep(-0.5 * r, 0.5 * r, along);
      const fade = 1 - smoothstep(0.6 * r, r, d);
      w = fade * ramp + (1 - fade) * inChild;
    }
    out = { bone: c, weight: w };
  }
  return out;
}

/**
 * Binds the mesh to the skeleton; `cut` is the waving arm (see `arm.ts`), whose triangles
 * are cut free from the body along the seam. `own` is the arm's triangles when already known;
 * `under` marks arm triangles also drawn on the body layer, bound to the body (see `seam.ts`).
 */
export function bindSkin(mesh: Mesh, skeleton: Skeleton | undefined, cut?: ArmCut, seam: { own?: Uint8Array; under?: Uint8Array } = {}): Skin {
  const n = mesh.points.length / 2;
  const bone = new Int16Array(n);
  const weight = new Float32Array(n).fill(1);
  const tris = mesh.triangles;
  const layer = new Uint8Array(tris.length / 3);
  if (!skeleton) return { rest: mesh.points, bone, weight, triangles: tris, layer };

  const oval = skeleton.head?.oval && scalePolygon(skeleton.head.oval, 1.1);
  const radii = skeleton.bones.map((_, i) => (i === 0 ? 0 : jointRadius(skeleton, i, mesh.step)));
  const pt = (v: number) => ({ x: mesh.points[2 * v]!, y: mesh.points[2 * v + 1]! });
  const bindBody = (p: Point) => blendJoints(p, bodyRegion(p, skeleton, oval, cut), skeleton, radii, cut, oval);
  const bindArm = (p: Point) => blendJoints(p, armReach(p, skeleton, cut!).bone, skeleton, radii, cut);
  const armOwned = cut ? (seam.own ?? armTriangles(mesh, skeleton, cut)) : undefined;
  const isArm = (b: number, w: number) => !!cut && (b === cut.fore || (b === cut.upper && w > 0));

  for (let v = 0; v < n; v++) {
    const p = pt(v);
    const b = cut && inArm(p, skeleton, cut) ? bindArm(p) : bindBody(p);
    bone[v] = b.bone;
    weight[v] = b.weight;
  }
  if (!armOwned) return { rest: mesh.points, bone, weight, triangles: tris, layer };

  // Cut the arm free: a triangle whose corner is bound to the other side gets its own copy of
  // that corner, bound to the triangle's side (copies are shared along the seam).
  const rest = Array.from(mesh.points);
  const bones = Array.from(bone);
  const weights = Array.from(weight);
  const copies = new Map<number, number>();
  const out = Uint32Array.from(tris);
  for (let t = 0; t < tris.length / 3; t++) {
    const owner = armOwned[t] === 1;
    layer[t] = owner ? 1 : 0;
    for (let k = 0; k < 3; k++) {
      const v = tris[3 * t + k]!;
      if (isArm(bone[v]!, weight[v]!) === owner) continue;
      const key = v * 2 + (owner ? 1 : 0);
      let c = copies.get(key);
      if (c === undefined) {
        const p = pt(v);
        const b = owner ? bindArm(p) : bindBody(p);
        c = rest.length / 2;
        rest.push(p.x, p.y);
        bones.push(b.bone);
        weights.push(b.weight);
        copies.set(key, c);
      }
      out[3 * t + k] = c;
    }
  }
  // The body's piece under the arm: the same triangles again, with the body's corners (the
  // originals where the body already has them, else body-bound copies) so it moves as one
  // with the torso beside it.
  const extra: number[] = [];
  if (seam.under)
    for (let t = 0; t < tris.length / 3; t++) {
      if (!seam.under[t] || armOwned[t] !== 1) continue;
      for (let k = 0; k < 3; k++) {
        const v = tris[3 * t + k]!;
        if (!isArm(bone[v]!, weight[v]!)) {
          extra.push(v);
          continue;
        }
        let c = copies.get(v * 2);
        if (c === undefined) {
          const b = bindBody(pt(v));
          c = rest.length / 2;
          rest.push(mesh.points[2 * v]!, mesh.points[2 * v + 1]!);
          bones.push(b.bone);
          weights.push(b.weight);
          copies.set(v * 2, c);
        }
        extra.push(c);
      }
    }
  const triangles = new Uint32Array(out.length + extra.length);
  triangles.set(out);
  triangles.set(extra, out.length);
  const layers = new Uint8Array(triangles.length / 3);
  layers.set(layer);
  return { rest: Float64Array.from(rest), bone: Int16Array.from(bones), weight: Float32Array.from(weights), triangles, layer: layers };
}

/**
 * Which triangles belong to the waving arm (1): those whose centre is in the arm's reach, then
 * tidied — stray arm islands go back to the body, and slivers of body cut off between the arm's
 * reach and the silhouette's edge (bits of the arm's outline) go with the arm.
 */
export function armTriangles(mesh: Mesh, skeleton: Skeleton, cut: ArmCut): Uint8Array {
  const tris = mesh.triangles;
  const nt = tris.length / 3;
  const own = new Uint8Array(nt);
  const P = mesh.points;
  for (let t = 0; t < nt; t++) {
    const i = tris[3 * t]!, j = tris[3 * t + 1]!, k = tris[3 * t + 2]!;
    own[t] = inArm({ x: (P[2 * i]! + P[2 * j]! + P[2 * k]!) / 3, y: (P[2 * i + 1]! + P[2 * j + 1]! + P[2 * k + 1]!) / 3 }, skeleton, cut) ? 1 : 0;
  }
  // Triangle adjacency through shared edges.
  const edgeOwner = new Map<number, number>();
  const neighbours: number[][] = Array.from({ length: nt }, () => []);
  const nv = P.length / 2;
  for (let t = 0; t < nt; t++)
    for (let k = 0; k < 3; k++) {
      const a = tris[3 * t + k]!;
      const b = tris[3 * t + ((k + 1) % 3)]!;
      const key = Math.min(a, b) * nv + Math.max(a, b);
      const o = edgeOwner.get(key);
      if (o === undefined) edgeOwner.set(key, t);
      else {
        neighbours[t]!.push(o);
        neighbours[o]!.push(t);
      }
    }
  const components = (side: number) => {
    const seen = new Int32Array(nt).fill(-1);
    const list: number[][] = [];
    for (let t = 0; t < nt; t++) {
      if (own[t] !== side || seen[t]! >= 0) continue;
      const comp = [t];
      seen[t] = list.length;
      for (let q = 0; q < comp.length; q++)
        for (const m of neighbours[comp[q]!]!)
          if (own[m] === side && seen[m]! < 0) {
            seen[m] = list.length;
            comp.push(m);
          }
      list.push(comp);
    }
    return list;
  };
  const armParts = components(1).sort((a, b) => b.length - a.length);
  for (const comp of armParts.slice(1)) for (const t of comp) own[t] = 0;
  const bodyParts = components(0);
  const bodySize = bodyParts.reduce((s, c) => s + c.length, 0);
  for (const comp of bodyParts) {
    const touchesArm = comp.some((t) => neighbours[t]!.some((m) => own[m] === 1));
    if (touchesArm && comp.length < bodySize * 0.03) for (const t of comp) own[t] = 1;
  }
  return own;
}

const motionOf = (pose: Pose, name: BoneName): BoneMotion => ({ angle: 0, stretch: 1, dx: 0, dy: 0, ...pose[name] });

/** Each bone's rest → posed transform, parents first (forward kinematics). */
export function worldTransforms(skeleton: Skeleton, pose: Pose): Affine[] {
  const world: Affine[] = [];
  for (const b of skeleton.bones) {
    const m = motionOf(pose, b.name);
    const local = jointTransform(b.joint, b.axis, m.angle, m.stretch, m.dx, m.dy);
    world.push(b.parent < 0 ? local : compose(world[b.parent]!, local));
  }
  return world;
}

/** The skinned vertex positions for a pose (in the still's pixels, before the body's own squash). */
export function deform(skin: Skin, skeleton: Skeleton | undefined, pose: Pose, out = new Float64Array(skin.rest.length)): Float64Array {
  const { rest } = skin;
  if (!skeleton) {
    out.set(rest);
    return out;
  }
  const world = worldTransforms(skeleton, pose);
  for (let v = 0; v < rest.length / 2; v++) {
    const bi = skin.bone[v]!;
    const w = skin.weight[v]!;
    let m: Affine;
    if (w >= 1) m = world[bi]!;
    else {
      const b = skeleton.bones[bi]!;
      const mo = motionOf(pose, b.name);
      const partial = jointTransform(b.joint, b.axis, mo.angle * w, 1 + (mo.stretch - 1) * w, mo.dx * w, mo.dy * w);
      m = b.parent < 0 ? partial : compose(world[b.parent] ?? IDENTITY, partial);
    }
    const x = rest[2 * v]!;
    const y = rest[2 * v + 1]!;
    out[2 * v] = m.a * x + m.b * y + m.tx;
    out[2 * v + 1] = m.c * x + m.d * y + m.ty;
  }
  return out;
}

/** Triangles (of at least `minArea` px² at rest) whose orientation flipped: folds, for checks. */
export function foldedTriangles(rest: Float64Array, posed: Float64Array, triangles: Uint32Array, minArea = 2): number {
  let folded = 0;
  const area = (p: Float64Array, i: number, j: number, k: number) =>
    (p[2 * j]! - p[2 * i]!) * (p[2 * k + 1]! - p[2 * i + 1]!) - (p[2 * j + 1]! - p[2 * i + 1]!) * (p[2 * k]! - p[2 * i]!);
  for (let t = 0; t < triangles.length; t += 3) {
    const i = triangles[t]!, j = triangles[t + 1]!, k = triangles[t + 2]!;
    const a0 = area(rest, i, j, k);
    const a1 = area(posed, i, j, k);
    if (Math.abs(a0) >= minArea * 2 && a0 * a1 < 0) folded++;
  }
  return folded;
}
