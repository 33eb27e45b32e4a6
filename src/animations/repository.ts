/**
 * The animations table: ids, the customer's idempotency keys, the QR viewer tokens, and the
 * animation's record (its status as the workflow last wrote it), which pages read and which
 * outlives Temporal's retention.
 */
import type { Database } from '../db/database.js';
import type { AnimationStatus } from '../workflows/animation/api.js';
import { randomId } from '../customers/customers.js';

/** An animation id as the API hands them out: `an_` and 22 base64url characters. */
export const ANIMATION_ID = /^an_[A-Za-z0-9_-]{22}$/;

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
  /** The status its workflow last recorded; undefined for animations from before records. */
  status?: AnimationStatus;
}

interface Row {
  id: string;
  customer_id: string;
  idempotency_key: string | null;
  viewer_token: string;
  record: AnimationStatus | string | null;
}

const fromRow = (r: Row): AnimationRecord => ({
  id: r.id,
  customerId: r.customer_id,
  idempotencyKey: r.idempotency_key,
  viewerToken: r.viewer_token,
  status: typeof r.record === 'string' ? (JSON.parse(r.record) as AnimationStatus) : (r.record ?? undefined),
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

  /** Writes the workflow's status unless a later one (higher `seq`) is there already. */
  async saveStatus(id: string, seq: number, status: AnimationStatus): Promise<void> {
    await this.db.query(
      `UPDATE animations SET status = $2, record = $3, record_seq = $4, updated_at = now() WHERE id = $1 AND record_seq < $4`,
      [id, status.status, JSON.stringify(status), seq],
    );
  }
}
