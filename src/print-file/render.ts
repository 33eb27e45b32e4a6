/**
 * Renders the print file of one sticker: lays the page out for the shape and size, places the
 * art at 300 dpi, puts the QR badge on, traces (die-cut) or draws (circle, square) the cut line,
 * and writes the PDF. Also reports the geometry it chose, for the order's records and for tests.
 */
import type { Shape, SizeInches } from '../orders/product.js';
import { prepareArt } from './art.js';
import { type Pt, traceCutPath } from './contour.js';
import {
  ART_DPI,
  type Box,
  inchesToPt,
  MIN_QR_MODULE_MM,
  pageLayout,
  PT_PER_IN,
  ptToMm,
  QR_QUIET_MODULES,
  SAFE_INSET_IN,
  trimCutPath,
} from './layout.js';
import { type PrintPlan, writePrintPdf } from './pdf.js';
import { qrSymbol } from './qr.js';

export interface PrintFileSpec {
  shape: Shape;
  sizeInches: SizeInches;
  /** What the QR code opens: the buddy's viewer page. */
  viewerUrl: string;
}

/** What the renderer chose; points from the page's top-left corner, y down. */
export interface PrintGeometry {
  shape: Shape;
  sizeInches: SizeInches;
  pageSizePt: { width: number; height: number };
  bleedPt: number;
  trimBoxPt: Box;
  safeBoxPt: Box;
  art: { sourcePx: { width: number; height: number }; placedPx: { width: number; height: number }; boxPt: Box; dpi: number };
  qr: { version: number; modulesWithQuietZone: number; moduleMm: number; badgePt: Box };
  /** `points`: vertices of a traced die-cut path (0 for a drawn circle or square); `borderPt`: white border round the art. */
  cut: { kind: 'traced' | 'circle' | 'rounded-square'; points: number; borderPt: number };
}

export async function planPrintFile(art: Buffer, spec: PrintFileSpec): Promise<{ plan: PrintPlan; geometry: PrintGeometry }> {
  const layout = pageLayout(spec.shape, spec.sizeInches);
  const symbol = qrSymbol(spec.viewerUrl);
  const modules = symbol.size + 2 * QR_QUIET_MODULES;
  const moduleSize = layout.badge.width / modules;
  if (ptToMm(moduleSize) < MIN_QR_MODULE_MM) {
    throw new Error(
      `the viewer URL (${spec.viewerUrl.length} characters) needs a version ${symbol.version} QR code, whose modules would be ` +
        `${ptToMm(moduleSize).toFixed(2)} mm on a ${spec.sizeInches}-inch sticker (at least ${MIN_QR_MODULE_MM} mm scan reliably): shorten the URL`,
    );
  }
  const placed = await prepareArt(art, layout.characterBox);
  const borderPt = inchesToPt(SAFE_INSET_IN);
  let cutPath: string;
  let cutPoints: Pt[] = [];
  if (spec.shape === 'die-cut') {
    const pxPerPt = ART_DPI / PT_PER_IN;
    const b = layout.badge;
    const badgeRing = [
      { x: b.x, y: b.y },
      { x: b.x + b.width, y: b.y },
      { x: b.x + b.width, y: b.y + b.height },
      { x: b.x, y: b.y + b.height },
    ].map((p) => ({ x: p.x * pxPerPt, y: p.y * pxPerPt }));
    cutPoints = traceCutPath(placed.mask, [badgeRing], borderPt * pxPerPt).map((p) => ({ x: p.x / pxPerPt, y: p.y / pxPerPt }));
    cutPath = polygonPath(cutPoints);
  } else {
    cutPath = trimCutPath(spec.shape, layout.trim);
  }
  const plan: PrintPlan = {
    page: layout.page,
    trim: layout.trim,
    whiteBackground: spec.shape !== 'die-cut',
    art: { image: placed.image, box: placed.box },
    qr: { url: spec.viewerUrl, badge: layout.badge, moduleSize },
    cutPath,
  };
  const geometry: PrintGeometry = {
    shape: spec.shape,
    sizeInches: spec.sizeInches,
    pageSizePt: layout.page,
    bleedPt: layout.bleed,
    trimBoxPt: layout.trim,
    safeBoxPt: layout.safe,
    art: { sourcePx: placed.sourcePx, placedPx: placed.placedPx, boxPt: placed.box, dpi: (placed.placedPx.width / placed.box.width) * PT_PER_IN },
    qr: { version: symbol.version, modulesWithQuietZone: modules, moduleMm: ptToMm(moduleSize), badgePt: layout.badge },
    cut: {
      kind: spec.shape === 'die-cut' ? 'traced' : spec.shape === 'circle' ? 'circle' : 'rounded-square',
      points: cutPoints.length,
      borderPt: spec.shape === 'die-cut' ? borderPt : 0,
    },
  };
  return { plan, geometry };
}

export async function renderPrintFile(art: Buffer, spec: PrintFileSpec): Promise<{ pdf: Buffer; geometry: PrintGeometry }> {
  const { plan, geometry } = await planPrintFile(art, spec);
  return { pdf: await writePrintPdf(plan), geometry };
}

function polygonPath(points: Pt[]): string {
  const f = (n: number) => +n.toFixed(3);
  return `M ${points.map((p) => `${f(p.x)} ${f(p.y)}`).join(' L ')} Z`;
}
