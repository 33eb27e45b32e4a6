/**
 * Migrations on a fresh PostgreSQL database, started by several processes at once (the
 * production shape: API and workers come up together): every one comes up, each migration is
 * applied exactly once, and nothing is touched before the advisory lock is held — `CREATE TABLE
 * IF NOT EXISTS` is not safe against a concurrent one in PostgreSQL (it failed on pg_type's
 * unique index before the lock covered it).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/database.js';
import { migrate, migrations } from '../../src/db/migrations.js';
import { eventually, launchEntry } from '../support/processes.js';

let admin: Database;
const made: string[] = [];

/** A new, empty database on the test server, and its URL. */
async function freshDatabase(): Promise<string> {
  const name = `migrate_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  made.push(name);
  const url = new URL(inject('postgresUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

beforeAll(async () => {
  admin = await openPostgres(inject('postgresUrl'));
});
afterAll(async () => {
  for (const name of made) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
  await admin?.close();
});

describe('migrations under concurrency', () => {
  it('five migrators on separate connections at once: all succeed, each migration applied once', async () => {
    const url = await freshDatabase();
    const dbs = await Promise.all(Array.from({ length: 5 }, () => openPostgres(url)));
    try {
      const applied = await Promise.all(dbs.map((db) => migrate(db)));
      // Between them they applied every migration exactly once.
      expect(applied.flat().sort((a, b) => a - b)).toEqual(migrations.map((m) => m.version).sort((a, b) => a - b));
      const rows = await dbs[0]!.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });

  it('five processes starting at once on an empty database all come up', async () => {
    const url = await freshDatabase();
    // The worker needs no Temporal server to migrate: it opens the database first, then fails to
    // connect (nothing listens on port 1). Each must get past its migrations.
    const launched = Array.from({ length: 5 }, () =>
      launchEntry('worker', { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/root', DATABASE_URL: url, TEMPORAL_ADDRESS: '127.0.0.1:1', LOG_LEVEL: 'info' }),
    );
    try {
      const exits = await Promise.all(launched.map((p) => p.exited));
      for (const p of launched) expect(p.output()).not.toMatch(/duplicate key|pg_type_typname_nsp_index|relation .* already exists/);
      expect(exits.every((code) => code !== null)).toBe(true);
      const check = await openPostgres(url);
      try {
        expect(await eventually(async () => (await check.query('SELECT version FROM schema_migrations')).length === migrations.length, 5000)).toBe(true);
      } finally {
        await check.close();
      }
    } finally {
      for (const p of launched) p.child.kill('SIGKILL');
    }
  }, 120_000);
});
