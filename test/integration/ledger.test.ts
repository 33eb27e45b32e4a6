/** The credit ledger's guarantees, on embedded PGlite and on a real PostgreSQL server alike. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { migrate, migrations } from '../../src/db/migrations.js';
import { CreditLedger, LedgerError } from '../../src/ledger/ledger.js';
import { databaseEngines } from '../support/ledger.js';


describe.each(databaseEngines)('CreditLedger on %s', (_name, open) => {
  let db: Database;
  let ledger: CreditLedger;
  beforeAll(async () => {
    db = await open();
    await migrate(db);
    ledger = new CreditLedger(db);
  });
  afterAll(() => db?.close());

  const account = async (credits = 3) => {
    const id = `acct-${randomUUID()}`;
    await ledger.openAccount(id, credits);
    return id;
  };
  const charge = (accountId: string, key = randomUUID(), amount = 1) =>
    ledger.charge({ accountId, amount, idempotencyKey: key, reason: 'test' });
  const expectLedgerError = async (p: Promise<unknown>, type: LedgerError['type']) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerError);
    expect((err as LedgerError).type).toBe(type);
  };

  it('migrates once: a second run applies nothing', async () => {
    expect(await migrate(db)).toEqual([]);
    const rows = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
  });

  it('grants starter credits once per account', async () => {
    const id = await account(3);
    await ledger.openAccount(id, 3);
    expect(await ledger.balance(id)).toBe(3);
  });

  it('a charge whose key was seen before returns the first result and takes nothing more', async () => {
    const id = await account();
    const key = randomUUID();
    const first = await charge(id, key);
    const again = await charge(id, key);
    expect(again).toEqual(first);
    expect(first.balanceAfter).toBe(2);
    expect(await ledger.balance(id)).toBe(2);
  });

  it('concurrent charges with one key record one charge', async () => {
    const id = await account();
    const key = randomUUID();
    const results = await Promise.all(Array.from({ length: 8 }, () => charge(id, key)));
    expect(new Set(results.map((r) => r.entryId)).size).toBe(1);
    expect(await ledger.balance(id)).toBe(2);
  });

  it('concurrent charges with different keys never overdraw', async () => {
    const id = await account(3);
    const settled = await Promise.allSettled(Array.from({ length: 6 }, () => charge(id)));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(3);
    for (const s of settled.filter((s) => s.status === 'rejected')) {
      expect((s as PromiseRejectedResult).reason.type).toBe('InsufficientCredit');
    }
    expect(await ledger.balance(id)).toBe(0);
  });

  it('refuses a charge beyond the balance, recording nothing', async () => {
    const id = await account(1);
    await expectLedgerError(charge(id, randomUUID(), 2), 'InsufficientCredit');
    expect((await ledger.entries(id)).map((e) => e.kind)).toEqual(['grant']);
  });

  it('refuses unknown accounts, bad amounts and a key reused for something else', async () => {
    await expectLedgerError(charge(`nobody-${randomUUID()}`), 'UnknownAccount');
    const id = await account();
    await expectLedgerError(charge(id, randomUUID(), 0), 'InvalidAmount');
    await expectLedgerError(charge(id, randomUUID(), 1.5), 'InvalidAmount');
    const key = randomUUID();
    await ledger.grant({ accountId: id, amount: 1, idempotencyKey: key, reason: 'gift' });
    await expectLedgerError(charge(id, key), 'IdempotencyKeyReused');
    await expectLedgerError(ledger.refund({ chargeKey: randomUUID(), idempotencyKey: key, reason: 'r' }), 'IdempotencyKeyReused');
  });

  it('refunds a charge once, whatever key each refund carries', async () => {
    const id = await account();
    const c = await charge(id);
    const first = await ledger.refund({ chargeKey: c.idempotencyKey, idempotencyKey: `refund:${c.idempotencyKey}`, reason: 'r' });
    expect(first).toMatchObject({ status: 'refunded', amount: 1, balanceAfter: 3 });
    expect(await ledger.refund({ chargeKey: c.idempotencyKey, idempotencyKey: `refund:${c.idempotencyKey}`, reason: 'r' })).toEqual(first);
    expect(await ledger.refund({ chargeKey: c.idempotencyKey, idempotencyKey: 'another-key', reason: 'r' })).toEqual(first);
    expect(await ledger.balance(id)).toBe(3);
  });

  it('concurrent refunds of one charge give it back once', async () => {
    const id = await account();
    const c = await charge(id);
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => ledger.refund({ chargeKey: c.idempotencyKey, idempotencyKey: `r${i}-${c.idempotencyKey}`, reason: 'r' })),
    );
    expect(await ledger.balance(id)).toBe(3);
    expect((await ledger.entries(id)).filter((e) => e.kind === 'refund')).toHaveLength(1);
  });

  it('a refund of a charge never made voids its key, so a late charge with it is refused', async () => {
    const id = await account();
    const key = randomUUID();
    expect(await ledger.refund({ chargeKey: key, idempotencyKey: `refund:${key}`, reason: 'r' })).toEqual({
      status: 'nothing_charged',
      idempotencyKey: `refund:${key}`,
    });
    await expectLedgerError(charge(id, key), 'ChargeVoided');
    expect(await ledger.balance(id)).toBe(3);
  });
});
