/**
 * LatePaymentWorkflow: refunds a payment that came after its order ended (paid as the payment
 * deadline passed, after a cancel, or a second payment), once, and tells the operator. The
 * webhook and the checkout return only hand it over; the refund is retried for a week through a
 * provider outage, and a refund that never goes through is an alert, not a lost payment.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { ALERT, REFUND_FOR_A_WEEK } from '../shared/activity-options.js';
import { describeFailure } from '../shared/paid-work.js';
import type { LatePaymentInput, LatePaymentResult } from './api.js';

const { refundPayment } = proxyActivities<Pick<Activities, 'refundPayment'>>(REFUND_FOR_A_WEEK);
const { alertOperator } = proxyActivities<Pick<Activities, 'alertOperator'>>(ALERT);

export async function LatePaymentWorkflow(input: LatePaymentInput): Promise<LatePaymentResult> {
  const { orderId, payment } = input;
  const idempotencyKey = input.orderPaidWith ? `refund:order:${orderId}:${payment.paymentIntentId}` : `refund:order:${orderId}`;
  const amount = `${(payment.amountCents / 100).toFixed(2)} ${payment.currency.toUpperCase()}`;
  try {
    const refund = await refundPayment({
      provider: input.provider,
      paymentIntentId: payment.paymentIntentId,
      amountCents: payment.amountCents,
      idempotencyKey,
      reason: 'paid after the order closed',
    });
    await alertOperator({
      title: `Sticker order ${orderId}: paid after it had ended, refunded`,
      failedStep: 'late payment',
      error: `payment ${payment.paymentIntentId} (event ${payment.eventId}) arrived after the order ended`,
      refund: `refunded ${amount} (${refund.refundId})`,
    }).catch(() => undefined);
    return { refundId: refund.refundId, amountCents: refund.amountCents, status: refund.status };
  } catch (err) {
    const error = describeFailure(err);
    await alertOperator({
      title: `Sticker order ${orderId}: a payment after it had ended could not be refunded`,
      failedStep: 'late payment',
      error,
      refund: `REFUND FAILED: refund ${amount} of payment ${payment.paymentIntentId} by hand`,
    }).catch(() => undefined);
    throw err;
  }
}
