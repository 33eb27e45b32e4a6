/**
 * A PNG's own text chunks (tEXt, PNG spec §11.3.4.3): data that must travel with an image through
 * the blob store and the activities that pass it on unchanged, such as the figure (keypoints and
 * face features) that the cartoon step finds and the animation step rigs.
 */
import { crc32 } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface Chunk {
  type: string;
  data: Buffer;
  /** Offset of the chunk's length field. */
  at: number;
  end: number;
}

function* chunks(png: Buffer): Generator<Chunk> {
  if (png.length < 8 || !png.subarray(0, 8).equals(SIGNATURE)) return;
  for (let at = 8; at + 12 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const end = at + 12 + length;
    if (end > png.length) return;
    yield { type: png.toString('latin1', at + 4, at + 8), data: png.subarray(at + 8, at + 8 + length), at, end };
    at = end;
  }
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** The image with a tEXt chunk `keyword` = `text` before its image data (any earlier one of that keyword replaced). */
export function withPngText(png: Buffer, keyword: string, text: string): Buffer {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new Error(`bad PNG text keyword: ${keyword}`);
  const parts: Buffer[] = [SIGNATURE];
  let placed = false;
  for (const c of chunks(png)) {
    if (c.type === 'tEXt' && c.data.toString('latin1', 0, c.data.indexOf(0)) === keyword) continue;
    if (!placed && (c.type === 'IDAT' || c.type === 'IEND')) {
      // JSON text escaped to ASCII, so the Latin-1 chunk holds any character.
      parts.push(chunk('tEXt', Buffer.from(`${keyword}\0${text.replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)}`, 'latin1')));
      placed = true;
    }
    parts.push(png.subarray(c.at, c.end));
  }
  if (!placed) throw new Error('not a PNG image');
  return Buffer.concat(parts);
}

/** The text of the image's tEXt chunk `keyword`, if it has one. */
export function readPngText(png: Buffer, keyword: string): string | undefined {
  for (const c of chunks(png)) {
    if (c.type === 'IDAT') return undefined; // text chunks we write come before the image data
    if (c.type !== 'tEXt') continue;
    const nul = c.data.indexOf(0);
    if (nul >= 0 && c.data.toString('latin1', 0, nul) === keyword) return c.data.toString('latin1', nul + 1);
  }
  return undefined;
}
