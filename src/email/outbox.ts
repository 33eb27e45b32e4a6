/**
 * The embedded default: every message becomes an RFC 5322 `.eml` file under DATA_DIR/outbox,
 * composed by nodemailer exactly as its SMTP transport would send it, so nothing needs a mail
 * server and any mail client opens what a shopper would have received.
 *
 * A file is named `<UTC time>-<key>.eml` (`20260102T030405678Z-email.order.or_x.confirmation.eml`),
 * so a listing sorts by time and names the message; it is written to a hidden temporary file and
 * renamed, so a reader never sees half a message. A key that already has its file is not written
 * again: the outbox holds one copy per key even across a crash between writing and recording.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import MailComposer from 'nodemailer/lib/mail-composer';
import { EmailNotSent, mailOptions, type EmailTransport, type OutgoingEmail } from './port.js';

/** `20260102T030405678Z`: fixed width, so the key starts at the same place in every name. */
const STAMP_LENGTH = 19;

export class OutboxTransport implements EmailTransport {
  readonly kind = 'outbox' as const;

  constructor(readonly dir: string) {}

  async deliver(email: OutgoingEmail): Promise<{ location: string; alreadyDelivered?: true }> {
    const keyPart = email.idempotencyKey.replaceAll(':', '.');
    const raw = await compose(email);
    try {
      await mkdir(this.dir, { recursive: true });
      const existing = (await readdir(this.dir)).find((name) => name.endsWith('.eml') && name.slice(STAMP_LENGTH + 1, -4) === keyPart);
      if (existing) return { location: existing, alreadyDelivered: true };
      const name = `${stamp(new Date())}-${keyPart}.eml`;
      const temp = path.join(this.dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        const file = await open(temp, 'wx', 0o600);
        try {
          await file.writeFile(raw);
          await file.sync();
        } finally {
          await file.close();
        }
        await rename(temp, path.join(this.dir, name));
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
      return { location: name };
    } catch (err) {
      // Nothing was renamed into place: no message is in the outbox, so a retry writes it afresh.
      throw new EmailNotSent(`could not write to the outbox ${this.dir}: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {}
}

/** The raw RFC 5322 message, built by nodemailer's composer (what its SMTP transport sends). */
function compose(email: OutgoingEmail): Promise<Buffer> {
  return new MailComposer({
    ...mailOptions(email),
    disableFileAccess: true,
    disableUrlAccess: true,
  })
    .compile()
    .build();
}

const stamp = (d: Date) => d.toISOString().replace(/[-:.]/g, '');
