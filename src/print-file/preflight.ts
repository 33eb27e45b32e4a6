/**
 * Preflight: checks a print file the way a printer's prepress would before it is sent: page =
 * trim + bleed on every side (≥ 1/8 in), a TrimBox of the ordered size, every image at ≥ 300
 * effective dpi, a closed cut path stroked in the `CutContour` separation inside the bleed box,
 * and a QR code that decodes to the viewer URL from the rasterised page at 300 and at 150 dpi
 * (poppler's `pdftoppm`, decoded with jsQR). The first failed check throws `PreflightFailed`.
 */
import jsQRModule from 'jsqr';
import { PreflightFailed } from './errors.js';
import { ART_DPI, BLEED_IN, inchesToPt, pageLayout } from './layout.js';
import { rasterizeGray, type GrayRaster } from './raster.js';
import { type PdfBox, type PrintFileContents, readPrintFile } from './read.js';
import type { PrintFileSpec } from './render.js';

// jsqr is CommonJS typed as `export default`: under NodeNext, Node hands over module.exports,
// whose `.default` is the function (a bundler may hand over the function itself).
const jsQR: typeof jsQRModule.default =
  typeof jsQRModule === 'function' ? jsQRModule : (jsQRModule as unknown as { default: typeof jsQRModule.default }).default;

/** Both resolutions must decode: 300 dpi is a print proof, 150 dpi a blurry, distant phone. */
export const QR_CHECK_DPIS = [300, 150] as const;
/** Rounding in the PDF writer's numbers; far below anything a printer could notice. */
const TOLERANCE_PT = 0.01;

export interface PreflightReport {
  /** Boxes in PDF user space: points from the page's bottom-left corner. */
  pageSizePt: { width: number; height: number };
  trimBoxPt: PdfBox;
  bleedPt: number;
  art: Array<{ widthPx: number; heightPx: number; dpi: number }>;
  minArtDpi: number;
  cutContour: { subpaths: number; points: number; closed: boolean; boundsPt: PdfBox };
  qr: Array<{ dpi: number; decoded: string | null; ms: number }>;
  timingsMs: { structure: number; qr: number; total: number };
}

export async function preflightPrintFile(pdf: Buffer, spec: PrintFileSpec, opts: { pdftoppmPath?: string } = {}): Promise<PreflightReport> {
  const started = performance.now();
  const contents = await readStructure(pdf);
  const { pageSizePt, trimBoxPt, bleedPt } = checkBoxes(contents, spec);
  const art = checkArt(contents);
  const cutContour = checkCutContour(contents);
  const structureDone = performance.now();
  const qr = await checkQr(pdf, spec, opts.pdftoppmPath ?? 'pdftoppm');
  const done = performance.now();
  return {
    pageSizePt,
    trimBoxPt,
    bleedPt,
    art,
    minArtDpi: Math.min(...art.map((a) => a.dpi)),
    cutContour,
    qr,
    timingsMs: { structure: structureDone - started, qr: done - structureDone, total: done - started },
  };
}

async function readStructure(pdf: Buffer): Promise<PrintFileContents> {
  if (!pdf.subarray(0, 1024).includes('%PDF-')) throw new PreflightFailed('not-pdf', 'the file has no %PDF- header');
  try {
    return await readPrintFile(pdf);
  } catch (e) {
    throw new PreflightFailed('not-pdf', `the file cannot be read as a PDF: ${(e as Error).message}`);
  }
}

const fmt = (n: number) => n.toFixed(2);
const boxText = (b: PdfBox) => `[${[b.x, b.y, b.x + b.width, b.y + b.height].map(fmt).join(' ')}]`;

function checkBoxes(c: PrintFileContents, spec: PrintFileSpec) {
  const media = c.mediaBox;
  const pageSizePt = { width: media.width, height: media.height };
  const trim = c.trimBox;
  if (!trim) throw new PreflightFailed('trim-box', 'the page has no TrimBox');
  const side = inchesToPt(spec.sizeInches);
  if (Math.abs(trim.width - side) > TOLERANCE_PT || Math.abs(trim.height - side) > TOLERANCE_PT) {
    throw new PreflightFailed('trim-box', `the TrimBox is ${fmt(trim.width)}×${fmt(trim.height)} pt; a ${spec.sizeInches}-inch sticker needs ${fmt(side)}×${fmt(side)} pt`);
  }
  const margins = {
    left: trim.x - media.x,
    right: media.x + media.width - (trim.x + trim.width),
    bottom: trim.y - media.y,
    top: media.y + media.height - (trim.y + trim.height),
  };
  const bleedPt = Math.min(...Object.values(margins));
  if (bleedPt < inchesToPt(BLEED_IN) - TOLERANCE_PT) {
    throw new PreflightFailed('bleed-too-small', `the bleed is ${fmt(bleedPt)} pt on one side (TrimBox ${boxText(trim)} in MediaBox ${boxText(media)}); at least ${fmt(inchesToPt(BLEED_IN))} pt (1/8 in) is needed`);
  }
  const expected = { width: trim.width + 2 * margins.left, height: trim.height + 2 * margins.bottom };
  if (Math.abs(media.width - expected.width) > TOLERANCE_PT || Math.abs(media.height - expected.height) > TOLERANCE_PT) {
    throw new PreflightFailed(
      'page-size',
      `the page is ${fmt(media.width)}×${fmt(media.height)} pt, not the trim plus the same bleed on every side (${fmt(expected.width)}×${fmt(expected.height)} pt)`,
    );
  }
  return { pageSizePt, trimBoxPt: trim, bleedPt };
}

