/**
 * `npm run sheet -- photo.jpg [more photos…] [--out sheet.png]`: makes a buddy of each photo with
 * the local back end, in this process, and writes a contact sheet to look at: one row a photo —
 * the photo, the cartoon, the cut-out and 8 frames spread over the 5-second loop, each over a
 * checkerboard so transparency shows — with what the analysis decided and how long it took.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions } from 'sharp';
import { localPipeline } from '../bench/pipeline.js';
import { animationKey } from '../src/animations/repository.js';
import { frameKey } from '../src/media/frames.js';
import { LocalBlobStore } from '../src/storage/local.js';

const CELL = 240;
const LABEL = 34;
const FRAMES_SHOWN = 8;

const escape = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** A cell: the image fitted inside, over a light checkerboard. */
async function cell(image: Buffer | undefined): Promise<Buffer> {
  const board = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CELL}" height="${CELL}"><defs><pattern id="c" width="16" height="16" patternUnits="userSpaceOnUse"><rect width="16" height="16" fill="#f4f4f4"/><rect width="8" height="8" fill="#dcdcdc"/><rect x="8" y="8" width="8" height="8" fill="#dcdcdc"/></pattern></defs><rect width="100%" height="100%" fill="url(#c)"/></svg>`,
  );
  const layers: OverlayOptions[] = [];
  if (image) layers.push({ input: await sharp(image).resize(CELL - 8, CELL - 8, { fit: 'inside' }).png().toBuffer(), gravity: 'center' });
  return sharp(board).composite(layers).png().toBuffer();
}

async function row(blobs: LocalBlobStore, photo: string, index: number): Promise<Buffer> {
  const id = `an_sheet${String(index).padStart(18, '0')}`;
  const read = (key: string) => blobs.get(key).then(buffer, () => undefined);
  const started = performance.now();
  let label: string;
  let frames: (Buffer | undefined)[] = [];
  try {
    const { subject, frames: set } = await localPipeline(blobs)(id, photo);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    label = `${path.basename(photo)} — ${subject.kind ?? 'person'}, ${subject.framing}; ${seconds} s`;
    frames = await Promise.all(Array.from({ length: FRAMES_SHOWN }, (_, i) => read(frameKey(set.prefix, Math.floor((i * set.count) / FRAMES_SHOWN)))));
  } catch (err) {
    label = `${path.basename(photo)} — refused or failed: ${(err as Error).message}`;
  }
  const cells = await Promise.all(
    [await sharp(photo).rotate().png().toBuffer(), await read(animationKey(id, 'cartoon.png')), await read(animationKey(id, 'cutout.png')), ...frames].map(cell),
  );
  const width = CELL * (3 + FRAMES_SHOWN);
  const text = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${LABEL}"><text x="8" y="23" font-family="DejaVu Sans, sans-serif" font-size="18" fill="#222">${escape(label)}</text></svg>`,
  );
  process.stderr.write(`${label}\n`);
  return sharp({ create: { width, height: CELL + LABEL, channels: 4, background: '#ffffff' } })
    .composite([{ input: text, left: 0, top: 0 }, ...cells.map((input, i) => ({ input, left: i * CELL, top: LABEL }))])
    .png()
    .toBuffer();
}

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string', default: 'sheet.png' } } });
  if (!positionals.length) {
    process.stderr.write('usage: npm run sheet -- photo.jpg [more photos…] [--out sheet.png]\n');
    process.exit(2);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-sheet-'));
  try {
    const blobs = new LocalBlobStore(dir);
    const rows: Buffer[] = [];
    for (const [i, photo] of positionals.entries()) rows.push(await row(blobs, path.resolve(photo), i));
    const width = CELL * (3 + FRAMES_SHOWN);
    await sharp({ create: { width, height: rows.length * (CELL + LABEL), channels: 4, background: '#ffffff' } })
      .composite(rows.map((input, i) => ({ input, left: 0, top: i * (CELL + LABEL) })))
      .png()
      .toFile(values.out!);
    process.stdout.write(`wrote ${values.out}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.exit(0); // model threads and runtimes would keep the process alive
}

void main();
