/**
 * Speed of the print file: rendering a 3-inch die-cut sticker (decode, resize to 300 dpi, trace
 * the cut, write the PDF) and preflighting it (PDF structure, then pdftoppm at 300 and 150 dpi
 * and a QR decode of each). Art: the astronaut test photo cut out as an oval, 1024×1024 RGBA:
 * detailed art (slower to encode than flat cartoon colours) at the upper end of the pipeline's sizes.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { preflightPrintFile, renderPrintFile, type PrintFileSpec } from '../src/print-file/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

async function timed(runs: number, fn: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times;
}

export async function benchPrintFile(opts: { quick: boolean }): Promise<Array<{ name: string; value: string; target: string; met: boolean | undefined; note: string }>> {
  const side = 1024;
  const oval = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><ellipse cx="512" cy="560" rx="400" ry="460"/></svg>`);
  const alpha = await sharp(oval).extractChannel(3).toBuffer();
  const art = await sharp(path.join(here, '../test/fixtures/photos/astronaut.png')).resize(side, side).joinChannel(alpha).png().toBuffer();
  const spec: PrintFileSpec = { shape: 'die-cut', sizeInches: 3, viewerUrl: 'http://localhost:3000/a/v_k3v9qpl2mxc8rty4bnw1a7zd' };
  const { pdf, geometry } = await renderPrintFile(art, spec); // warm-up: module loading, sharp's first run
  await preflightPrintFile(pdf, spec);

  const renders = await timed(opts.quick ? 10 : 30, () => renderPrintFile(art, spec));
  const preflights = await timed(opts.quick ? 5 : 15, () => preflightPrintFile(pdf, spec));
  const render = median(renders);
  const preflight = median(preflights);
  return [
    {
      name: 'print file render, 3-inch die-cut (p50)',
      value: `${render.toFixed(0)} ms`,
      target: '≤ 150 ms',
      met: render <= 150,
      note: `${renders.length} runs, ${side}×${side} photo-like RGBA art; p90 ${percentile(renders, 0.9).toFixed(0)} ms; ${(pdf.length / 1024).toFixed(0)} KB PDF, cut of ${geometry.cut.points} points`,
    },
    {
      name: 'print file preflight, 3-inch die-cut (p50)',
      value: `${preflight.toFixed(0)} ms`,
      target: '(report)',
      met: undefined,
      note: `${preflights.length} runs; PDF structure, then pdftoppm at 300 + 150 dpi and jsQR on each`,
    },
  ];
}
