/**
 * The late payment workflow's contract: a payment that reached an order after the order had
 * ended is given back by a workflow of its own, one per payment, so the refund survives a crash
 * of whoever received it and is made exactly once. Names here are written into histories.
 */
import type { PaymentReceived } from '../../payments/port.js';

export const LATE_PAYMENT_WORKFLOW_TYPE = 'LatePaymentWorkflow';
/** One workflow per payment: every webhook delivery and return for it reaches the same one. */
export const latePaymentWorkflowId = (paymentIntentId: string) => `late-payment:${paymentIntentId}`;

export interface LatePaymentInput {
  orderId: string;
  /** The payment provider the order was paid through. */
  provider: string;
  payment: PaymentReceived;
  /**
   * The payment the order ended with, when it ended with another one: this one is then refunded
   * under a key of its own; otherwise under the order's refund key, which the order's workflow
   * uses too, so the two can never both refund.
   */
  orderPaidWith?: string;
}

export interface LatePaymentResult {
  refundId: string;
  amountCents: number;
  status: 'succeeded' | 'pending';
}
