/** The animations table: ids, the customer's idempotency keys, and the QR viewer tokens. */
import type { Database } from '../db/database.js';
import { randomId } from '../customers/customers.js';

/** The blob-store folder of an animation's files: `animations/<id>`. */
export const animationFolder = (animationId: string) => `animations/${animationId}`;
/** Where an animation's files live in the blob store: `animations/<id>/<name>`. */
export const animationKey = (animationId: string, name: string) => `${animationFolder(animationId)}/${name}`;

/**
 * The finished buddy, by asset: the only files of an animation ever served, under its viewer
 * token and by these names (`/a/<token>/buddy.webm`), never under its id.
 */
export const FINISHED_FILES = { webm: 'buddy.webm', webp: 'buddy.webp', gif: 'buddy.gif', poster: 'poster.png' } as const;

/**
 * The print art: the still cut-out sticker orders are printed from, for as long as the buddy
 * exists (a reorder can come years later). Kept, never served. Everything else in the folder
 * (the uploaded photo, the cartoons, the frames) is deleted when the animation ends.
 */
export const ART_FILE = 'cutout.png';

/** A QR viewer token as `create` makes them: `v_` and 18 random bytes in base64url. */
export const VIEWER_TOKEN = /^v_[A-Za-z0-9_-]{24}$/;

export interface AnimationRecord {
  id: string;
  customerId: string;
  idempotencyKey: string | null;
  viewerToken: string;
}

interface Row {
  id: string;
  customer_id: string;
  idempotency_key: string | null;
  viewer_token: string;
}

const fromRow = (r: Row): AnimationRecord => ({
  id: r.id,
  customerId: r.customer_id,
  idempotencyKey: r.idempotency_key,
  viewerToken: r.viewer_token,
});

export class AnimationRepository {
  constructor(private readonly db: Database) {}

  /**
   * A new record, or — when the customer already used `idempotencyKey` — the existing one
   * (`created: false`). Concurrent calls with one key get one record.
   */
  async create(customerId: string, idempotencyKey?: string): Promise<{ record: AnimationRecord; created: boolean }> {
    const [row] = await this.db.query<Row>(
      `INSERT INTO animations (id, customer_id, idempotency_key, viewer_token) VALUES ($1, $2, $3, $4)
       ON CONFLICT (customer_id, idempotency_key) DO NOTHING RETURNING *`,
      [randomId('an_'), customerId, idempotencyKey ?? null, randomId('v_', 18)],
    );
    if (row) return { record: fromRow(row), created: true };
    const existing = await this.findByKey(customerId, idempotencyKey!);
    return { record: existing!, created: false };
  }

  async findByKey(customerId: string, idempotencyKey: string): Promise<AnimationRecord | undefined> {
    const [row] = await this.db.query<Row>('SELECT * FROM animations WHERE customer_id = $1 AND idempotency_key = $2', [
      customerId,
      idempotencyKey,
    ]);
    return row && fromRow(row);
  }

  async get(id: string): Promise<AnimationRecord | undefined> {
    const [row] = await this.db.query<Row>('SELECT * FROM animations WHERE id = $1', [id]);
    return row && fromRow(row);
  }

  /** The animation a QR code's token opens; a malformed token is not looked up. */
  async getByViewerToken(token: string): Promise<AnimationRecord | undefined> {
    if (!VIEWER_TOKEN.test(token)) return undefined;
    const [row] = await this.db.query<Row>('SELECT * FROM animations WHERE viewer_token = $1', [token]);
    return row && fromRow(row);
  }

  async delete(id: string): Promise<void> {
    await this.db.query('DELETE FROM animations WHERE id = $1', [id]);
  }
}