function checkArt(c: PrintFileContents) {
  if (!c.images.length) throw new PreflightFailed('no-art', 'the page places no image');
  const low = c.images.find((i) => i.dpi < ART_DPI - 0.5);
  if (low) {
    throw new PreflightFailed('art-dpi', `an image of ${low.widthPx}×${low.heightPx} px is placed at ${low.dpi.toFixed(0)} effective dpi; at least ${ART_DPI} dpi is needed`);
  }
  return c.images.map(({ widthPx, heightPx, dpi }) => ({ widthPx, heightPx, dpi }));
}

function checkCutContour(c: PrintFileContents): PreflightReport['cutContour'] {
  if (!c.hasCutContourSeparation) throw new PreflightFailed('no-cut-contour', 'the page has no Separation colour space named CutContour');
  const subpaths = c.cutSubpaths.filter((s) => s.points.length > 1);
  if (!subpaths.length) throw new PreflightFailed('no-cut-contour', 'no path is stroked in the CutContour separation');
  const isClosed = (s: (typeof subpaths)[number]) => {
    const [first, last] = [s.points[0]!, s.points.at(-1)!];
    return s.closed || Math.hypot(first[0] - last[0], first[1] - last[1]) <= TOLERANCE_PT;
  };
  const open = subpaths.filter((s) => !isClosed(s));
  if (open.length) throw new PreflightFailed('cut-path-open', `${open.length} of ${subpaths.length} cut paths are not closed: the blade would not free the sticker`);
  const points = subpaths.flatMap((s) => s.points);
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const boundsPt = { x: Math.min(...xs), y: Math.min(...ys), width: Math.max(...xs) - Math.min(...xs), height: Math.max(...ys) - Math.min(...ys) };
  const bleed = c.bleedBox;
  const outside =
    boundsPt.x < bleed.x - TOLERANCE_PT ||
    boundsPt.y < bleed.y - TOLERANCE_PT ||
    boundsPt.x + boundsPt.width > bleed.x + bleed.width + TOLERANCE_PT ||
    boundsPt.y + boundsPt.height > bleed.y + bleed.height + TOLERANCE_PT;
  if (outside) throw new PreflightFailed('cut-path-outside-bleed', `the cut path spans ${boxText(boundsPt)}, outside the BleedBox ${boxText(bleed)}`);
  return { subpaths: subpaths.length, points: points.length, closed: true, boundsPt };
}

/**
 * The QR code read back from the PDF rasterised at each check dpi: the region where the layout puts
 * its badge (which holds the quiet zone), with a margin of a quarter of the badge on every side,
 * so the decoder reads the printed pixels without scanning the whole page.
 */
async function checkQr(pdf: Buffer, spec: PrintFileSpec, pdftoppmPath: string): Promise<PreflightReport['qr']> {
  const url = spec.viewerUrl;
  const { badge, page } = pageLayout(spec.shape, spec.sizeInches);
  const margin = badge.width / 4;
  const x0 = Math.max(0, badge.x - margin);
  const y0 = Math.max(0, badge.y - margin);
  const region = { x: x0, y: y0, width: Math.min(page.width, badge.x + badge.width + margin) - x0, height: Math.min(page.height, badge.y + badge.height + margin) - y0 };
  const rasters = await Promise.all(QR_CHECK_DPIS.map((dpi) => rasterizeGray(pdf, dpi, pdftoppmPath, region)));
  const results = rasters.map((raster, i) => {
    const started = performance.now();
    const decoded = decodeQr(raster);
    return { dpi: QR_CHECK_DPIS[i]!, decoded, ms: performance.now() - started };
  });
  for (const r of results) {
    if (r.decoded === null) throw new PreflightFailed('qr-unreadable', `no QR code could be decoded from the page rasterised at ${r.dpi} dpi`);
    if (r.decoded !== url) throw new PreflightFailed('qr-wrong-url', `the QR code at ${r.dpi} dpi opens ${JSON.stringify(r.decoded)}, not ${JSON.stringify(url)}`);
  }
  return results;
}


function decodeQr({ data, width, height }: GrayRaster): string | null {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < data.length; i++, j += 4) {
    rgba[j] = rgba[j + 1] = rgba[j + 2] = data[i]!;
    rgba[j + 3] = 255;
  }
  return jsQR(rgba, width, height, { inversionAttempts: 'dontInvert' })?.data ?? null;
}

