/**
 * The credit ledger: the one place that moves a customer's credits. Every movement carries an
 * idempotency key; a key seen before is a no-op that returns the first result, so activities may
 * be retried freely. A charge is refunded at most once, whatever key the refund carries.
 */
import { isUniqueViolation, type Database, type Queryable } from '../db/database.js';

export interface ChargeRequest {
  accountId: string;
  amount: number;
  idempotencyKey: string;
  reason: string;
}

export interface Charge {
  entryId: string;
  accountId: string;
  amount: number;
  idempotencyKey: string;
  balanceAfter: number;
}

export interface RefundRequest {
  /** The idempotency key of the charge to give back. */
  chargeKey: string;
  idempotencyKey: string;
  reason: string;
}

export type Refund =
  | { status: 'refunded'; entryId: string; accountId: string; amount: number; idempotencyKey: string; balanceAfter: number }
  /** No charge carries that key: nothing was taken. The key is voided so a late charge cannot land. */
  | { status: 'nothing_charged'; idempotencyKey: string };

export interface GrantRequest {
  accountId: string;
  amount: number;
  idempotencyKey: string;
  reason: string;
}

export interface RevokeRequest {
  /** The idempotency key of the grant some of whose credits go back (a purchased pack). */
  grantKey: string;
  /** How many of the grant's credits should be gone once this is applied, in all. */
  totalRevoked: number;
  idempotencyKey: string;
  reason: string;
}

export interface Revoke {
  /** 'nothing_granted': no grant carries that key, so nothing was taken. */
  status: 'revoked' | 'nothing_granted';
  /** Credits this revoke took (0 when the account had none left, or earlier ones took enough). */
  taken: number;
  /** Credits it should have taken but the account no longer held (spent already). */
  shortfall: number;
  balanceAfter: number;
}

export class LedgerError extends Error {
  constructor(
    /** Stable, permanent name: becomes the Temporal failure type. */
    public readonly type: 'InsufficientCredit' | 'UnknownAccount' | 'IdempotencyKeyReused' | 'ChargeVoided' | 'InvalidAmount',
    message: string,
  ) {
    super(message);
    this.name = 'LedgerError';
  }
}

interface EntryRow {
  id: string;
  account_id: string | null;
  kind: 'grant' | 'charge' | 'refund' | 'void' | 'revoke';
  amount: number;
  idempotency_key: string;
  charge_key: string | null;
  /** Revokes only: the credits this revoke was owed (`amount` is what it could take). */
  owed: number | null;
  balance_after: number;
}

const chargeFrom = (r: EntryRow): Charge => ({
  entryId: String(r.id),
  accountId: r.account_id!,
  amount: r.amount,
  idempotencyKey: r.idempotency_key,
  balanceAfter: r.balance_after,
});

const refundFrom = (r: EntryRow): Refund =>
  r.kind === 'void'
    ? { status: 'nothing_charged', idempotencyKey: r.idempotency_key }
    : { status: 'refunded', ...chargeFrom(r) };

function assertAmount(amount: number) {
  if (!Number.isInteger(amount) || amount <= 0) {
    throw new LedgerError('InvalidAmount', `amount must be a positive whole number of credits, got ${amount}`);
  }
}

export class CreditLedger {
  constructor(private readonly db: Database) {}

