/**
 * A cluster-wide limit on concurrent jobs per model provider: leases in the shared database, so
 * it holds across every worker and process (a per-process semaphore would not). A lease names its
 * holder (the animation id), so taking it again is harmless; it expires unless renewed, so a
 * holder that dies never keeps a slot for good.
 */
import type { Database } from '../db/database.js';

export class ProviderSlots {
  constructor(private readonly db: Database) {}

  /** True when `holder` has (or now gets) one of the provider's `limit` slots for `leaseMs`. */
  async acquire(provider: string, holder: string, limit: number, leaseMs: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // One decision at a time per provider, cluster-wide; the lock ends with the transaction.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`provider-slots:${provider}`]);
      await tx.query('DELETE FROM provider_slots WHERE provider = $1 AND expires_at < now()', [provider]);
      const renewed = await tx.query(
        `UPDATE provider_slots SET expires_at = now() + ($3 * interval '1 millisecond')
         WHERE provider = $1 AND holder = $2 RETURNING holder`,
        [provider, holder, leaseMs],
      );
      if (renewed.length) return true;
      const [taken] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM provider_slots WHERE provider = $1', [provider]);
      if ((taken?.n ?? 0) >= limit) return false;
      await tx.query(`INSERT INTO provider_slots (provider, holder, expires_at) VALUES ($1, $2, now() + ($3 * interval '1 millisecond'))`, [
        provider,
        holder,
        leaseMs,
      ]);
      return true;
    });
  }

  /** Extends a held lease; false when it had already expired and been taken away. */
  async renew(provider: string, holder: string, leaseMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE provider_slots SET expires_at = now() + ($3 * interval '1 millisecond')
       WHERE provider = $1 AND holder = $2 AND expires_at >= now() RETURNING holder`,
      [provider, holder, leaseMs],
    );
    return rows.length > 0;
  }

  async release(provider: string, holder: string): Promise<void> {
    await this.db.query('DELETE FROM provider_slots WHERE provider = $1 AND holder = $2', [provider, holder]);
  }

  async inUse(provider: string): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM provider_slots WHERE provider = $1 AND expires_at >= now()',
      [provider],
    );
    return row?.n ?? 0;
  }
}
