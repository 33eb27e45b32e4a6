/**
 * The two ways a print file can be refused: the customer's art cannot make a sticker
 * (`ArtRejected`), or the file we produced does not pass its own checks (`PreflightFailed`, with a
 * stable `reason` code for workflows, alerts and tests). Both are permanent: retrying the same
 * input gives the same answer.
 */

export class ArtRejected extends Error {
  override readonly name = 'ArtRejected';
}

export const PREFLIGHT_REASONS = [
  'not-pdf',
  'page-size',
  'bleed-too-small',
  'trim-box',
  'no-art',
  'art-dpi',
  'no-cut-contour',
  'cut-path-open',
  'cut-path-outside-bleed',
  'qr-unreadable',
  'qr-wrong-url',
] as const;
export type PreflightReason = (typeof PREFLIGHT_REASONS)[number];

export class PreflightFailed extends Error {
  override readonly name = 'PreflightFailed';
  constructor(
    readonly reason: PreflightReason,
    message: string,
  ) {
    super(`print file preflight failed (${reason}): ${message}`);
  }
}
