/**
 * Versioned schema migrations, applied in order, each in its own transaction, recorded in
 * `schema_migrations`. A migration once released is never edited: add a new one.
 * Kept as TypeScript strings so the build ships them without copying assets.
 */
import type { Database } from './database.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'credit ledger',
    sql: `
      CREATE TABLE accounts (
        id          TEXT PRIMARY KEY,
        balance     INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
        created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      -- Every movement of credit. A key seen before is never applied twice.
      CREATE TABLE ledger_entries (
        id              BIGSERIAL PRIMARY KEY,
        -- null only for a void: a refund of a charge that never happened
        account_id      TEXT REFERENCES accounts(id),
        kind            TEXT NOT NULL CHECK (kind IN ('grant', 'charge', 'refund', 'void')),
        amount          INTEGER NOT NULL CHECK (amount >= 0),
        idempotency_key TEXT NOT NULL UNIQUE,
        -- refunds and voids: the key of the charge they answer
        charge_key      TEXT,
        reason          TEXT NOT NULL,
        balance_after   INTEGER NOT NULL,
        created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
        CHECK (account_id IS NOT NULL OR kind = 'void')
      );
      -- A charge is given back at most once, whatever key the refund carries.
      CREATE UNIQUE INDEX ledger_one_refund_per_charge
        ON ledger_entries (charge_key) WHERE kind IN ('refund', 'void');
      CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);
    `,
  },
  {
    version: 2,
    name: 'customers, api keys, animations',
    sql: `
      -- A customer is also a ledger account with the same id.
      CREATE TABLE customers (
        id          TEXT PRIMARY KEY,
        created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      -- Only a hash of each API key is kept; the key is shown once, when issued.
      CREATE TABLE api_keys (
        key_hash     TEXT PRIMARY KEY,
        customer_id  TEXT NOT NULL REFERENCES customers(id),
        created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      -- The durable state of an animation lives in its workflow; this maps ids, keys and tokens.
      CREATE TABLE animations (
        id               TEXT PRIMARY KEY,
        customer_id      TEXT NOT NULL REFERENCES customers(id),
        idempotency_key  TEXT,
        viewer_token     TEXT NOT NULL UNIQUE,
        created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (customer_id, idempotency_key)
      );
    `,
  },
  {
    version: 3,
    name: 'provider slots',
    sql: `
      -- Leases on a provider's concurrent jobs, shared by every worker and process.
      CREATE TABLE provider_slots (
        provider    TEXT NOT NULL,
        holder      TEXT NOT NULL,
        expires_at  TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (provider, holder)
      );
    `,
  },
  {
    version: 4,
    name: 'provider requests',
    sql: `
      -- Requests made to a provider that takes no idempotency key (fal): recorded the moment the
      -- provider answers, so a retried step finds its request instead of paying for a second one.
      CREATE TABLE provider_requests (
        provider        TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        endpoint        TEXT NOT NULL,
        request_id      TEXT NOT NULL,
        created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, idempotency_key)
      );
    `,
  },
  {
    version: 5,
    name: 'sticker orders and webhook deduplication',
    sql: `
      -- The durable state of an order lives in its workflow; this maps ids to what the API checks
      -- before it asks the workflow anything: the access token (hashed), the printer, the payment.
      CREATE TABLE orders (
        id                  TEXT PRIMARY KEY,
        animation_id        TEXT NOT NULL REFERENCES animations(id),
        access_token_sha256 TEXT NOT NULL,
        email               TEXT NOT NULL,
        printer_id          TEXT NOT NULL,
        payment_provider    TEXT NOT NULL,
        checkout_session_id TEXT UNIQUE,
        amount_cents        INTEGER NOT NULL CHECK (amount_cents > 0),
        currency            TEXT NOT NULL,
        created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE INDEX orders_by_animation ON orders (animation_id);
      -- Webhook events already acted on, by source ("stripe", "printer:sim", ...) and event id.
      CREATE TABLE webhook_events (
        source       TEXT NOT NULL,
        event_id     TEXT NOT NULL,
        received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (source, event_id)
      );
    `,
  },
  {
    version: 6,
    name: 'local payment provider',
    sql: `
      -- The embedded payment provider's checkout sessions and refunds (Stripe keeps these itself).
      CREATE TABLE local_payment_sessions (
        id                TEXT PRIMARY KEY,
        -- one session per order: asking again returns this one
        order_id          TEXT NOT NULL UNIQUE,
        amount_cents      INTEGER NOT NULL CHECK (amount_cents > 0),
        currency          TEXT NOT NULL,
        description       TEXT NOT NULL,
        email             TEXT NOT NULL,
        success_url       TEXT NOT NULL,
        cancel_url        TEXT NOT NULL,
        status            TEXT NOT NULL CHECK (status IN ('open', 'complete', 'expired')),
        -- set together, once, when the customer pays; every redelivery of the completed event is
        -- rebuilt from them, so it is the same event
        payment_intent_id TEXT UNIQUE,
        event_id          TEXT UNIQUE,
        completed_at      TIMESTAMPTZ,
        expires_at        TIMESTAMPTZ NOT NULL,
        created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
        CHECK ((status = 'complete') = (payment_intent_id IS NOT NULL AND event_id IS NOT NULL AND completed_at IS NOT NULL))
      );
      -- Full refunds only: at most one per payment, whatever key it carries.
      CREATE TABLE local_payment_refunds (
        id                TEXT PRIMARY KEY,
        payment_intent_id TEXT NOT NULL UNIQUE REFERENCES local_payment_sessions(payment_intent_id),
        amount_cents      INTEGER NOT NULL CHECK (amount_cents > 0),
        idempotency_key   TEXT NOT NULL UNIQUE,
        reason            TEXT NOT NULL,
        created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 7,
    name: 'printer simulator',
    sql: `
      -- The simulated printer's orders, keyed by the customer's external id (our order id).
      -- next_at: when the ticker next moves the order on; null once it rests (delivered, failed,
      -- cancelled), so parked orders cost nothing to the ticker's scan of the partial index.
      CREATE TABLE printer_sim_orders (
        external_id   TEXT PRIMARY KEY,
        sim_id        TEXT NOT NULL UNIQUE,
        request       JSONB NOT NULL,
        pdf_bytes     INTEGER,
        -- failed downloads of the print file so far (retried a few times before the order fails)
        download_attempts INTEGER NOT NULL DEFAULT 0,
        stage         TEXT NOT NULL CHECK (stage IN ('received', 'accepted', 'in_production', 'shipped', 'delivered', 'failed', 'cancelled')),
        fail_reason   TEXT,
        tracking      JSONB,
        next_at       TIMESTAMPTZ,
        created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE INDEX printer_sim_orders_due ON printer_sim_orders (next_at) WHERE next_at IS NOT NULL;
      -- Its webhook outbox: each event is kept with its exact body and retried (at least once)
      -- until the receiver answers 2xx; an order's events go out one at a time, in order.
      CREATE TABLE printer_sim_webhooks (
        seq           BIGSERIAL PRIMARY KEY,
        event_id      TEXT NOT NULL UNIQUE,
        external_id   TEXT NOT NULL REFERENCES printer_sim_orders(external_id),
        body          TEXT NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        next_at       TIMESTAMPTZ,
        delivered_at  TIMESTAMPTZ,
        created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE INDEX printer_sim_webhooks_due ON printer_sim_webhooks (next_at) WHERE next_at IS NOT NULL;
      CREATE INDEX printer_sim_webhooks_pending ON printer_sim_webhooks (external_id, seq) WHERE next_at IS NOT NULL;
    `,
  },
  {
    version: 8,
    name: 'shared rate limits, credit packs',
    sql: `
      -- Rate-limit counters shared by every API process (rate-limiter-flexible's PostgreSQL
      -- layout: one fixed window per key; expire is a unix time in milliseconds).
      CREATE TABLE rate_limits (
        key     VARCHAR(255) PRIMARY KEY,
        points  INTEGER NOT NULL DEFAULT 0,
        expire  BIGINT
      );
      CREATE INDEX rate_limits_expire ON rate_limits (expire);
      -- Credit packs bought through the payment provider. The credits are a ledger grant keyed by
      -- the payment (credits:payment:<payment intent>), so a payment adds them once.
      CREATE TABLE credit_purchases (
        id                  TEXT PRIMARY KEY,
        customer_id         TEXT NOT NULL REFERENCES customers(id),
        pack                TEXT NOT NULL,
        credits             INTEGER NOT NULL CHECK (credits > 0),
        amount_cents        INTEGER NOT NULL CHECK (amount_cents > 0),
        currency            TEXT NOT NULL,
        payment_provider    TEXT NOT NULL,
        checkout_session_id TEXT UNIQUE,
        checkout_expires_at TIMESTAMPTZ,
        -- set once, when the credits are added
        payment_intent_id   TEXT UNIQUE,
        fulfilled_at        TIMESTAMPTZ,
        created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE INDEX credit_purchases_by_customer ON credit_purchases (customer_id, created_at);
      -- A refunded pack takes its credits back: a 'revoke' entry answers the grant named in
      -- charge_key, for as many credits as the account still holds (possibly none).
      ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
      ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('grant', 'charge', 'refund', 'void', 'revoke'));
      -- revokes only: the credits it was owed (amount: what the account still held of them)
      ALTER TABLE ledger_entries ADD COLUMN owed INTEGER CHECK (owed >= amount);
      -- A credit purchase asks for no email (Stripe's customer_email is optional too).
      ALTER TABLE local_payment_sessions ALTER COLUMN email DROP NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'emails sent',
    sql: `
      -- Emails to shoppers, one row per idempotency key: claimed ('sending') before the message
      -- goes out and marked 'sent' after, so a retry never sends a sent message again. A claim
      -- left 'sending' past its lease (a crashed worker) or ended 'unknown' (the connection was
      -- lost after the server had the message) is sent again as a possible duplicate. What the
      -- operator console lists as the emails of an order.
      CREATE TABLE emails_sent (
        idempotency_key    TEXT PRIMARY KEY,
        kind               TEXT NOT NULL,
        -- the order (or animation) it is about
        reference          TEXT NOT NULL,
        recipient          TEXT NOT NULL,
        subject            TEXT NOT NULL,
        message_id         TEXT NOT NULL,
        -- smtp, or outbox (then outbox_file names the .eml under DATA_DIR/outbox)
        transport          TEXT NOT NULL,
        outbox_file        TEXT,
        status             TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'unknown', 'failed', 'refused')),
        attempts           INTEGER NOT NULL DEFAULT 1,
        -- some copy went out after an attempt whose outcome is unknown: there may be two
        possible_duplicate BOOLEAN NOT NULL DEFAULT false,
        last_error         TEXT,
        claimed_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
        sent_at            TIMESTAMPTZ,
        created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
        CHECK ((status = 'sent') = (sent_at IS NOT NULL))
      );
      CREATE INDEX emails_sent_by_reference ON emails_sent (reference, created_at);
    `,
  },
  {
    version: 10,
    name: 'records of animations and orders',
    sql: `
      -- What the workflows last recorded (by activity, as they move): pages and lists read these,
      -- so a buddy or an order still shows after Temporal has deleted its workflow. record_seq
      -- keeps only the newest write of a run (a retried older write changes nothing).
      ALTER TABLE animations ADD COLUMN status TEXT;
      ALTER TABLE animations ADD COLUMN record JSONB;
      ALTER TABLE animations ADD COLUMN record_seq INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE animations ADD COLUMN updated_at TIMESTAMPTZ;
      ALTER TABLE orders ADD COLUMN status TEXT;
      ALTER TABLE orders ADD COLUMN record JSONB;
      ALTER TABLE orders ADD COLUMN record_seq INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE orders ADD COLUMN updated_at TIMESTAMPTZ;
      CREATE INDEX orders_by_status ON orders (status, updated_at);
    `,
  },
  {
    version: 11,
    name: 'operator console: alerts, actions, reprints',
    sql: `
      -- Every alert the workflows raised, whatever channels it also went to: the console's
      -- "recent alerts". reference is the order or animation id the alert is about, if any.
      CREATE TABLE alerts (
        id          BIGSERIAL PRIMARY KEY,
        title       TEXT NOT NULL,
        failed_step TEXT NOT NULL,
        error       TEXT NOT NULL,
        refund      TEXT,
        workflow_id TEXT,
        reference   TEXT,
        created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE INDEX alerts_by_time ON alerts (created_at DESC);
      CREATE INDEX alerts_by_reference ON alerts (reference, created_at);
      -- What operators did from the console, once per request id (a double click or a resubmitted
      -- form repeats nothing), with who and what came of it.
      CREATE TABLE ops_actions (
        request_id TEXT PRIMARY KEY,
        action     TEXT NOT NULL,
        order_id   TEXT NOT NULL,
        actor      TEXT NOT NULL,
        reason     TEXT,
        result     JSONB,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE INDEX ops_actions_by_order ON ops_actions (order_id, created_at);
      -- A reprint is an order of its own, for no payment, of the art and address of reprint_of.
      ALTER TABLE orders ADD COLUMN reprint_of TEXT REFERENCES orders (id);
      ALTER TABLE orders DROP CONSTRAINT orders_amount_cents_check;
      ALTER TABLE orders ADD CONSTRAINT orders_amount_cents_check CHECK (amount_cents > 0 OR (reprint_of IS NOT NULL AND amount_cents = 0));
    `,
  },
];

const LOCK_ID = 0x5f1c3e; // any constant: serialises concurrent migrators on PostgreSQL

export async function migrate(db: Database, list: Migration[] = migrations): Promise<number[]> {
  // Under the lock too: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent
  // one (two processes starting at once on an empty database both try, one fails on pg_type).
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
  });
  const applied: number[] = [];
  for (const m of [...list].sort((a, b) => a.version - b.version)) {
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
      const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (seen.length) return false;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}

/** Parameterised `query` takes one statement at a time; our migrations hold no `;` in literals. */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
}
