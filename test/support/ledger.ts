/** The real ledger for tests: on PGlite or PostgreSQL, plus the activities PaidWork calls. */
import { inject } from 'vitest';
import { createAlertActivities } from '../../src/activities/alerts.js';
import { createLedgerActivities } from '../../src/activities/ledger.js';
import type { AlertChannel } from '../../src/alerts/port.js';
import { openPGlite, openPostgres, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { CreditLedger } from '../../src/ledger/ledger.js';

/** Both engines the project runs on, for `describe.each`. */
export const databaseEngines: [string, () => Promise<Database>][] = [
  ['PGlite', () => openPGlite()],
  ['PostgreSQL', () => openPostgres(inject('postgresUrl'))],
];

/** A migrated database and a ledger over it (in-memory PGlite unless told otherwise). */
export async function openLedger(open: () => Promise<Database> = () => openPGlite()): Promise<{ db: Database; ledger: CreditLedger }> {
  const db = await open();
  await migrate(db);
  return { db, ledger: new CreditLedger(db) };
}

/** The activities of the charge-once / refund-once wrapper, on a real ledger. */
export function paidWorkActivities(ledger: CreditLedger, channels: AlertChannel[], temporalUiUrl = 'http://ui') {
  return {
    ...createLedgerActivities({ ledger }),
    ...createAlertActivities({ channels, temporalUiUrl, namespace: 'default' }),
    // The workflows' records, which these tests do not look at (test/workflows/records.test.ts does).
    recordAnimation: async () => undefined,
    recordOrder: async () => undefined,
    // Emails to shoppers (test/workflows/sticker-order.test.ts and test/integration/email.test.ts look at them).
    sendEmail: async () => ({ messageId: '<test@test>', duplicate: false, alreadySent: false, idempotencyKey: 'email:test:none' }),
  };
}
