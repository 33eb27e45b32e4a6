/**
 * The print file: page geometry, 300 dpi art, the CutContour line, the QR code read back from
 * the rasterised PDF, and the preflight refusing each kind of broken file with its reason code.
 */
import PDFDocument from 'pdfkit';
import { decodePDFRawStream, PDFArray, PDFDict, PDFDocument as PdfLibDocument, PDFName, PDFNumber, PDFRawStream } from 'pdf-lib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { SHAPES, SIZES_INCHES, type Shape, type SizeInches } from '../../src/orders/product.js';
import { prepareArt } from '../../src/print-file/art.js';
import { ArtRejected, PreflightFailed, preflightPrintFile, renderPrintFile, type PreflightReason, type PrintFileSpec } from '../../src/print-file/index.js';
import { pageLayout, SAFE_INSET_IN, trimCutPath } from '../../src/print-file/layout.js';
import { type PrintPlan, writePrintPdf } from '../../src/print-file/pdf.js';
import { readPrintFile, type PrintFileContents } from '../../src/print-file/read.js';
import { planPrintFile } from '../../src/print-file/render.js';

const VIEWER_URL = 'http://localhost:3000/a/v_k3v9qpl2mxc8rty4bnw1a7zd';
const spec = (shape: Shape, sizeInches: SizeInches): PrintFileSpec => ({ shape, sizeInches, viewerUrl: VIEWER_URL });

