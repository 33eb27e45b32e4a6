/**
 * Reads back what a one-page print PDF really contains, for the preflight: its page boxes, every
 * image with its effective resolution, and every path stroked in the `CutContour` separation.
 * The content stream is tokenised and interpreted just far enough for that (graphics state
 * stack, current transformation matrix, stroke colour space, path construction); enough for the
 * files pdfkit writes, not a general PDF renderer.
 */
import { decodePDFRawStream, PDFArray, PDFDict, PDFDocument, PDFName, PDFNumber, PDFRawStream, type PDFPage } from 'pdf-lib';
import { CUT_CONTOUR } from './pdf.js';

/** PDF user space: points, origin at the page's bottom-left corner, y up. */
export interface PdfBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Subpath {
  /** Every point the path is built from, Bézier control points included, in user space. */
  points: Array<[number, number]>;
  closed: boolean;
}

export interface PrintFileContents {
  pages: number;
  mediaBox: PdfBox;
  /** Undefined when the page declares none. */
  trimBox?: PdfBox;
  bleedBox: PdfBox;
  images: Array<{ widthPx: number; heightPx: number; placedPt: { width: number; height: number }; dpi: number }>;
  /** Whether the page's resources declare a Separation colour space named CutContour. */
  hasCutContourSeparation: boolean;
  cutSubpaths: Subpath[];
}

type Matrix = [number, number, number, number, number, number];
const IDENTITY: Matrix = [1, 0, 0, 1, 0, 0];
const multiply = (m: Matrix, n: Matrix): Matrix => [
  m[0] * n[0] + m[1] * n[2],
  m[0] * n[1] + m[1] * n[3],
  m[2] * n[0] + m[3] * n[2],
  m[2] * n[1] + m[3] * n[3],
  m[4] * n[0] + m[5] * n[2] + n[4],
  m[4] * n[1] + m[5] * n[3] + n[5],
];
const apply = (m: Matrix, x: number, y: number): [number, number] => [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]];

const rect = (r: { x: number; y: number; width: number; height: number }): PdfBox => ({ x: r.x, y: r.y, width: r.width, height: r.height });

/** Throws pdf-lib's error when the bytes are not a PDF it can parse. */
export async function readPrintFile(bytes: Uint8Array): Promise<PrintFileContents> {
  const doc = await PDFDocument.load(bytes, { updateMetadata: false });
  const page = doc.getPage(0);
  return {
    pages: doc.getPageCount(),
    mediaBox: rect(page.getMediaBox()),
    trimBox: page.node.TrimBox() ? rect(page.getTrimBox()) : undefined,
    bleedBox: rect(page.getBleedBox()),
    ...interpret(page),
  };
}

function separationNames(page: PDFPage): Map<string, string> {
  const names = new Map<string, string>();
  const spaces = page.node.Resources()?.lookupMaybe(PDFName.of('ColorSpace'), PDFDict);
  for (const [key, value] of spaces?.entries() ?? []) {
    const space = page.doc.context.lookup(value);
    if (space instanceof PDFArray && space.lookup(0) === PDFName.of('Separation')) {
      const name = space.lookup(1);
      if (name instanceof PDFName) names.set(key.decodeText(), name.decodeText());
    }
  }
  return names;
}

function contentText(page: PDFPage): string {
  const contents = page.node.Contents();
  if (!contents) return '';
  const streams = contents instanceof PDFArray ? contents.asArray().map((r) => page.doc.context.lookup(r)) : [contents];
  return streams
    .map((s) => (s instanceof PDFRawStream ? Buffer.from(decodePDFRawStream(s).decode()).toString('latin1') : ''))
    .join('\n');
}

/** Operands, names and operators of a content stream; strings and arrays are skipped. */
const TOKENS = /\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>|\/[^\s/[\]()<>{}%]*|[-+]?(?:\d+\.?\d*|\.\d+)|[A-Za-z'"*]+|%[^\r\n]*/g;

function interpret(page: PDFPage): Pick<PrintFileContents, 'images' | 'hasCutContourSeparation' | 'cutSubpaths'> {
  const separations = separationNames(page);
  const xObjects = page.node.Resources()?.lookupMaybe(PDFName.of('XObject'), PDFDict);
  const images: PrintFileContents['images'] = [];
  const cutSubpaths: Subpath[] = [];
  let state = { ctm: IDENTITY, strokeSpace: '' };
  const stack: (typeof state)[] = [];
  let path: Subpath[] = [];
  let operands: string[] = [];
  const num = (i: number) => Number(operands[operands.length - i]);
  const addPoint = (x: number, y: number) => path.at(-1)?.points.push(apply(state.ctm, x, y));

  for (const token of contentText(page).match(TOKENS) ?? []) {
    if (!/^[A-Za-z'"*]/.test(token)) {
      if (!token.startsWith('%')) operands.push(token);
      continue;
    }
    switch (token) {
      case 'q':
        stack.push(state);
        break;
      case 'Q':
        state = stack.pop() ?? state;
        break;
      case 'cm':
        state = { ...state, ctm: multiply([num(6), num(5), num(4), num(3), num(2), num(1)], state.ctm) };
        break;
      case 'CS':
        state = { ...state, strokeSpace: operands.at(-1)?.slice(1) ?? '' };
        break;
      case 'G':
      case 'RG':
      case 'K':
        state = { ...state, strokeSpace: 'Device' };
        break;
      case 'm':
        path.push({ points: [apply(state.ctm, num(2), num(1))], closed: false });
        break;
      case 'l':
        addPoint(num(2), num(1));
        break;
      case 'c':
        for (const i of [6, 4, 2]) addPoint(num(i), num(i - 1));
        break;
      case 'v':
      case 'y':
        for (const i of [4, 2]) addPoint(num(i), num(i - 1));
        break;
      case 'h':
        if (path.at(-1)) path.at(-1)!.closed = true;
        break;
      case 're': {
        const [x, y, w, h] = [num(4), num(3), num(2), num(1)];
        path.push({ points: [apply(state.ctm, x, y), apply(state.ctm, x + w, y), apply(state.ctm, x + w, y + h), apply(state.ctm, x, y + h)], closed: true });
        break;
      }
      case 's':
      case 'b':
      case 'b*':
        if (path.at(-1)) path.at(-1)!.closed = true;
      // falls through: these close, then paint like their upper-case forms
      case 'S':
      case 'B':
      case 'B*':
        if (separations.get(state.strokeSpace) === CUT_CONTOUR) cutSubpaths.push(...path);
        path = [];
        break;
      case 'f':
      case 'F':
      case 'f*':
      case 'n':
        path = [];
        break;
      case 'Do': {
        const image = xObjects?.lookup(PDFName.of(operands.at(-1)?.slice(1) ?? ''));
        if (image instanceof PDFRawStream && image.dict.get(PDFName.of('Subtype')) === PDFName.of('Image')) {
          const size = (key: string) => (image.dict.get(PDFName.of(key)) as PDFNumber).asNumber();
          const [a, b, c, d] = state.ctm;
          const placedPt = { width: Math.hypot(a, b), height: Math.hypot(c, d) };
          const widthPx = size('Width');
          const heightPx = size('Height');
          const dpi = Math.min(widthPx / (placedPt.width / 72), heightPx / (placedPt.height / 72));
          images.push({ widthPx, heightPx, placedPt, dpi });
        }
        break;
      }
    }
    operands = [];
  }
  return { images, hasCutContourSeparation: [...separations.values()].includes(CUT_CONTOUR), cutSubpaths };
}
