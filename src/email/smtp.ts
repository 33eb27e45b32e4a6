/**
 * SMTP through nodemailer, from SMTP_URL: `smtp://` (STARTTLS when the server offers it) or
 * `smtps://` (TLS from the first byte), user and password inside the URL, nodemailer's own
 * options in its query (`?tls.rejectUnauthorized=false` for a test server's certificate). The
 * password lives only inside nodemailer: its logger is off, and the errors this module raises
 * name the server by scheme, host and port alone.
 */
import nodemailer, { type NodemailerError, type Transporter } from 'nodemailer';
import { EmailNotSent, EmailRefused, mailOptions, type EmailTransport, type OutgoingEmail } from './port.js';

/** Failures that happen before a message is handed over: nothing was delivered. */
const BEFORE_HANDOVER = new Set(['EDNS', 'ETLS', 'EREQUIRETLS', 'EOAUTH2', 'ECONFIG', 'EPROXY']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const EARLY_TIMEOUTS = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT']);

export class SmtpTransport implements EmailTransport {
  readonly kind = 'smtp' as const;
  private readonly mailer: Transporter;
  private readonly server: string;

  constructor(url: string) {
    const u = new URL(url);
    this.server = `${u.protocol}//${u.hostname}:${u.port || (u.protocol === 'smtps:' ? 465 : 587)}`;
    this.mailer = nodemailer.createTransport({
      url,
      // One send is over within about a minute and a half, inside the sent-emails claim's lease
      // (2 minutes), so a retry never overlaps a send still in progress. nodemailer's own
      // defaults wait up to 10 minutes on a silent socket.
      connectionTimeout: 20_000,
      greetingTimeout: 20_000,
      socketTimeout: 45_000,
      logger: false,
      debug: false,
      // Our messages are strings: never let content read a file or fetch a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  async deliver(email: OutgoingEmail): Promise<Record<string, never>> {
    try {
      await this.mailer.sendMail(mailOptions(email));
      return {};
    } catch (err) {
      throw classify(err as NodemailerError, this.server);
    }
  }

  async close(): Promise<void> {
    this.mailer.close();
  }
}

/**
 * What a failed send means for a retry. A reply from the server means it did not take the
 * message: 5xx is final (EmailRefused), 4xx is "try later" (EmailNotSent). Without a reply, a
 * failure to reach the server, log in or start TLS happened before any message was handed over
 * (EmailNotSent); a connection lost later may have lost only the server's "250 OK", so the
 * outcome is unknown (a plain Error: the sender marks the next copy a possible duplicate).
 * A 5xx to the login is ours to fix (the credentials), not the shopper's: retried.
 */
function classify(err: NodemailerError, server: string): Error {
  const detail = `${server}: ${err.message}`;
  if (err.code === 'EAUTH' || err.code === 'ENOAUTH') {
    return new EmailNotSent(`SMTP server refused our login: check the user name and password in SMTP_URL (${detail})`);
  }
  if (err.responseCode !== undefined) {
    return err.permanent ? new EmailRefused(`SMTP server refused the message (${detail})`) : new EmailNotSent(`SMTP server deferred the message (${detail})`);
  }
  if (
    BEFORE_HANDOVER.has(err.code ?? '') ||
    UNREACHABLE.has(err.originalCode ?? err.code ?? '') ||
    EARLY_TIMEOUTS.has(err.timeoutType ?? '')
  ) {
    return new EmailNotSent(`SMTP server not reached or the session not set up (${detail})`);
  }
  // nodemailer's own refusal of an address it cannot put in an envelope
  if (err.code === 'EENVELOPE') return new EmailRefused(`message refused before sending (${detail})`);
  return new Error(`SMTP send interrupted, outcome unknown (${detail})`);
}
