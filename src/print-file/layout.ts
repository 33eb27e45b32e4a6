/**
 * Where everything sits on the page of a print file, for every shape and size: the page (trim plus
 * bleed), the trim and safe areas, the box the character is fitted into, the QR badge, and the
 * size of one QR module. Pure arithmetic; all lengths are PDF points (1/72 in) measured from the
 * page's top-left corner, y pointing down, as pdfkit draws.
 *
 * Layout: the character fills the safe area's top-left, the QR badge (the symbol with its quiet
 * zone on an opaque white plate) sits in the safe area's bottom-right corner and overlaps the
 * character's box by half its side, so the two read as one design and a die-cut line runs round
 * both. For circles the safe area is the square inscribed in the safe circle.
 */
import type { Shape, SizeInches } from '../orders/product.js';

export const PT_PER_IN = 72;
/** The art is always placed at exactly this effective resolution. */
export const ART_DPI = 300;
/** Printers want at least 1/8 in of bleed on every side. */
export const BLEED_IN = 1 / 8;
/** Art and QR stay this far inside the cut line: on a die-cut sticker it is the white border. */
export const SAFE_INSET_IN = 1 / 8;
/** Corner radius of the square sticker's cut. */
export const SQUARE_CORNER_IN = 1 / 8;
/**
 * Side of the QR badge (symbol plus its 4-module quiet zone). A viewer URL of ~50 characters is a
 * version 5 symbol at level Q (37 + 8 modules): modules of 0.42 / 0.51 / 0.62 mm, all above the
 * 0.33 mm that phone cameras need at arm's length, and the badge stays under 40 % of the sticker.
 */
export const QR_BADGE_IN: Record<SizeInches, number> = { 2: 0.75, 3: 0.9, 4: 1.1 };
export const QR_QUIET_MODULES = 4;
export const MIN_QR_MODULE_MM = 0.33;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PageLayout {
  page: { width: number; height: number };
  bleed: number;
  trim: Box;
  /** Holds all art and the QR badge. */
  safe: Box;
  /** The character is fitted (contained, centred) into this box. */
  characterBox: Box;
  /** White plate holding the QR symbol and its quiet zone. */
  badge: Box;
}

export const inchesToPt = (inches: number) => inches * PT_PER_IN;
export const ptToMm = (pt: number) => (pt / PT_PER_IN) * 25.4;

export function pageLayout(shape: Shape, sizeInches: SizeInches): PageLayout {
  const bleed = inchesToPt(BLEED_IN);
  const side = inchesToPt(sizeInches);
  const trim: Box = { x: bleed, y: bleed, width: side, height: side };
  const inset = inchesToPt(SAFE_INSET_IN);
  const safeSide = shape === 'circle' ? (side - 2 * inset) / Math.SQRT2 : side - 2 * inset;
  const safeOffset = (side - safeSide) / 2;
  const safe: Box = { x: bleed + safeOffset, y: bleed + safeOffset, width: safeSide, height: safeSide };
  const badgeSide = inchesToPt(QR_BADGE_IN[sizeInches]);
  const badge: Box = { x: safe.x + safeSide - badgeSide, y: safe.y + safeSide - badgeSide, width: badgeSide, height: badgeSide };
  const characterSide = safeSide - badgeSide / 2;
  const characterBox: Box = { x: safe.x, y: safe.y, width: characterSide, height: characterSide };
  return { page: { width: side + 2 * bleed, height: side + 2 * bleed }, bleed, trim, safe, characterBox, badge };
}

/**
 * The art's placed size in pixels at exactly ART_DPI: the largest that fits the character box
 * with the art's aspect ratio, and the box (centred in the character box) it covers.
 */
export function placeArt(characterBox: Box, art: { width: number; height: number }): { widthPx: number; heightPx: number; box: Box } {
  const ptPerPx = PT_PER_IN / ART_DPI;
  const maxW = Math.floor(characterBox.width / ptPerPx);
  const maxH = Math.floor(characterBox.height / ptPerPx);
  const scale = Math.min(maxW / art.width, maxH / art.height);
  const widthPx = Math.max(1, Math.min(maxW, Math.round(art.width * scale)));
  const heightPx = Math.max(1, Math.min(maxH, Math.round(art.height * scale)));
  const width = widthPx * ptPerPx;
  const height = heightPx * ptPerPx;
  return {
    widthPx,
    heightPx,
    box: { x: characterBox.x + (characterBox.width - width) / 2, y: characterBox.y + (characterBox.height - height) / 2, width, height },
  };
}

/** The cut line of a circle or square sticker as an SVG path (page points). */
export function trimCutPath(shape: Exclude<Shape, 'die-cut'>, trim: Box): string {
  const f = (n: number) => +n.toFixed(3);
  if (shape === 'circle') {
    const r = trim.width / 2;
    const cx = trim.x + r;
    const cy = trim.y + r;
    return `M ${f(cx - r)} ${f(cy)} A ${f(r)} ${f(r)} 0 1 0 ${f(cx + r)} ${f(cy)} A ${f(r)} ${f(r)} 0 1 0 ${f(cx - r)} ${f(cy)} Z`;
  }
  const r = inchesToPt(SQUARE_CORNER_IN);
  const { x, y, width: w, height: h } = trim;
  return [
    `M ${f(x + r)} ${f(y)}`,
    `H ${f(x + w - r)} A ${f(r)} ${f(r)} 0 0 1 ${f(x + w)} ${f(y + r)}`,
    `V ${f(y + h - r)} A ${f(r)} ${f(r)} 0 0 1 ${f(x + w - r)} ${f(y + h)}`,
    `H ${f(x + r)} A ${f(r)} ${f(r)} 0 0 1 ${f(x)} ${f(y + h - r)}`,
    `V ${f(y + r)} A ${f(r)} ${f(r)} 0 0 1 ${f(x + r)} ${f(y)} Z`,
  ].join(' ');
}
