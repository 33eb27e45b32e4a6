/**
 * Signed, expiring links to an order's print file:
 * `<public url>/files/orders/<id>/print.pdf?expires=<unix seconds>&sig=<base64url HMAC-SHA256>`,
 * the signature over the order id and the expiry. The order id alone no longer opens the file: it
 * travels in URLs (the checkout's success URL, the order page). The worker signs the links it
 * hands to printers (`submitPrintOrder`) and the API checks them, often in separate processes, so
 * both derive the key from a secret they already share: COOKIE_SECRET (or, on one machine, the
 * one kept under DATA_DIR).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How long a link handed to a printer opens the file. A vendor fetches it when it takes the
 * order, and again whenever it has to: its own download retries, an order held on its side, a
 * reprint. The order workflow gives a printer 14 days to ship before cancelling there, so the
 * link outlives the whole time the order can be at the printer, with margin.
 */
export const PRINTER_LINK_SECONDS = 30 * 86_400;

/** The shopper's link, in the order's status (signed afresh on every read, so it needs to last only a while). */
export const SHOPPER_LINK_SECONDS = 3600;

/** The print file's name, beside the order in the blob store (`orders/<id>/print.pdf`) and in its link. */
export const PRINT_FILE_NAME = 'print.pdf';

/** Why a link does not open the file; the route answers 403 with the message. */
export type PrintFileLinkProblem = 'unsigned' | 'forged' | 'expired';

export class PrintFileUrls {
  private readonly key: Buffer;
  private readonly publicUrl: string;

  constructor(opts: { secret: string; publicUrl: string }) {
    // A key of its own, derived under a label: a cookie's signature never passes for a link's, nor the reverse.
    this.key = createHmac('sha256', opts.secret).update('stickerflow print-file links').digest();
    this.publicUrl = opts.publicUrl.replace(/\/$/, '');
  }

  /** A link to the order's print file that opens it until `nowMs + lifetimeSeconds`. */
  sign(orderId: string, lifetimeSeconds: number, nowMs = Date.now()): string {
    const expires = Math.floor(nowMs / 1000) + lifetimeSeconds;
    const query = new URLSearchParams({ expires: String(expires), sig: this.signature(orderId, String(expires)) });
    return `${this.publicUrl}/files/orders/${encodeURIComponent(orderId)}/${PRINT_FILE_NAME}?${query}`;
  }

  /** Undefined when `query` (a request's `expires` and `sig`) opens this order's file now; else why not. */
  check(orderId: string, query: Record<string, unknown>, nowMs = Date.now()): PrintFileLinkProblem | undefined {
    const { expires, sig } = query;
    if (typeof expires !== 'string' || typeof sig !== 'string' || !expires || !sig) return 'unsigned';
    if (!/^\d{1,12}$/.test(expires)) return 'forged';
    const expected = Buffer.from(this.signature(orderId, expires));
    const given = Buffer.from(sig);
    // Lengths are public (every signature is 43 characters); the comparison of the bytes is constant-time.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'forged';
    // Only after the signature: an expiry is worth reporting only when it is really ours.
    return Number(expires) * 1000 <= nowMs ? 'expired' : undefined;
  }

  private signature(orderId: string, expires: string): string {
    // The expiry is digits only, so the text splits back at its last newline into one (id, expiry) pair.
    return createHmac('sha256', this.key).update(`${orderId}\n${expires}`).digest('base64url');
  }
}

export const PRINT_FILE_LINK_MESSAGES: Record<PrintFileLinkProblem, string> = {
  unsigned: 'this print file opens only by its signed link (with expires and sig)',
  forged: 'the signature of this print-file link does not match',
  expired: 'this print-file link has expired',
};
