/**
 * Customers and their API keys. A customer is created on first contact (anonymous) with the
 * starter credits in the ledger; the web keeps its id in a signed cookie, the CLI an API key.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import type { CreditLedger } from '../ledger/ledger.js';

export const API_KEY_PREFIX = 'sf_key_';

/** Unguessable ids and tokens: 128 bits or more from the CSPRNG, URL-safe. */
export function randomId(prefix: string, bytes = 16): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

export class Customers {
  constructor(
    private readonly db: Database,
    private readonly ledger: CreditLedger,
    private readonly starterCredits: number,
  ) {}

  async create(): Promise<string> {
    const id = randomId('cus_');
    await this.db.query('INSERT INTO customers (id) VALUES ($1)', [id]);
    await this.ledger.openAccount(id, this.starterCredits);
    return id;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM customers WHERE id = $1', [id])).length > 0;
  }

  /** A new API key for the customer; only its hash is stored, so this is the one time it is seen. */
  async issueApiKey(customerId: string): Promise<string> {
    const key = randomId(API_KEY_PREFIX, 32);
    await this.db.query('INSERT INTO api_keys (key_hash, customer_id) VALUES ($1, $2)', [hashKey(key), customerId]);
    return key;
  }

  async findByApiKey(key: string): Promise<string | undefined> {
    if (!key.startsWith(API_KEY_PREFIX)) return undefined;
    const [row] = await this.db.query<{ customer_id: string }>('SELECT customer_id FROM api_keys WHERE key_hash = $1', [hashKey(key)]);
    return row?.customer_id;
  }
}
