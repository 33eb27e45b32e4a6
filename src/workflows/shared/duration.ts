/**
 * Durations as Temporal takes them ("3 days", or milliseconds), in milliseconds: with `ms`, the
 * parser the SDK itself uses (so the two never read a duration differently), rather than the
 * SDK's private `lib/time` module. Pure: safe in workflow code.
 */
import type { Duration } from '@temporalio/common';
import ms from 'ms';

export function durationMs(d: Duration): number {
  if (typeof d === 'number') return d;
  const n = ms(d);
  if (typeof n !== 'number' || Number.isNaN(n)) throw new TypeError(`not a duration: ${String(d)}`);
  return n;
}
