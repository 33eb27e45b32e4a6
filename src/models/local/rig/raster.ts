/**
 * Stage 5 — rasterising. Each deformed triangle is filled by mapping its pixels back into the
 * still (one affine map per triangle) and sampling it bilinearly. Colours are premultiplied so
 * the anti-aliased edge blends without dark fringes and layers composite with "over". Vertices
 * are snapped to 1/16 px and edges tested in integers with a top-left rule: neighbouring
 * triangles share every edge pixel exactly once, so there are no cracks and no double seams.
 */

/** A still ready for sampling: premultiplied RGBA, 0–255 floats. */
export interface Source {
  width: number;
  height: number;
  data: Float32Array;
}

export function premultiply(rgba: Uint8Array, width: number, height: number): Source {
  const data = new Float32Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) {
    const a = rgba[i + 3]! / 255;
    data[i] = rgba[i]! * a;
    data[i + 1] = rgba[i + 1]! * a;
    data[i + 2] = rgba[i + 2]! * a;
    data[i + 3] = rgba[i + 3]!;
  }
  return { width, height, data };
}

const SUB = 16; // sub-pixel steps

/**
 * Draws triangles `order` of the mesh: `dst` positions on the canvas, `src` positions in the
 * still. `canvas` is premultiplied RGBA floats, side × side.
 */
export function drawMesh(canvas: Float32Array, side: number, source: Source, dst: Float64Array, src: Float64Array, triangles: Uint32Array, order: Iterable<number>): void {
  for (const t of order) {
    const i = triangles[3 * t]!, j = triangles[3 * t + 1]!, k = triangles[3 * t + 2]!;
    drawTriangle(canvas, side, source, dst[2 * i]!, dst[2 * i + 1]!, dst[2 * j]!, dst[2 * j + 1]!, dst[2 * k]!, dst[2 * k + 1]!, src[2 * i]!, src[2 * i + 1]!, src[2 * j]!, src[2 * j + 1]!, src[2 * k]!, src[2 * k + 1]!);
  }
}

/** Whether pixels exactly on edge (dx, dy) belong to the triangle: true for one direction only. */
const owns = (dx: number, dy: number) => dy < 0 || (dy === 0 && dx > 0);

