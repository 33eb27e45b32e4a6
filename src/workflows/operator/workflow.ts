/**
 * What an operator does from the console, made durable.
 *
 * OperatorRefundWorkflow refunds an order that has ended (a goodwill refund of a delivered order,
 * or the hand refund of one whose own refund failed), under the order's refund key: the provider
 * never refunds it twice, even against the order's own attempt. The order's record gets the
 * refund, the shopper an email, the operator an alert when it cannot be done.
 *
 * ResendEmailWorkflow sends one of an order's emails again, as a copy of its own.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { ALERT, EMAIL, RECORD, REFUND_FOR_A_WEEK } from '../shared/activity-options.js';
import { describeFailure } from '../shared/paid-work.js';
import { workflowNowIso } from '../shared/clock.js';
import type { OperatorRefundInput, OperatorRefundResult, ResendEmailInput } from './api.js';

const { refundPayment } = proxyActivities<Pick<Activities, 'refundPayment'>>(REFUND_FOR_A_WEEK);
const { alertOperator } = proxyActivities<Pick<Activities, 'alertOperator'>>(ALERT);
const { noteOrderRefund } = proxyActivities<Pick<Activities, 'noteOrderRefund'>>(RECORD);
const { sendEmail } = proxyActivities<Pick<Activities, 'sendEmail'>>(EMAIL);

export async function OperatorRefundWorkflow(input: OperatorRefundInput): Promise<OperatorRefundResult> {
  const { orderId } = input;
  const amount = `${(input.amountCents / 100).toFixed(2)} ${input.currency.toUpperCase()}`;
  try {
    const r = await refundPayment({
      provider: input.provider,
      paymentIntentId: input.paymentIntentId,
      amountCents: input.amountCents,
      idempotencyKey: `refund:order:${orderId}`,
      reason: `refunded by an operator: ${input.reason}`,
    });
    const refund: OperatorRefundResult = { status: 'refunded', refundId: r.refundId, amountCents: r.amountCents };
    await noteOrderRefund({ orderId, refund, at: workflowNowIso(), note: `refunded by an operator: ${input.reason}` });
    await sendEmail({
      kind: 'order_refunded',
      to: input.email,
      orderId,
      name: input.name,
      amountCents: r.amountCents,
      currency: input.currency,
      reason: input.reason,
    }).catch(() => undefined); // the refund stands; the email's failure is in this run's history
    return refund;
  } catch (err) {
    await alertOperator({
      title: `Sticker order ${orderId}: an operator's refund could not be made`,
      failedStep: 'operator refund',
      error: describeFailure(err),
      refund: `REFUND FAILED: refund ${amount} of payment ${input.paymentIntentId} by hand`,
    }).catch(() => undefined);
    throw err;
  }
}

export async function ResendEmailWorkflow(input: ResendEmailInput): Promise<{ messageId: string }> {
  const sent = await sendEmail(input);
  return { messageId: sent.messageId };
}
