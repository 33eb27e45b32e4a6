/**
 * The operator's workflows' contract: what the console hands to Temporal so that an action an
 * operator confirmed is carried out whatever happens to the process that took the request. Names
 * here are written into histories: never rename them.
 */
import type { EmailRequest } from '../../email/messages.js';
import type { OrderRefund } from '../sticker-order/api.js';

export const OPERATOR_REFUND_WORKFLOW_TYPE = 'OperatorRefundWorkflow';
export const RESEND_EMAIL_WORKFLOW_TYPE = 'ResendEmailWorkflow';

/** One refund workflow per order at a time (a failed one may be started again). */
export const operatorRefundWorkflowId = (orderId: string) => `ops-refund:${orderId}`;
/** One per message: the key names the order, the kind and which resend it is. */
export const resendEmailWorkflowId = (idempotencyKey: string) => `ops-${idempotencyKey}`;

export interface OperatorRefundInput {
  orderId: string;
  provider: string;
  paymentIntentId: string;
  amountCents: number;
  currency: string;
  /** The operator's words; the shopper reads them in the refund email. */
  reason: string;
  /** Whom the refund email goes to. */
  email: string;
  name: string;
}

export type OperatorRefundResult = Extract<OrderRefund, { status: 'refunded' }>;

export type ResendEmailInput = EmailRequest & { resend: number };
