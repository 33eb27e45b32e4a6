/**
 * Writes a print plan as a one-page PDF with pdfkit: the page boxes (MediaBox = BleedBox, TrimBox
 * inside), the art image, the QR badge (a white plate, then the dark modules as vector runs in
 * 100 % K), and the cut line stroked in the `CutContour` separation (100 % magenta as its
 * alternate, 0.25 pt, overprinting so the RIP never knocks it out of the art).
 */
import { once } from 'node:events';
import PDFDocument from 'pdfkit';
import type { Box } from './layout.js';
import { QR_QUIET_MODULES } from './layout.js';
import { qrSymbol } from './qr.js';

export const CUT_CONTOUR = 'CutContour';
export const CUT_LINE_WIDTH_PT = 0.25;
const WHITE_CMYK: [number, number, number, number] = [0, 0, 0, 0];
const BLACK_K: [number, number, number, number] = [0, 0, 0, 100];

/** Everything the PDF shows, already laid out (points, page top-left origin, y down). */
export interface PrintPlan {
  page: { width: number; height: number };
  /** Absent only in files made to test the preflight. */
  trim?: Box;
  /** Circle and square stickers are white inside the cut; a die-cut one is white vinyl already. */
  whiteBackground: boolean;
  art: { image: Buffer; box: Box };
  /** The badge is the white plate; the symbol fills it, quiet zone included. */
  qr: { url: string; badge: Box; moduleSize: number };
  /** SVG path data of the cut line. */
  cutPath: string;
}

/** pdfkit features its type definitions leave out (they exist in pdfkit 0.20). */
interface PdfKitInternals {
  addSpotColor(name: string, c: number, m: number, y: number, k: number): unknown;
  ref(data: object): { end(): void };
  addContent(operators: string): unknown;
  page: { dictionary: { data: Record<string, unknown> }; ext_gstates: Record<string, unknown> };
}

export async function writePrintPdf(plan: PrintPlan): Promise<Buffer> {
  const { width, height } = plan.page;
  const doc = new PDFDocument({ size: [width, height], margin: 0, autoFirstPage: false, info: { Title: 'Sticker print file', Creator: 'stickerflow' } });
  const internals = doc as unknown as PdfKitInternals;
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(doc, 'end');

  doc.addPage({ size: [width, height], margin: 0 });
  const boxes = internals.page.dictionary.data;
  boxes.BleedBox = [0, 0, width, height];
  if (plan.trim) {
    // PDF boxes count y from the bottom.
    const t = plan.trim;
    boxes.TrimBox = [t.x, height - t.y - t.height, t.x + t.width, height - t.y];
  }

  if (plan.whiteBackground) doc.rect(0, 0, width, height).fill(WHITE_CMYK);
  const { image, box } = plan.art;
  doc.image(image, box.x, box.y, { width: box.width, height: box.height });
  drawQr(doc, plan.qr);
  drawCutLine(doc, internals, plan.cutPath);

  doc.end();
  await ended;
  return Buffer.concat(chunks);
}

function drawQr(doc: PDFKit.PDFDocument, qr: PrintPlan['qr']) {
  const { badge, moduleSize: m } = qr;
  doc.roundedRect(badge.x, badge.y, badge.width, badge.height, m).fill(WHITE_CMYK);
  const x0 = badge.x + QR_QUIET_MODULES * m;
  const y0 = badge.y + QR_QUIET_MODULES * m;
  for (const run of qrSymbol(qr.url).runs) doc.rect(x0 + run.col * m, y0 + run.row * m, run.length * m, m);
  doc.fill(BLACK_K);
}

function drawCutLine(doc: PDFKit.PDFDocument, internals: PdfKitInternals, cutPath: string) {
  internals.addSpotColor(CUT_CONTOUR, 0, 100, 0, 0);
  const overprint = internals.ref({ Type: 'ExtGState', OP: true, op: true, OPM: 1 });
  overprint.end();
  doc.save();
  internals.page.ext_gstates.GsCutContour = overprint;
  internals.addContent('/GsCutContour gs');
  doc.lineWidth(CUT_LINE_WIDTH_PT).lineJoin('round').strokeColor(CUT_CONTOUR).path(cutPath).stroke();
  doc.restore();
}
