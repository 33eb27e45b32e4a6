/** The shopper's way back from a checkout, the same for sticker orders and credit packs. */
import type { Context } from 'koa';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The shopper's return from a checkout (an order's or a pack's): `fulfil` hands a paid session
 * over, given at most `waitMs` (default 8 s); then, whatever happened, 303 to `location`,
 * revealing nothing. Problems go to `onError` (the webhook fulfils the payment anyway).
 */
export async function answerCheckoutReturn(
  ctx: Context,
  fulfil: () => Promise<void>,
  opts: { waitMs?: number; location: string; onError: (err: unknown) => void },
): Promise<void> {
  const work = fulfil().catch(opts.onError);
  await Promise.race([work, sleep(opts.waitMs ?? 8000, undefined, { ref: false })]);
  ctx.set({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  ctx.status = 303;
  ctx.redirect(opts.location);
}
