/**
 * An order's access token, the secret in its private link (`/orders/<id>#token=<token>`): whoever
 * holds it can see the order and change or cancel it until it goes to the printer.
 *
 * The token is derived from the order id under a key of its own (HMAC-SHA256, from the secret the
 * API and the workers already share: COOKIE_SECRET, or on one machine the one kept under
 * DATA_DIR), so the worker that emails the shopper can put the link in the message without the
 * token being stored anywhere or written into a workflow's history. The database keeps only its
 * hash, which is what the API checks. Orders from before tokens were derived have random tokens:
 * `tokenFor` does not open those (their emails link to the page without the token).
 */
import { createHmac } from 'node:crypto';

export const ORDER_TOKEN_PREFIX = 'ot_';

export class OrderAccessTokens {
  private readonly key: Buffer;

  constructor(secret: string) {
    // A key of its own, derived under a label: a cookie's or a print-file link's signature never passes for a token.
    this.key = createHmac('sha256', secret).update('stickerflow order access tokens').digest();
  }

  /** The order's token: 24 bytes of HMAC, base64url (as unguessable as the random tokens before it). */
  tokenFor(orderId: string): string {
    return ORDER_TOKEN_PREFIX + createHmac('sha256', this.key).update(orderId).digest().subarray(0, 24).toString('base64url');
  }
}
