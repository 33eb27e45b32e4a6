/**
 * The one email sender: checks a message, claims its idempotency key in `emails_sent`, hands it
 * to the transport and records the outcome. The order of these steps is the whole guarantee: a
 * message recorded as sent is never sent again, and a crash between handing it over and
 * recording it leaves a claim that the next attempt, once the claim's lease has run out, sends
 * again marked as a possible duplicate (same Message-ID, so mail clients fold the two).
 */
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { counted, emails } from '../metrics/registry.js';
import {
  EMAIL_KINDS,
  EmailInFlight,
  EmailNotSent,
  EmailRefused,
  IDEMPOTENCY_KEY,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type EmailMessage,
  type EmailSender,
  type EmailTransport,
  type SendResult,
} from './port.js';
import type { SentEmails } from './sent-emails.js';

export const IDEMPOTENCY_KEY_HEADER = 'X-Stickerflow-Idempotency-Key';
export const POSSIBLE_DUPLICATE_HEADER = 'X-Stickerflow-Possible-Duplicate';

/** The order API's own rule for an address (z.email), so what it took can be sent to. */
const address = z.email().max(254);

export class IdempotentEmailSender implements EmailSender {
  readonly transport: EmailTransport['kind'];
  private readonly domain: string;

  constructor(
    private readonly via: EmailTransport,
    private readonly sent: SentEmails,
    private readonly opts: { from: string; logger: Logger },
  ) {
    this.transport = via.kind;
    this.domain = addressDomain(opts.from);
  }

  /** Counted in `stickerflow_emails_total`, once per attempt, by how it came out. */
  send(message: EmailMessage): Promise<SendResult> {
    // The kind is typed, not checked: a label takes only the kinds we know.
    const kind = (EMAIL_KINDS as readonly string[]).includes(message.kind) ? message.kind : 'other';
    return counted(
      emails,
      { kind, transport: this.via.kind },
      (r) => (r.alreadySent ? 'already_sent' : r.duplicate ? 'duplicate' : 'sent'),
      () => this.sendOnce(message),
      (err) => (err instanceof EmailRefused ? 'refused' : err instanceof EmailInFlight ? 'in_flight' : 'failed'),
    );
  }

  private async sendOnce(message: EmailMessage): Promise<SendResult> {
    const key = message.idempotencyKey;
    if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !IDEMPOTENCY_KEY.test(key)) {
      throw new EmailRefused(`idempotency key ${JSON.stringify(key.slice(0, 80))} is not parts of letters, digits, _ and - joined by ":"`);
    }
    // Refused before anything is recorded: nothing about it can change by retrying.
    if (!address.safeParse(message.to).success) throw new EmailRefused(`${key}: the recipient is not an email address`);
    const claim = await this.sent.claim({
      idempotencyKey: key,
      kind: message.kind,
      reference: message.reference,
      recipient: message.to,
      subject: message.subject,
      messageId: messageIdFor(key, this.domain),
      transport: this.via.kind,
    });
    if (claim.action === 'done') return { messageId: claim.messageId, duplicate: false, alreadySent: true };
    if (claim.action === 'wait') {
      throw new EmailInFlight(`${key} is being sent by another attempt; trying again in ${Math.ceil(claim.retryInMs / 1000)} s`, claim.retryInMs);
    }
    const { messageId } = claim;
    let delivered: Awaited<ReturnType<EmailTransport['deliver']>>;
    try {
      delivered = await this.via.deliver({
        from: this.opts.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        messageId,
        idempotencyKey: key,
        headers: {
          ...message.headers,
          [IDEMPOTENCY_KEY_HEADER]: key,
          ...(claim.duplicate ? { [POSSIBLE_DUPLICATE_HEADER]: 'true' } : {}),
        },
      });
    } catch (err) {
      const outcome = err instanceof EmailRefused ? 'refused' : err instanceof EmailNotSent ? 'failed' : 'unknown';
      // Should this write fail too, the claim stays 'sending' and its lease runs out: the next
      // attempt then counts it a possible duplicate, which is the safe side.
      await this.sent.markUnsent(key, outcome, (err as Error).message).catch(() => undefined);
      throw err;
    }
    // The outbox found its own file of this key: the earlier attempt's copy is the only one.
    const duplicate = claim.duplicate && !delivered.alreadyDelivered;
    await this.sent.markSent(key, { outboxFile: delivered.location, possibleDuplicate: duplicate });
    const meta = { idempotencyKey: key, messageId, transport: this.via.kind };
    if (duplicate) this.opts.logger.warn('email sent again after an attempt whose outcome is unknown: the shopper may have two copies (possible duplicate)', meta);
    else this.opts.logger.info('email sent', meta);
    return { messageId, duplicate, alreadySent: false };
  }

  close(): Promise<void> {
    return this.via.close();
  }
}

/**
 * `<parts.of.the.key@domain>`: one Message-ID per message, whichever attempt sends it, so a
 * possible duplicate threads with (and is folded into) the first copy. Keys name our own random
 * ids, so no two messages share one.
 */
export function messageIdFor(idempotencyKey: string, domain: string): string {
  return `<${idempotencyKey.replaceAll(':', '.')}@${domain}>`;
}

/** The domain of `Name <user@domain>` or `user@domain`. */
export function addressDomain(from: string): string {
  const domain = /@([^@<>\s]+)>?\s*$/.exec(from)?.[1];
  if (!domain) throw new Error(`EMAIL_FROM has no address with a domain: ${JSON.stringify(from)}`);
  return domain;
}
