/**
 * The connected regions of a matte (4-connected pixels with alpha ≥ 128): what the analysis
 * reads to tell one clear subject from a texture, and what the cartoon step reads to keep the
 * subject and drop what background removal left around it.
 */
import type { Box } from '../port.js';

export interface Regions {
  /** Each pixel's region id, 1…n; 0 where the matte is (mostly) transparent. */
  label: Int32Array;
  /** Pixels per region, by id (index 0 unused). */
  sizes: number[];
  /** Bounding box per region, by id (index 0 unused). */
  boxes: Box[];
}

export function regionsOf(alpha: Uint8Array, width: number, height: number): Regions {
  const label = new Int32Array(width * height);
  const sizes = [0];
  const boxes: Box[] = [{ left: 0, top: 0, width: 0, height: 0 }];
  const stack: number[] = [];
  for (let start = 0; start < alpha.length; start++) {
    if (alpha[start]! < 128 || label[start] !== 0) continue;
    const id = sizes.length;
    let [size, minX, minY, maxX, maxY] = [0, width, height, -1, -1];
    label[start] = id;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % width;
      const y = (i - x) / width;
      size++;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      const visit = (j: number) => {
        if (alpha[j]! >= 128 && label[j] === 0) {
          label[j] = id;
          stack.push(j);
        }
      };
      if (x > 0) visit(i - 1);
      if (x < width - 1) visit(i + 1);
      if (y > 0) visit(i - width);
      if (y < height - 1) visit(i + width);
    }
    sizes.push(size);
    boxes.push({ left: minX, top: minY, width: maxX - minX + 1, height: maxY - minY + 1 });
  }
  return { label, sizes, boxes };
}
