/**
 * The record of emails sent (`emails_sent`, migration 9): one row per idempotency key, claimed
 * before a message goes out and marked after. It is what makes sending idempotent, and what the
 * operator console lists for an order.
 */
import type { Database } from '../db/database.js';
import type { EmailKind, EmailTransport } from './port.js';

export type EmailStatus = 'sending' | 'sent' | 'unknown' | 'failed' | 'refused';

/** What a claim records of the message before it goes out. */
export interface ClaimRequest {
  idempotencyKey: string;
  kind: EmailKind;
  reference: string;
  recipient: string;
  subject: string;
  messageId: string;
  transport: EmailTransport['kind'];
}

export interface SentEmail extends ClaimRequest {
  outboxFile?: string;
  status: EmailStatus;
  attempts: number;
  possibleDuplicate: boolean;
  lastError?: string;
  /** ISO 8601. */
  sentAt?: string;
  createdAt: string;
}

export type Claim =
  /** Send it, under `messageId` (the first claim's: every copy has the same); `duplicate`: a copy may already be out. */
  | { action: 'send'; messageId: string; duplicate: boolean }
  /** Sent before: send nothing. */
  | { action: 'done'; messageId: string }
  /** Another attempt holds a fresh claim: it may be sending right now. */
  | { action: 'wait'; retryInMs: number };

/** A row of `emails_sent` as the database gives it (the operator console reads them too). */
export interface SentEmailRow {
  idempotency_key: string;
  kind: EmailKind;
  reference: string;
  recipient: string;
  subject: string;
  message_id: string;
  transport: EmailTransport['kind'];
  outbox_file: string | null;
  status: EmailStatus;
  attempts: number;
  possible_duplicate: boolean;
  last_error: string | null;
  sent_at: Date | string | null;
  created_at: Date | string;
}

export class SentEmails {
  /**
   * `claimLeaseMs`: how long a claim stays another attempt's to finish. Longer than one send can
   * take (the SMTP transport gives up within about a minute and a half), so a live attempt is
   * never doubled; a claim older than that was left by a worker that died mid-send.
   */
  constructor(
    private readonly db: Database,
    private readonly claimLeaseMs = 120_000,
  ) {}

  async claim(c: ClaimRequest): Promise<Claim> {
    return this.db.transaction(async (tx) => {
      // A new key is claimed by the insert itself; on PostgreSQL a concurrent claim of the same
      // key waits here for ours to commit and then finds the row below, locked.
      const inserted = await tx.query(
        `INSERT INTO emails_sent (idempotency_key, kind, reference, recipient, subject, message_id, transport, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'sending')
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key`,
        [c.idempotencyKey, c.kind, c.reference, c.recipient, c.subject, c.messageId, c.transport],
      );
      if (inserted.length) return { action: 'send', messageId: c.messageId, duplicate: false };
      const [row] = await tx.query<{ status: EmailStatus; message_id: string; possible_duplicate: boolean; age_ms: number }>(
        `SELECT status, message_id, possible_duplicate, (EXTRACT(EPOCH FROM (now() - claimed_at)) * 1000)::float8 AS age_ms
         FROM emails_sent WHERE idempotency_key = $1 FOR UPDATE`,
        [c.idempotencyKey],
      );
      if (!row) throw new Error(`emails_sent: the row of ${c.idempotencyKey} vanished while being claimed`);
      if (row.status === 'sent') return { action: 'done', messageId: row.message_id };
      if (row.status === 'sending' && row.age_ms < this.claimLeaseMs) {
        return { action: 'wait', retryInMs: Math.max(1000, Math.ceil(this.claimLeaseMs - row.age_ms)) };
      }
      // 'sending' past its lease or 'unknown': the earlier attempt may have delivered it. Once
      // that has happened, every later copy is a possible duplicate too.
      const duplicate = row.possible_duplicate || row.status === 'sending' || row.status === 'unknown';
      await tx.query(
        `UPDATE emails_sent SET status = 'sending', attempts = attempts + 1, claimed_at = now(), possible_duplicate = $2,
           recipient = $3, subject = $4, transport = $5
         WHERE idempotency_key = $1`,
        [c.idempotencyKey, duplicate, c.recipient, c.subject, c.transport],
      );
      return { action: 'send', messageId: row.message_id, duplicate };
    });
  }

  /** `possibleDuplicate`: whether the shopper may now hold two copies, as the sender judged it. */
  async markSent(idempotencyKey: string, outcome: { outboxFile?: string; possibleDuplicate: boolean }): Promise<void> {
    await this.db.query(
      `UPDATE emails_sent SET status = 'sent', sent_at = now(), outbox_file = $2, possible_duplicate = $3, last_error = NULL
       WHERE idempotency_key = $1 AND status = 'sending'`,
      [idempotencyKey, outcome.outboxFile ?? null, outcome.possibleDuplicate],
    );
  }

  /** The attempt ended without sending (`failed`, `refused`) or without knowing (`unknown`). */
  async markUnsent(idempotencyKey: string, status: 'unknown' | 'failed' | 'refused', error: string): Promise<void> {
    await this.db.query(
      `UPDATE emails_sent SET status = $2, last_error = $3 WHERE idempotency_key = $1 AND status = 'sending'`,
      [idempotencyKey, status, error.slice(0, 1000)],
    );
  }

  /** The emails about an order (or an animation), oldest first. */
  async forReference(reference: string): Promise<SentEmail[]> {
    const rows = await this.db.query<SentEmailRow>('SELECT * FROM emails_sent WHERE reference = $1 ORDER BY created_at, idempotency_key', [reference]);
    return rows.map(sentEmailFromRow);
  }

  async get(idempotencyKey: string): Promise<SentEmail | undefined> {
    const [row] = await this.db.query<SentEmailRow>('SELECT * FROM emails_sent WHERE idempotency_key = $1', [idempotencyKey]);
    return row ? sentEmailFromRow(row) : undefined;
  }
}

export function sentEmailFromRow(r: SentEmailRow): SentEmail {
  return {
    idempotencyKey: r.idempotency_key,
    kind: r.kind,
    reference: r.reference,
    recipient: r.recipient,
    subject: r.subject,
    messageId: r.message_id,
    transport: r.transport,
    outboxFile: r.outbox_file ?? undefined,
    status: r.status,
    attempts: r.attempts,
    possibleDuplicate: r.possible_duplicate,
    lastError: r.last_error ?? undefined,
    sentAt: r.sent_at ? new Date(r.sent_at).toISOString() : undefined,
    createdAt: new Date(r.created_at).toISOString(),
  };
}
