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
  kind: 'grant' | 'charge' | 'refund' | 'void';
  amount: number;
  idempotency_key: string;
  charge_key: string | null;
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