/** Transparent PNG art drawn from SVG shapes. */
const svgArt = (size: number, shapes: string) =>
  sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${shapes}</svg>`))
    .png()
    .toBuffer();

/** A buddy-like character: head, body, one arm, eyes; transparent around it. */
const character = () =>
  svgArt(
    768,
    `<ellipse cx="384" cy="476" rx="200" ry="230" fill="#e8743b"/>
     <circle cx="384" cy="230" r="154" fill="#f2c39b"/>
     <circle cx="330" cy="207" r="23" fill="#222"/><circle cx="438" cy="207" r="23" fill="#222"/>
     <rect x="115" y="384" width="92" height="46" rx="23" fill="#e8743b"/>`,
  );

let art: Buffer;
beforeAll(async () => {
  art = await character();
});

async function expectPreflightFailure(pdf: Buffer, s: PrintFileSpec, reason: PreflightReason, message: RegExp) {
  const error = await preflightPrintFile(pdf, s).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PreflightFailed);
  expect((error as PreflightFailed).reason).toBe(reason);
  expect((error as PreflightFailed).message).toMatch(message);
}

const pointInPolygon = (x: number, y: number, poly: Array<[number, number]>) => {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
};

const distanceToPolygon = (x: number, y: number, poly: Array<[number, number]>) => {
  let best = Infinity;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [ax, ay] = poly[j]!;
    const [bx, by] = poly[i]!;
    const len2 = (bx - ax) ** 2 + (by - ay) ** 2;
    const t = len2 ? Math.max(0, Math.min(1, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / len2)) : 0;
    best = Math.min(best, Math.hypot(x - (ax + t * (bx - ax)), y - (ay + t * (by - ay))));
  }
  return best;
};

/**
 * Every opaque pixel of the placed art lies inside the die-cut path read from the PDF, and the
 * art's edge stays (nearly) a full white border away from the blade.
 */
async function expectCutEnclosesArt(contents: PrintFileContents, artPng: Buffer, s: PrintFileSpec) {
  const layout = pageLayout(s.shape, s.sizeInches);
  const { mask } = await prepareArt(artPng, layout.characterBox);
  const poly = contents.cutSubpaths[0]!.points;
  const ptPerPx = 72 / 300;
  const toUser = (px: number, py: number): [number, number] => [(mask.left + px + 0.5) * ptPerPx, layout.page.height - (mask.top + py + 0.5) * ptPerPx];
  const opaque = (px: number, py: number) => px >= 0 && py >= 0 && px < mask.width && py < mask.height && mask.data[py * mask.width + px]! >= 128;
  let checked = 0;
  let nearest = Infinity;
  for (let py = 0; py < mask.height; py++) {
    for (let px = 0; px < mask.width; px++) {
      if (!opaque(px, py)) continue;
      const [x, y] = toUser(px, py);
      if (!pointInPolygon(x, y, poly)) throw new Error(`opaque art pixel (${px}, ${py}) lies outside the cut path`);
      checked++;
      if (!opaque(px - 1, py) || !opaque(px + 1, py) || !opaque(px, py - 1) || !opaque(px, py + 1)) nearest = Math.min(nearest, distanceToPolygon(x, y, poly));
    }
  }
  expect(checked).toBeGreaterThan(1000);
  // The border is 1/8 in = 9 pt; allow for the alpha threshold's sub-pixel edge and simplification.
  expect(nearest).toBeGreaterThan(SAFE_INSET_IN * 72 - 1);
}

describe('renderPrintFile, every shape and size', () => {
  for (const shape of SHAPES) {
    for (const size of SIZES_INCHES) {
      it(`${size}-inch ${shape}: boxes, 300 dpi art, one closed CutContour path in the bleed, QR at 300 and 150 dpi`, async () => {
        const s = spec(shape, size);
        const { pdf, geometry } = await renderPrintFile(art, s);
        const contents = await readPrintFile(pdf);
        const side = size * 72;
        const page = side + 2 * 9;

        expect(contents.pages).toBe(1);
        expect(contents.mediaBox).toEqual({ x: 0, y: 0, width: page, height: page });
        expect(contents.bleedBox).toEqual(contents.mediaBox);
        expect(contents.trimBox).toEqual({ x: 9, y: 9, width: side, height: side });
        expect(geometry.pageSizePt).toEqual({ width: page, height: page });

        expect(contents.images).toHaveLength(1);
        expect(contents.images[0]!.dpi).toBeCloseTo(300, 6);
        expect(contents.images[0]!.widthPx).toBe(geometry.art.placedPx.width);

        expect(contents.hasCutContourSeparation).toBe(true);
        expect(contents.cutSubpaths).toHaveLength(1);
        const cut = contents.cutSubpaths[0]!;
        expect(cut.closed).toBe(true);
        for (const [x, y] of cut.points) {
          // Inside the trim box, so inside the bleed box too.
          expect(x).toBeGreaterThanOrEqual(9 - 0.01);
          expect(x).toBeLessThanOrEqual(9 + side + 0.01);
          expect(y).toBeGreaterThanOrEqual(9 - 0.01);
          expect(y).toBeLessThanOrEqual(9 + side + 0.01);
        }

        // Art and QR badge inside the safe area (for circles: inside the safe circle).
        const safe = geometry.safeBoxPt;
        for (const box of [geometry.art.boxPt, geometry.qr.badgePt]) {
          expect(box.x).toBeGreaterThanOrEqual(safe.x - 1e-9);
          expect(box.y).toBeGreaterThanOrEqual(safe.y - 1e-9);
          expect(box.x + box.width).toBeLessThanOrEqual(safe.x + safe.width + 1e-9);
          expect(box.y + box.height).toBeLessThanOrEqual(safe.y + safe.height + 1e-9);
        }
        if (shape === 'circle') {
          const c = 9 + side / 2;
          const b = geometry.qr.badgePt;
          expect(Math.hypot(b.x + b.width - c, b.y + b.height - c)).toBeLessThanOrEqual(side / 2 - 9 + 1e-9);
        }
        expect(geometry.qr).toMatchObject({ version: 5, modulesWithQuietZone: 45 });
        expect(geometry.qr.moduleMm).toBeGreaterThanOrEqual(0.42);

        if (shape === 'die-cut') {
          expect(geometry.cut).toMatchObject({ kind: 'traced', borderPt: 9 });
          expect(cut.points.length).toBe(geometry.cut.points);
          await expectCutEnclosesArt(contents, art, s);
        }

        const report = await preflightPrintFile(pdf, s);
        expect(report.qr).toEqual([
          expect.objectContaining({ dpi: 300, decoded: VIEWER_URL }),
          expect.objectContaining({ dpi: 150, decoded: VIEWER_URL }),
        ]);
        expect(report.minArtDpi).toBeCloseTo(300, 6);
        expect(report.bleedPt).toBeCloseTo(9, 6);
        expect(report.cutContour).toMatchObject({ subpaths: 1, closed: true });
      });
    }
  }

  it('strokes the cut in a CutContour separation (100 % magenta alternate), 0.25 pt, overprinting', async () => {
    const { pdf } = await renderPrintFile(art, spec('die-cut', 3));
    const doc = await PdfLibDocument.load(pdf);
    const resources = doc.getPage(0).node.Resources()!;
    const spaces = resources.lookup(PDFName.of('ColorSpace'), PDFDict);
    const separation = spaces
      .values()
      .map((v) => doc.context.lookup(v))
      .find((v): v is PDFArray => v instanceof PDFArray && v.lookup(1) === PDFName.of('CutContour'))!;
    expect(separation.lookup(0)).toBe(PDFName.of('Separation'));
    expect(separation.lookup(2)).toBe(PDFName.of('DeviceCMYK'));
    const tint = separation.lookup(3, PDFDict).lookup(PDFName.of('C1'), PDFArray);
    expect(tint.asArray().map((n) => (n as PDFNumber).asNumber())).toEqual([0, 1, 0, 0]);
    const states = resources.lookup(PDFName.of('ExtGState'), PDFDict);
    const overprint = states.lookup(PDFName.of('GsCutContour'), PDFDict);
    expect(overprint.get(PDFName.of('OP'))?.toString()).toBe('true');
    expect(overprint.get(PDFName.of('op'))?.toString()).toBe('true');
    expect(await readContentText(pdf)).toMatch(/\/GsCutContour gs\s+0\.25 w\s+1 j\s+\/CS\d+ CS\s+1 SCN/);
  });

  it('draws the QR code as vector modules in 100 % K on a white plate', async () => {
    const content = await readContentText((await renderPrintFile(art, spec('square', 2))).pdf);
    expect(content).toMatch(/\/DeviceCMYK cs\s+0 0 0 1 scn\s+f/);
    expect(content.match(/ re\b/g)!.length).toBeGreaterThan(100);
  });

  it('refuses a viewer URL too long for a scannable QR code on the sticker', async () => {
    const long = { ...spec('die-cut', 2), viewerUrl: `http://localhost:3000/a/${'v'.repeat(200)}` };
    await expect(renderPrintFile(art, long)).rejects.toThrow(/modules would be 0\.\d+ mm on a 2-inch sticker .*shorten the URL/);
  });
});

