/**
 * The email port: messages to shoppers, sent once per idempotency key. One sender
 * (`IdempotentEmailSender`, sender.ts) keeps the record of what went out in the database and hands
 * each message to one transport: SMTP when SMTP_URL is set, else the embedded outbox (an RFC 5322
 * `.eml` file per message under DATA_DIR/outbox), so nothing needs a mail server.
 *
 * SMTP has no idempotency of its own: a server that took the message may still lose the
 * connection before it says so. The record is claimed before the message goes out and marked sent
 * after, so a retry never sends again once the record says sent, and a crash in between sends at
 * worst one more copy, with the same Message-ID and marked as a possible duplicate.
 */

export const EMAIL_KINDS = ['order_confirmation', 'order_shipped', 'order_delivered', 'order_refunded', 'buddy_ready'] as const;
export type EmailKind = (typeof EMAIL_KINDS)[number];

/** Parts of a key: letters, digits, `_` and `-`, joined by `:`; e.g. `email:order:or_abc:confirmation`. */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9_-]+(?::[A-Za-z0-9_-]+)+$/;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

export interface EmailMessage {
  /** One address, as the order API accepts it. */
  to: string;
  subject: string;
  text: string;
  /** The same message as HTML, every interpolated value already escaped. */
  html: string;
  /** Stable for this message (IDEMPOTENCY_KEY): a second send of the key sends nothing. */
  idempotencyKey: string;
  /** What it is and what it is about (an order or animation id), for the record the operator lists. */
  kind: EmailKind;
  reference: string;
  /** Extra headers; the sender adds Message-ID and X-Stickerflow-Idempotency-Key itself. */
  headers?: Record<string, string>;
}

export interface SendResult {
  /** `<…@domain>`, derived from the idempotency key: every copy of a message carries the same one. */
  messageId: string;
  /**
   * This copy went out after an attempt whose outcome is unknown (a worker that crashed, a
   * connection lost after the server had the message): the shopper may have two copies. Such a
   * copy carries `X-Stickerflow-Possible-Duplicate: true` and is logged as a warning.
   */
  duplicate: boolean;
  /** An earlier attempt had sent it: nothing went out this time. */
  alreadySent: boolean;
}

export interface EmailSender {
  /** Where messages go: "smtp" or "outbox". */
  readonly transport: EmailTransport['kind'];
  /**
   * Sends `message` unless its idempotency key was sent before (then resolves with the recorded
   * Message-ID and `alreadySent`). Rejects with EmailRefused when it can never be sent (a
   * malformed address, a permanent refusal by the server: do not retry), EmailInFlight while
   * another attempt is sending it (retry after `retryInMs`); any other rejection is transient
   * (the server is down): retry, and nothing is sent twice for it.
   */
  send(message: EmailMessage): Promise<SendResult>;
  close(): Promise<void>;
}

/** A message ready to go: the fields nodemailer composes it from. */
export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  idempotencyKey: string;
  headers: Record<string, string>;
}

/** The message as nodemailer takes it, for sending (SMTP) and for composing (the outbox) alike. */
export function mailOptions(email: OutgoingEmail) {
  const { from, to, subject, text, html, messageId, headers } = email;
  return { from, to, subject, text, html, messageId, headers };
}

export interface EmailTransport {
  readonly kind: 'smtp' | 'outbox';
  /**
   * Delivers one message. Resolves once it is handed over (`location`: the outbox's file name;
   * `alreadyDelivered`: the outbox found this key's file from an earlier attempt and wrote none).
   * Rejects with EmailRefused (permanent), EmailNotSent (known not delivered, transient); any
   * other rejection leaves the outcome unknown.
   */
  deliver(email: OutgoingEmail): Promise<{ location?: string; alreadyDelivered?: boolean }>;
  close(): Promise<void>;
}

/** The message can never be sent as it is: retrying cannot help. */
export class EmailRefused extends Error {
  override readonly name = 'EmailRefused';
}

/** Known not delivered (the server was unreachable, or answered "try later"): retry. */
export class EmailNotSent extends Error {
  override readonly name = 'EmailNotSent';
}

/** Another attempt claimed this key moments ago and may still be sending it: retry later. */
export class EmailInFlight extends Error {
  override readonly name = 'EmailInFlight';
  constructor(
    message: string,
    readonly retryInMs: number,
  ) {
    super(message);
  }
}
