/**
 * LatePaymentWorkflow on the Java time-skipping server: a payment that came after its order
 * ended is refunded once under the right key, through an outage of the provider, and the
 * operator is told; a refund the provider refuses for good is an alert and a failed workflow,
 * never a silent loss.
 */
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAlertActivities } from '../../src/activities/alerts.js';
import type { RefundRequest, RefundResult } from '../../src/payments/port.js';
import { LATE_PAYMENT_WORKFLOW_TYPE, latePaymentWorkflowId, type LatePaymentInput } from '../../src/workflows/late-payment/api.js';
import { paid } from '../support/orders.js';
import { RecordingAlertChannel } from '../support/recording-alerts.js';
import { bundle, timeSkippingEnv } from '../support/temporal.js';

const workflowsPath = fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url));
let env: TestWorkflowEnvironment;
beforeEach(async () => {
  env = await timeSkippingEnv();
}, 60_000);
afterEach(() => env?.teardown());

/** Runs the workflow with `refund` as the provider's refund; returns its outcome, the refund calls and the alerts. */
async function run(input: LatePaymentInput, refund: (req: RefundRequest & { provider: string }) => Promise<RefundResult>) {
  const taskQueue = `late-${randomUUID()}`;
  const alerts = new RecordingAlertChannel();
  const calls: (RefundRequest & { provider: string })[] = [];
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundle(workflowsPath),
    activities: {
      refundPayment: async (req: RefundRequest & { provider: string }) => {
        calls.push(req);
        return refund(req);
      },
      ...createAlertActivities({ channels: [alerts], temporalUiUrl: 'http://ui', namespace: 'default' }),
    },
  });
  const outcome = await worker.runUntil(
    env.client.workflow
      .execute(LATE_PAYMENT_WORKFLOW_TYPE, { taskQueue, workflowId: latePaymentWorkflowId(input.payment.paymentIntentId), args: [input] })
      .then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })),
  );
  return { outcome, calls, alerts: alerts.sent };
}

describe('LatePaymentWorkflow', () => {
  it("refunds under the order's key through a provider outage, once, and tells the operator", async () => {
    let attempts = 0;
    const { outcome, calls, alerts } = await run({ orderId: 'or_late', provider: 'stripe', payment: paid('or_late') }, async (req) => {
      if (++attempts < 3) throw new Error('Stripe answered 500');
      return { refundId: `re_${req.paymentIntentId}`, status: 'succeeded', amountCents: req.amountCents };
    });
    expect(outcome).toEqual({ ok: true, value: { refundId: 're_pi_or_late', amountCents: 4099, status: 'succeeded' } });
    expect(calls.map((c) => [c.provider, c.idempotencyKey, c.amountCents])).toEqual(Array(3).fill(['stripe', 'refund:order:or_late', 4099]));
    expect(alerts.map((a) => a.title)).toEqual(['Sticker order or_late: paid after it had ended, refunded']);
  });

  it('a second payment of an order that ended with another is refunded under its own key', async () => {
    const { calls } = await run({ orderId: 'or_two', provider: 'local', payment: paid('or_two'), orderPaidWith: 'pi_first' }, async (req) => ({
      refundId: 're_x',
      status: 'succeeded',
      amountCents: req.amountCents,
    }));
    expect(calls.map((c) => c.idempotencyKey)).toEqual(['refund:order:or_two:pi_or_two']);
  });

  it('a refund the provider refuses for good is an alert to refund by hand, and the workflow fails', async () => {
    const { outcome, calls, alerts } = await run({ orderId: 'or_refused', provider: 'local', payment: paid('or_refused') }, async () => {
      throw ApplicationFailure.nonRetryable('no paid payment pi_or_refused', 'PaymentRejected');
    });
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(WorkflowFailedError);
    expect(calls).toHaveLength(1);
    expect(alerts.map((a) => a.refund)).toEqual([expect.stringContaining('REFUND FAILED: refund 40.99 USD of payment pi_or_refused by hand')]);
  });
});