export function drawTriangle(
  canvas: Float32Array,
  side: number,
  source: Source,
  ax: number, ay: number, bx: number, by: number, cx: number, cy: number,
  su: number, sv: number, tu: number, tv: number, uu: number, uv: number,
): void {
  // Snap to the sub-pixel grid; orient so the inside has positive edge functions.
  const x0 = Math.round(ax * SUB), y0 = Math.round(ay * SUB);
  let x1 = Math.round(bx * SUB), y1 = Math.round(by * SUB);
  let x2 = Math.round(cx * SUB), y2 = Math.round(cy * SUB);
  const area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0);
  if (area === 0) return;
  if (area < 0) {
    [x1, x2] = [x2, x1];
    [y1, y2] = [y2, y1];
    [tu, uu] = [uu, tu];
    [tv, uv] = [uv, tv];
  }
  // The affine map canvas → still, from the snapped corners.
  const fx0 = x0 / SUB, fy0 = y0 / SUB, fx1 = x1 / SUB, fy1 = y1 / SUB, fx2 = x2 / SUB, fy2 = y2 / SUB;
  const det = (fx1 - fx0) * (fy2 - fy0) - (fx2 - fx0) * (fy1 - fy0);
  const ia = (fy2 - fy0) / det, ib = -(fx2 - fx0) / det, ic = -(fy1 - fy0) / det, id = (fx1 - fx0) / det;
  // (s, r) barycentric-like coordinates: p = p0 + s·(p1 − p0) + r·(p2 − p0).
  const du1 = tu - su, dv1 = tv - sv, du2 = uu - su, dv2 = uv - sv;
  const uDx = du1 * ia + du2 * ic, uDy = du1 * ib + du2 * id;
  const vDx = dv1 * ia + dv2 * ic, vDy = dv1 * ib + dv2 * id;

  const minX = Math.max(0, Math.floor(Math.min(x0, x1, x2) / SUB));
  const maxX = Math.min(side - 1, Math.ceil(Math.max(x0, x1, x2) / SUB));
  const minY = Math.max(0, Math.floor(Math.min(y0, y1, y2) / SUB));
  const maxY = Math.min(side - 1, Math.ceil(Math.max(y0, y1, y2) / SUB));
  if (minX > maxX || minY > maxY) return;

  // Edge functions E(p) = (b − a) × (p − a), stepped per pixel; a bias of −1 excludes edges
  // the triangle does not own (all values are integers, so the test is exact).
  const e0a = y1 - y0, e0b = x1 - x0; // edge 0→1
  const e1a = y2 - y1, e1b = x2 - x1; // edge 1→2
  const e2a = y0 - y2, e2b = x0 - x2; // edge 2→0
  const bias0 = owns(e0b, e0a) ? 0 : -1;
  const bias1 = owns(e1b, e1a) ? 0 : -1;
  const bias2 = owns(e2b, e2a) ? 0 : -1;
  const px0 = minX * SUB + SUB / 2;
  const { width: sw, height: sh, data: sd } = source;

  for (let py = minY; py <= maxY; py++) {
    const cyp = py * SUB + SUB / 2;
    let w0 = e0b * (cyp - y0) - e0a * (px0 - x0) + bias0;
    let w1 = e1b * (cyp - y1) - e1a * (px0 - x1) + bias1;
    let w2 = e2b * (cyp - y2) - e2a * (px0 - x2) + bias2;
    const step0 = -e0a * SUB, step1 = -e1a * SUB, step2 = -e2a * SUB;
    const fy = cyp / SUB - fy0;
    let fx = px0 / SUB - fx0;
    let o = (py * side + minX) * 4;
    for (let px = minX; px <= maxX; px++, fx += 1, o += 4, w0 += step0, w1 += step1, w2 += step2) {
      if ((w0 | w1 | w2) < 0) continue;
      // Sample the still bilinearly at the mapped point (pixel centres at +0.5).
      const u = su + uDx * fx + uDy * fy - 0.5;
      const v = sv + vDx * fx + vDy * fy - 0.5;
      const iu = Math.floor(u), iv = Math.floor(v);
      const au = u - iu, av = v - iv;
      let r = 0, g = 0, b = 0, a = 0;
      for (let k = 0; k < 4; k++) {
        const xx = iu + (k & 1);
        const yy = iv + (k >> 1);
        if (xx < 0 || yy < 0 || xx >= sw || yy >= sh) continue;
        const wgt = (k & 1 ? au : 1 - au) * (k >> 1 ? av : 1 - av);
        const s = (yy * sw + xx) * 4;
        r += sd[s]! * wgt;
        g += sd[s + 1]! * wgt;
        b += sd[s + 2]! * wgt;
        a += sd[s + 3]! * wgt;
      }
      if (a <= 0) continue;
      const keep = 1 - a / 255;
      canvas[o] = r + canvas[o]! * keep;
      canvas[o + 1] = g + canvas[o + 1]! * keep;
      canvas[o + 2] = b + canvas[o + 2]! * keep;
      canvas[o + 3] = a + canvas[o + 3]! * keep;
    }
  }
}

/** Premultiplied float canvas → straight 8-bit RGBA for encoding. */
export function unpremultiply(canvas: Float32Array, out = new Uint8Array(canvas.length)): Uint8Array {
  for (let i = 0; i < canvas.length; i += 4) {
    const a = canvas[i + 3]!;
    if (a < 0.5) {
      out[i] = out[i + 1] = out[i + 2] = out[i + 3] = 0;
      continue;
    }
    const k = 255 / a;
    out[i] = Math.min(255, Math.round(canvas[i]! * k));
    out[i + 1] = Math.min(255, Math.round(canvas[i + 1]! * k));
    out[i + 2] = Math.min(255, Math.round(canvas[i + 2]! * k));
    out[i + 3] = Math.min(255, Math.round(a));
  }
  return out;
}