  /** Creates the account with its starter credits, once; later calls change nothing. */
  async openAccount(accountId: string, starterCredits: number): Promise<void> {
    await this.db.query('INSERT INTO accounts (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [accountId]);
    if (starterCredits > 0) {
      await this.grant({ accountId, amount: starterCredits, idempotencyKey: `starter:${accountId}`, reason: 'starter credits' });
    }
  }

  async balance(accountId: string): Promise<number> {
    const rows = await this.db.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1', [accountId]);
    if (!rows[0]) throw new LedgerError('UnknownAccount', `no account ${accountId}`);
    return rows[0].balance;
  }

  async entries(accountId: string): Promise<EntryRow[]> {
    return this.db.query<EntryRow>('SELECT * FROM ledger_entries WHERE account_id = $1 ORDER BY id', [accountId]);
  }

  async grant(req: GrantRequest): Promise<Charge> {
    assertAmount(req.amount);
    return this.once(req.idempotencyKey, 'grant', req.accountId, async (tx) => {
      const [acct] = await tx.query<{ balance: number }>(
        'UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance',
        [req.accountId, req.amount],
      );
      if (!acct) throw new LedgerError('UnknownAccount', `no account ${req.accountId}`);
      return chargeFrom(await insert(tx, { ...req, kind: 'grant', chargeKey: null, balanceAfter: acct.balance }));
    }, chargeFrom);
  }

  /** Takes `amount` credits, or throws InsufficientCredit without recording anything. */
  async charge(req: ChargeRequest): Promise<Charge> {
    assertAmount(req.amount);
    return this.once(req.idempotencyKey, 'charge', req.accountId, async (tx) => {
      const voided = await tx.query('SELECT 1 FROM ledger_entries WHERE charge_key = $1', [req.idempotencyKey]);
      if (voided.length) {
        throw new LedgerError('ChargeVoided', `charge ${req.idempotencyKey} was already given up by a refund`);
      }
      const [acct] = await tx.query<{ balance: number }>(
        'UPDATE accounts SET balance = balance - $2 WHERE id = $1 AND balance >= $2 RETURNING balance',
        [req.accountId, req.amount],
      );
      if (!acct) {
        const [exists] = await tx.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1', [req.accountId]);
        if (!exists) throw new LedgerError('UnknownAccount', `no account ${req.accountId}`);
        throw new LedgerError(
          'InsufficientCredit',
          `account has ${exists.balance} credit(s), ${req.amount} needed`,
        );
      }
      return chargeFrom(await insert(tx, { ...req, kind: 'charge', chargeKey: null, balanceAfter: acct.balance }));
    }, chargeFrom);
  }

  /**
   * Gives a charge back, at most once per charge. If the charge key was never charged, the key is
   * voided instead, so that a charge arriving late with that key is refused rather than kept.
   */
  async refund(req: RefundRequest): Promise<Refund> {
    const attempt = async (): Promise<Refund> => {
      const [seen] = await this.db.query<EntryRow>(
        `SELECT * FROM ledger_entries WHERE idempotency_key = $1 OR (charge_key = $2 AND kind IN ('refund', 'void'))
         ORDER BY id LIMIT 1`,
        [req.idempotencyKey, req.chargeKey],
      );
      const answersThisCharge = seen && (seen.kind === 'refund' || seen.kind === 'void') && seen.charge_key === req.chargeKey;
      if (answersThisCharge) return refundFrom(seen);
      if (seen) {
        throw new LedgerError('IdempotencyKeyReused', `key ${req.idempotencyKey} was already used for a different ${seen.kind}`);
      }
      return this.db.transaction(async (tx) => {
        const [charge] = await tx.query<EntryRow>(
          `SELECT * FROM ledger_entries WHERE idempotency_key = $1 AND kind = 'charge'`,
          [req.chargeKey],
        );
        if (!charge) {
          return refundFrom(
            await insert(tx, {
              accountId: null,
              amount: 0,
              idempotencyKey: req.idempotencyKey,
              reason: req.reason,
              kind: 'void',
              chargeKey: req.chargeKey,
              balanceAfter: 0,
            }),
          );
        }
        const [acct] = await tx.query<{ balance: number }>(
          'UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance',
          [charge.account_id, charge.amount],
        );
        return refundFrom(
          await insert(tx, {
            accountId: charge.account_id,
            amount: charge.amount,
            idempotencyKey: req.idempotencyKey,
            reason: req.reason,
            kind: 'refund',
            chargeKey: req.chargeKey,
            balanceAfter: acct!.balance,
          }),
        );
      });
    };
    try {
      return await attempt();
    } catch (err) {
      // A concurrent refund of the same charge won the race: return what it recorded.
      if (isUniqueViolation(err)) return attempt();
      throw err;
    }
  }

  /**
   * Takes back credits a grant gave (a refunded pack), up to `totalRevoked` of them across every
   * revoke of that grant, and never more than the account still holds: credits already spent
   * stay spent, and the shortfall is reported. Each revoke is an entry answering the grant (its
   * `charge_key`), recorded even when it takes nothing; a key seen before returns its first result.
   */
  async revoke(req: RevokeRequest): Promise<Revoke> {
    const asRevoke = (r: EntryRow): Revoke => ({
      status: 'revoked',
      taken: r.amount,
      shortfall: (r.owed ?? r.amount) - r.amount,
      balanceAfter: r.balance_after,
    });
    const previous = async () => {
      const [row] = await this.db.query<EntryRow>('SELECT * FROM ledger_entries WHERE idempotency_key = $1', [req.idempotencyKey]);
      if (!row) return undefined;
      if (row.kind !== 'revoke' || row.charge_key !== req.grantKey) {
        throw new LedgerError('IdempotencyKeyReused', `key ${req.idempotencyKey} was already used for a different ${row.kind}`);
      }
      return asRevoke(row);
    };
    const first = await previous();
    if (first) return first;
    try {
      return await this.db.transaction(async (tx): Promise<Revoke> => {
        const [grant] = await tx.query<EntryRow>(`SELECT * FROM ledger_entries WHERE idempotency_key = $1 AND kind = 'grant'`, [req.grantKey]);
        if (!grant) return { status: 'nothing_granted', taken: 0, shortfall: 0, balanceAfter: 0 };
        // The account row locked first, so concurrent revokes of one grant see each other's.
        const [acct] = await tx.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1 FOR UPDATE', [grant.account_id]);
        // Earlier revokes count with what they were owed, taken or not: credits owed but already
        // spent are not asked for again by the next partial refund.
        const [earlier] = await tx.query<{ owed: number | string }>(
          `SELECT COALESCE(SUM(owed), 0) AS owed FROM ledger_entries WHERE charge_key = $1 AND kind = 'revoke'`,
          [req.grantKey],
        );
        const owed = Math.max(0, Math.min(req.totalRevoked, grant.amount) - Number(earlier!.owed));
        const taken = Math.min(owed, acct!.balance);
        const [after] = await tx.query<{ balance: number }>('UPDATE accounts SET balance = balance - $2 WHERE id = $1 RETURNING balance', [
          grant.account_id,
          taken,
        ]);
        const [row] = await tx.query<EntryRow>(
          `INSERT INTO ledger_entries (account_id, kind, amount, owed, idempotency_key, charge_key, reason, balance_after)
           VALUES ($1, 'revoke', $2, $3, $4, $5, $6, $7) RETURNING *`,
          [grant.account_id, taken, owed, req.idempotencyKey, req.grantKey, req.reason, after!.balance],
        );
        return asRevoke(row!);
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const winner = await previous(); // a concurrent revoke with the same key committed first
      if (winner) return winner;
      throw err;
    }
  }

  /** Runs `apply` unless the key was seen; a key seen before returns its first result. */
  private async once<T>(
    key: string,
    kind: EntryRow['kind'],
    accountId: string,
    apply: (tx: Queryable) => Promise<T>,
    from: (row: EntryRow) => T,
  ): Promise<T> {
    const previous = async () => {
      const [row] = await this.db.query<EntryRow>('SELECT * FROM ledger_entries WHERE idempotency_key = $1', [key]);
      if (!row) return undefined;
      if (row.kind !== kind || row.account_id !== accountId) {
        throw new LedgerError('IdempotencyKeyReused', `key ${key} was already used for a different ${row.kind}`);
      }
      return from(row);
    };
    const first = await previous();
    if (first) return first;
    try {
      return await this.db.transaction(apply);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const winner = await previous(); // a concurrent call with the same key committed first
      if (winner) return winner;
      throw err;
    }
  }
}

async function insert(
  tx: Queryable,
  e: { accountId: string | null; amount: number; idempotencyKey: string; reason: string; kind: EntryRow['kind']; chargeKey: string | null; balanceAfter: number },
): Promise<EntryRow> {
  const [row] = await tx.query<EntryRow>(
    `INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, charge_key, reason, balance_after)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [e.accountId, e.kind, e.amount, e.idempotencyKey, e.chargeKey, e.reason, e.balanceAfter],
  );
  return row!;
}
