/**
 * The QR code printed on every sticker: level Q (recovers 25 % of the symbol, so scuffs and a
 * drifting cut do not kill it) and drawn as dark runs that the PDF writer fills as vectors.
 */
import QRCode from 'qrcode';

export const QR_ERROR_CORRECTION = 'Q' as const;

export interface QrSymbol {
  version: number;
  /** Modules per side, without the quiet zone. */
  size: number;
  /** Horizontal runs of dark modules, in module units: one rectangle each. */
  runs: Array<{ row: number; col: number; length: number }>;
}

export function qrSymbol(text: string): QrSymbol {
  const { modules, version } = QRCode.create(text, { errorCorrectionLevel: QR_ERROR_CORRECTION });
  const runs: QrSymbol['runs'] = [];
  for (let row = 0; row < modules.size; row++) {
    for (let col = 0; col < modules.size; ) {
      if (!modules.get(row, col)) {
        col++;
        continue;
      }
      const start = col;
      while (col < modules.size && modules.get(row, col)) col++;
      runs.push({ row, col: start, length: col - start });
    }
  }
  return { version, size: modules.size, runs };
}
