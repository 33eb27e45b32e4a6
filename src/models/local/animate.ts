/**
 * The local back end's animation: a procedural 5-second loop of the cut-out character — a
 * bounce with squash and stretch at each landing and a gentle sway — rendered frame by frame
 * onto a transparent square canvas. Periods divide the loop, so the last frame leads back into
 * the first.
 */
import sharp from 'sharp';

export interface AnimationSpec {
  seconds: number;
  fps: number;
  /** Canvas side in pixels. */
  side: number;
}

export const DEFAULT_SPEC: AnimationSpec = { seconds: 5, fps: 24, side: 512 };

const BOUNCE_SECONDS = 1.25; // four hops in five seconds
const SWAY_SECONDS = 2.5; // two sways

/** Where and how the character is drawn at time `t` (seconds), in canvas units. */
export function pose(t: number, side: number) {
  const hop = Math.abs(Math.sin((Math.PI * t) / BOUNCE_SECONDS)); // 0 on the ground, 1 at the top
  const contact = Math.max(0, 1 - hop * 4); // 1 at the moment of landing, 0 once airborne
  return {
    lift: hop * side * 0.1,
    scaleX: 1 + 0.1 * contact - 0.03 * hop,
    scaleY: 1 - 0.12 * contact + 0.05 * hop,
    angle: 6 * Math.sin((2 * Math.PI * t) / SWAY_SECONDS),
  };
}

export async function renderFrames(
  cutout: Buffer,
  onFrame: (png: Buffer, index: number) => Promise<void>,
  spec: AnimationSpec = DEFAULT_SPEC,
): Promise<{ fps: number; frames: number }> {
  const { side } = spec;
  // The character stands on a ground line near the bottom and fills at most 80% of the height.
  const fitted = await sharp(cutout)
    .resize({ width: Math.round(side * 0.7), height: Math.round(side * 0.72), fit: 'inside' })
    .png()
    .toBuffer({ resolveWithObject: true });
  const { width: cw, height: ch } = fitted.info;
  const ground = side * 0.95;
  const frames = Math.round(spec.seconds * spec.fps);
  for (let i = 0; i < frames; i++) {
    const p = pose(i / spec.fps, side);
    const body = await sharp(fitted.data)
      .resize(Math.max(1, Math.round(cw * p.scaleX)), Math.max(1, Math.round(ch * p.scaleY)), { fit: 'fill' })
      .rotate(p.angle, { background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .png()
      .toBuffer({ resolveWithObject: true });
    const left = Math.round(side / 2 - body.info.width / 2);
    const top = Math.round(ground - p.lift - body.info.height);
    const frame = await sharp({ create: { width: side, height: side, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .composite([{ input: body.data, left: clamp(left, -body.info.width + 1, side - 1), top: clamp(top, -body.info.height + 1, side - 1) }])
      .png({ compressionLevel: 1 })
      .toBuffer();
    await onFrame(frame, i);
  }
  return { fps: spec.fps, frames };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
