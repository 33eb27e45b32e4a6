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

  describe('revoke (a refunded credit pack)', () => {
    /** An account with `starting` credits and a pack of `credits` granted under a key of its own. */
    const withPack = async (credits: number, starting = 0) => {
      const id = await account(starting);
      const grantKey = `credits:payment:pi_${randomUUID()}`;
      await ledger.grant({ accountId: id, amount: credits, idempotencyKey: grantKey, reason: 'pack' });
      return { id, grantKey };
    };
    const revoke = (grantKey: string, totalRevoked: number, idempotencyKey = `revoke:${randomUUID()}`) =>
      ledger.revoke({ grantKey, totalRevoked, idempotencyKey, reason: 'refund' });

    it('takes back the grant, never more than it gave', async () => {
      const { id, grantKey } = await withPack(5, 3);
      expect(await revoke(grantKey, 12)).toEqual({ status: 'revoked', taken: 5, shortfall: 0, balanceAfter: 3 });
      expect(await ledger.balance(id)).toBe(3);
      const [entry] = (await ledger.entries(id)).filter((e) => e.kind === 'revoke');
      expect(entry).toMatchObject({ amount: 5, owed: 5, charge_key: grantKey, balance_after: 3 });
    });

    it('takes only what the balance holds and reports the shortfall', async () => {
      const { id, grantKey } = await withPack(5, 3);
      await charge(id, randomUUID(), 6); // 6 of the 8 spent: 2 left
      expect(await revoke(grantKey, 5)).toEqual({ status: 'revoked', taken: 2, shortfall: 3, balanceAfter: 0 });
      expect(await ledger.balance(id)).toBe(0);
    });

    it('is idempotent by key: the same key returns the first result and takes nothing more', async () => {
      const { id, grantKey } = await withPack(5, 1);
      const key = `revoke:${randomUUID()}`;
      const first = await revoke(grantKey, 5, key);
      expect(first).toEqual({ status: 'revoked', taken: 5, shortfall: 0, balanceAfter: 1 });
      await ledger.grant({ accountId: id, amount: 4, idempotencyKey: randomUUID(), reason: 'another pack' });
      expect(await revoke(grantKey, 5, key)).toEqual(first);
      expect(await ledger.balance(id)).toBe(5);
      // A key is one revoke's: not another grant's, not a charge's.
      const other = await withPack(5);
      await expectLedgerError(revoke(other.grantKey, 5, key), 'IdempotencyKeyReused');
      const chargeKey = randomUUID();
      await charge(id, chargeKey);
      await expectLedgerError(revoke(grantKey, 5, chargeKey), 'IdempotencyKeyReused');
      expect(await ledger.balance(id)).toBe(4);
      expect(await ledger.balance(other.id)).toBe(5);
    });

    it('partial refunds add up: each takes what its total adds, and all of them never more than the grant', async () => {
      const { id, grantKey } = await withPack(5, 3);
      expect(await revoke(grantKey, 3)).toMatchObject({ taken: 3, shortfall: 0, balanceAfter: 5 });
      expect(await revoke(grantKey, 5)).toMatchObject({ taken: 2, shortfall: 0, balanceAfter: 3 });
      expect(await revoke(grantKey, 5)).toMatchObject({ taken: 0, shortfall: 0, balanceAfter: 3 });
      expect(await ledger.balance(id)).toBe(3);
    });

    it('credits owed but already spent are not asked for again by the next partial refund', async () => {
      const { id, grantKey } = await withPack(20);
      await charge(id, randomUUID(), 16);
      // Half refunded: 10 owed, 4 left to take, 6 spent.
      expect(await revoke(grantKey, 10)).toEqual({ status: 'revoked', taken: 4, shortfall: 6, balanceAfter: 0 });
      // The shopper buys another pack; the rest of the refund owes the other 10, not 16.
      await ledger.grant({ accountId: id, amount: 12, idempotencyKey: randomUUID(), reason: 'another pack' });
      expect(await revoke(grantKey, 20)).toEqual({ status: 'revoked', taken: 10, shortfall: 0, balanceAfter: 2 });
      expect(await ledger.balance(id)).toBe(2);
    });

    it('nothing_granted for a grant key never granted: nothing taken, nothing recorded', async () => {
      const id = await account(3);
      const key = `revoke:${randomUUID()}`;
      expect(await revoke(`credits:payment:pi_${randomUUID()}`, 5, key)).toEqual({ status: 'nothing_granted', taken: 0, shortfall: 0, balanceAfter: 0 });
      expect(await ledger.balance(id)).toBe(3);
      expect(await db.query('SELECT 1 FROM ledger_entries WHERE idempotency_key = $1', [key])).toEqual([]);
      // A charge's key is no grant's either.
      const c = await charge(id);
      expect(await revoke(c.idempotencyKey, 1)).toMatchObject({ status: 'nothing_granted', taken: 0 });
      expect(await ledger.balance(id)).toBe(2);
    });

    it('concurrent revokes of one grant never take more than it gave', async () => {
      const { id, grantKey } = await withPack(5, 3);
      // Notices of a refund growing 1..5 cents' worth, and each of them twice, all at once.
      const results = await Promise.all(
        [1, 2, 3, 4, 5, 1, 2, 3, 4, 5].map((total, i) => revoke(grantKey, total, `revoke:${grantKey}:${i % 5}`)),
      );
      expect(await ledger.balance(id)).toBe(3);
      const entries = (await ledger.entries(id)).filter((e) => e.kind === 'revoke');
      expect(entries).toHaveLength(5);
      expect(entries.reduce((sum, e) => sum + e.amount, 0)).toBe(5);
      expect(results.every((r) => r.status === 'revoked' && r.shortfall === 0)).toBe(true);
      // The two answers for one key are one revoke's.
      for (let i = 0; i < 5; i++) expect(results[i + 5]).toEqual(results[i]);
    });

    it('concurrent revokes of one grant with the account short take what is there, once', async () => {
      const { id, grantKey } = await withPack(20);
      await charge(id, randomUUID(), 17);
      const results = await Promise.all(Array.from({ length: 6 }, () => revoke(grantKey, 20)));
      expect(results.reduce((sum, r) => sum + r.taken, 0)).toBe(3);
      expect(results.reduce((sum, r) => sum + r.shortfall, 0)).toBe(17);
      expect(await ledger.balance(id)).toBe(0);
    });
  });
});
