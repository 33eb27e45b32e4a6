import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { createLogger, type Logger } from '../logger.js';
import { OutboxTransport } from './outbox.js';
import type { EmailSender } from './port.js';
import { IdempotentEmailSender } from './sender.js';
import { SentEmails } from './sent-emails.js';
import { SmtpTransport } from './smtp.js';

/** SMTP when SMTP_URL is set, else the outbox under DATA_DIR; either way recorded in `db`. */
export function createEmailSender(config: Pick<Config, 'email' | 'logLevel'>, db: Database, logger: Logger = createLogger(config.logLevel)): EmailSender {
  const transport = config.email.smtpUrl ? new SmtpTransport(config.email.smtpUrl) : new OutboxTransport(config.email.outboxDir);
  return new IdempotentEmailSender(transport, new SentEmails(db), { from: config.email.from, logger });
}

export * from './port.js';
