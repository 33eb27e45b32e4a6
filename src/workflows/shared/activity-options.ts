/**
 * Timeouts and retries that every paid workflow uses the same way: giving money or credit back,
 * and telling the operator.
 */
import type { ActivityOptions } from '@temporalio/workflow';

/** First try at a refund: short, so the operator hears of trouble quickly. */
export const REFUND_FIRST_TRY: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/** Then keep trying for a week: a customer is never left without their refund while it can land. */
export const REFUND_FOR_A_WEEK: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '7 days',
  retry: { initialInterval: '1 minute', backoffCoefficient: 2, maximumInterval: '1 hour' },
};

/** Writing a workflow's record to the database: retried for an hour (a later change writes it again anyway). */
export const RECORD: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/** Operator alerts: retried for an hour, then given up (the outcome stays in history). */
export const ALERT: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
};

/**
 * An email to a shopper: an SMTP outage is waited out for a day (the message is still worth
 * sending), a refused address fails at once. Sent once per key however often it is retried.
 */
export const EMAIL: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '30 minutes' },
};
