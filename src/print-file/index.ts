/**
 * The print-ready PDF of a sticker order and its preflight: what the order workflow's activities
 * call. `renderPrintFile` lays out and writes the file; `preflightPrintFile` checks it (or any
 * file) before it goes to the printer.
 */
export { renderPrintFile, type PrintFileSpec, type PrintGeometry } from './render.js';
export { preflightPrintFile, type PreflightReport } from './preflight.js';
export { ArtRejected, PreflightFailed, PREFLIGHT_REASONS, type PreflightReason } from './errors.js';