async function readContentText(pdf: Buffer): Promise<string> {
  const doc = await PdfLibDocument.load(pdf);
  const contents = doc.getPage(0).node.Contents();
  return contents instanceof PDFRawStream ? Buffer.from(decodePDFRawStream(contents).decode()).toString('latin1') : '';
}

describe('renderPrintFile, awkward art', () => {
  it('refuses fully transparent art', async () => {
    const empty = await sharp({ create: { width: 512, height: 512, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    await expect(renderPrintFile(empty, spec('die-cut', 3))).rejects.toThrow(ArtRejected);
    await expect(renderPrintFile(empty, spec('circle', 3))).rejects.toThrow(/fully transparent/);
  });

  it('refuses art that is not a PNG, or not an image at all', async () => {
    const jpeg = await sharp(art).flatten({ background: '#fff' }).jpeg().toBuffer();
    await expect(renderPrintFile(jpeg, spec('die-cut', 3))).rejects.toThrow(new ArtRejected('the art must be a PNG with a transparent background, not jpeg'));
    await expect(renderPrintFile(Buffer.from('not an image'), spec('die-cut', 3))).rejects.toThrow(/not a readable image/);
  });

  it('art touching every edge of its image: one closed cut round all of it', async () => {
    const edgy = await svgArt(600, `<ellipse cx="300" cy="300" rx="300" ry="300" fill="#3b7be8"/><rect x="0" y="250" width="600" height="100" fill="#123"/>`);
    const s = spec('die-cut', 3);
    const { pdf } = await renderPrintFile(edgy, s);
    const contents = await readPrintFile(pdf);
    expect(contents.cutSubpaths).toHaveLength(1);
    expect(contents.cutSubpaths[0]!.closed).toBe(true);
    await expectCutEnclosesArt(contents, edgy, s);
    await preflightPrintFile(pdf, s);
  });

  it('art in separate islands: still one closed cut (the sticker is one piece)', async () => {
    const islands = await svgArt(
      1024,
      `<circle cx="150" cy="150" r="120" fill="#e83b6b"/><circle cx="880" cy="140" r="100" fill="#3be87b"/>
       <rect x="60" y="760" width="200" height="200" fill="#333"/><circle cx="512" cy="512" r="60" fill="#e8c33b"/>`,
    );
    const s = spec('die-cut', 4);
    const { pdf } = await renderPrintFile(islands, s);
    const contents = await readPrintFile(pdf);
    expect(contents.cutSubpaths).toHaveLength(1);
    expect(contents.cutSubpaths[0]!.closed).toBe(true);
    await expectCutEnclosesArt(contents, islands, s);
    await preflightPrintFile(pdf, s);
  });

  it('art with a hole: the cut goes round the outside only', async () => {
    const ring = await svgArt(800, `<circle cx="400" cy="400" r="330" fill="none" stroke="#8a3be8" stroke-width="120"/>`);
    const s = spec('die-cut', 3);
    const { pdf, geometry } = await renderPrintFile(ring, s);
    const contents = await readPrintFile(pdf);
    expect(contents.cutSubpaths).toHaveLength(1);
    await expectCutEnclosesArt(contents, ring, s);
    // The hole's centre stays part of the sticker.
    const a = geometry.art.boxPt;
    expect(pointInPolygon(a.x + a.width / 2, geometry.pageSizePt.height - (a.y + a.height / 2), contents.cutSubpaths[0]!.points)).toBe(true);
  });
});

describe('preflightPrintFile refuses a broken file', () => {
  const s = spec('die-cut', 3);
  let plan: PrintPlan;
  let side: number;
  beforeAll(async () => {
    ({ plan } = await planPrintFile(art, s));
    side = s.sizeInches * 72;
  });
  const variant = (changes: Partial<PrintPlan>) => writePrintPdf({ ...plan, ...changes });

  it('not a PDF', async () => {
    await expectPreflightFailure(Buffer.from('hello'), s, 'not-pdf', /no %PDF- header/);
    await expectPreflightFailure(art, s, 'not-pdf', /no %PDF- header/);
    await expectPreflightFailure(Buffer.from('%PDF-1.4\n%%EOF\n'), s, 'not-pdf', /cannot be read as a PDF/);
  });

  it('a page that is not the trim plus the same bleed on every side', async () => {
    const pdf = await variant({ page: { width: plan.page.width + 20, height: plan.page.height } });
    await expectPreflightFailure(pdf, s, 'page-size', /not the trim plus the same bleed on every side/);
  });

  it('a bleed under 1/8 in', async () => {
    const pdf = await variant({ page: { width: side + 8, height: side + 8 }, trim: { x: 4, y: 4, width: side, height: side } });
    await expectPreflightFailure(pdf, s, 'bleed-too-small', /the bleed is 4\.00 pt .* at least 9\.00 pt/);
  });

  it('no TrimBox, or a TrimBox of another size than ordered', async () => {
    await expectPreflightFailure(await variant({ trim: undefined }), s, 'trim-box', /no TrimBox/);
    await expectPreflightFailure(await variant({}), spec('die-cut', 4), 'trim-box', /216\.00×216\.00 pt; a 4-inch sticker needs 288\.00×288\.00 pt/);
  });

  it('art under 300 effective dpi', async () => {
    const meta = await sharp(plan.art.image).metadata();
    const half = await sharp(plan.art.image).resize(Math.round(meta.width! / 2), Math.round(meta.height! / 2)).png().toBuffer();
    await expectPreflightFailure(await variant({ art: { ...plan.art, image: half } }), s, 'art-dpi', /placed at 150 effective dpi; at least 300/);
  });

  it('no cut path in the CutContour separation', async () => {
    await expectPreflightFailure(await variant({ cutPath: '' }), s, 'no-cut-contour', /no path is stroked in the CutContour separation/);
  });

  it('a cut line in plain magenta instead of a CutContour separation', async () => {
    const doc = new PDFDocument({ size: [plan.page.width, plan.page.height], margin: 0 });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((resolve) => doc.on('end', resolve));
    (doc as unknown as { page: { dictionary: { data: Record<string, unknown> } } }).page.dictionary.data.TrimBox = [9, 9, 9 + side, 9 + side];
    doc.image(plan.art.image, plan.art.box.x, plan.art.box.y, { width: plan.art.box.width, height: plan.art.box.height });
    doc.lineWidth(0.25).strokeColor([0, 100, 0, 0]).path(plan.cutPath).stroke();
    doc.end();
    await ended;
    await expectPreflightFailure(Buffer.concat(chunks), s, 'no-cut-contour', /no Separation colour space named CutContour/);
  });

  it('an open cut path', async () => {
    expect(plan.cutPath.endsWith(' Z')).toBe(true);
    await expectPreflightFailure(await variant({ cutPath: plan.cutPath.slice(0, -2) }), s, 'cut-path-open', /1 of 1 cut paths are not closed/);
  });

  it('a cut path outside the bleed box', async () => {
    const shifted = trimCutPath('square', { x: 30, y: 9, width: side, height: side });
    await expectPreflightFailure(await variant({ cutPath: shifted }), s, 'cut-path-outside-bleed', /outside the BleedBox \[0\.00 0\.00 234\.00 234\.00\]/);
  });

  it('no QR code, or one too small to read', async () => {
    await expectPreflightFailure(await variant({ qr: { ...plan.qr, moduleSize: 0 } }), s, 'qr-unreadable', /no QR code could be decoded from the page rasterised at 300 dpi/);
    await expectPreflightFailure(await variant({ qr: { ...plan.qr, moduleSize: 0.3 } }), s, 'qr-unreadable', /rasterised at (300|150) dpi/);
  });

  it('a QR code that opens another URL', async () => {
    const other = 'http://localhost:3000/a/v_someoneelsesbuddy0000000';
    await expectPreflightFailure(await variant({ qr: { ...plan.qr, url: other } }), s, 'qr-wrong-url', new RegExp(`opens "${other}", not "${VIEWER_URL}"`));
  });
});

describe('rasterizing for the preflight', () => {
  it('serves many preflights at once through its shells, each reading its own file', async () => {
    const files = await Promise.all(
      (['die-cut', 'circle', 'square'] as const).flatMap((shape) => [2, 4].map((size) => renderPrintFile(art, spec(shape, size as SizeInches)))),
    );
    const reports = await Promise.all(files.map(({ pdf }, i) => preflightPrintFile(pdf, spec((['die-cut', 'circle', 'square'] as const)[Math.floor(i / 2)]!, ([2, 4] as const)[i % 2]!))));
    for (const r of reports) expect(r.qr.map((q) => q.decoded)).toEqual([VIEWER_URL, VIEWER_URL]);
  });

  it('says clearly when pdftoppm is missing, and when it fails', async () => {
    const { pdf } = await renderPrintFile(art, spec('square', 3));
    await expect(preflightPrintFile(pdf, spec('square', 3), { pdftoppmPath: '/nonexistent/pdftoppm' })).rejects.toThrow(
      'pdftoppm not found at "/nonexistent/pdftoppm": install poppler-utils',
    );
    await expect(preflightPrintFile(pdf, spec('square', 3), { pdftoppmPath: 'false' })).rejects.toThrow(/pdftoppm failed \(exit 1\)/);
  });
});
