/**
 * Every alert, kept in the `alerts` table whatever else it went to: the operator console lists
 * the recent ones, and an order's page those about it. Always on, beside the console channel.
 */
import type { Database } from '../db/database.js';
import type { AlertChannel, OperatorAlert } from './port.js';

/** What an alert is about: the order or animation id in its workflow id or title, if any. */
const REFERENCE = /\b(?:or|an)_[A-Za-z0-9_-]{22}\b/;

export const alertReference = (a: Pick<OperatorAlert, 'workflowId' | 'title'>) => REFERENCE.exec(`${a.workflowId} ${a.title}`)?.[0];

export class DatabaseAlertChannel implements AlertChannel {
  readonly name = 'database';
  constructor(private readonly db: Database) {}

  async send(alert: OperatorAlert): Promise<void> {
    await this.db.query(
      `INSERT INTO alerts (title, failed_step, error, refund, workflow_id, reference, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [alert.title, alert.failedStep, alert.error, alert.refund, alert.workflowId, alertReference(alert) ?? null, alert.occurredAt],
    );
  }
}
