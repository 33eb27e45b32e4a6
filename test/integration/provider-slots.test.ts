/** The cluster-wide provider limit, on PGlite and on PostgreSQL shared by separate connections. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { ProviderSlots } from '../../src/limits/provider-slots.js';
import { databaseEngines } from '../support/ledger.js';


describe.each(databaseEngines)('ProviderSlots on %s', (_n, open) => {
  let db: Database;
  let slots: ProviderSlots;
  beforeAll(async () => {
    db = await open();
    await migrate(db);
    slots = new ProviderSlots(db);
  });
  afterAll(() => db?.close());

  it('grants up to the limit, is idempotent per holder, and frees on release', async () => {
    const p = `fal-${randomUUID()}`;
    expect(await slots.acquire(p, 'a', 2, 60_000)).toBe(true);
    expect(await slots.acquire(p, 'a', 2, 60_000)).toBe(true); // the same holder again
    expect(await slots.acquire(p, 'b', 2, 60_000)).toBe(true);
    expect(await slots.acquire(p, 'c', 2, 60_000)).toBe(false);
    expect(await slots.inUse(p)).toBe(2);
    await slots.release(p, 'a');
    expect(await slots.acquire(p, 'c', 2, 60_000)).toBe(true);
  });

  it('takes back leases that were not renewed', async () => {
    const p = `fal-${randomUUID()}`;
    expect(await slots.acquire(p, 'dead-worker', 1, 50)).toBe(true);
    expect(await slots.acquire(p, 'b', 1, 60_000)).toBe(false);
    await new Promise((r) => setTimeout(r, 120));
    expect(await slots.renew(p, 'dead-worker', 60_000)).toBe(false);
    expect(await slots.acquire(p, 'b', 1, 60_000)).toBe(true);
  });

  it('never exceeds the limit under concurrent requests', async () => {
    const p = `fal-${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => slots.acquire(p, `h${i}`, 3, 60_000)));
    expect(results.filter(Boolean)).toHaveLength(3);
    expect(await slots.inUse(p)).toBe(3);
  });
});

it('holds across processes: separate PostgreSQL connections share one limit', async () => {
  const dbs = await Promise.all([0, 1, 2].map(() => openPostgres(inject('postgresUrl'))));
  try {
    await migrate(dbs[0]!);
    const p = `fal-${randomUUID()}`;
    const results = await Promise.all(dbs.flatMap((db, d) => Array.from({ length: 4 }, (_, i) => new ProviderSlots(db).acquire(p, `w${d}-${i}`, 5, 60_000))));
    expect(results.filter(Boolean)).toHaveLength(5);
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
  }
});
