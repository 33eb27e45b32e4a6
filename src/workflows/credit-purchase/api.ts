/**
 * The credit purchase workflow's public contract, shared by the workflow, its activities and the
 * API's payment routes: type name, id scheme, input, signals, query and view. Names here are
 * written into histories: never rename them.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PaymentReceived, PaymentRefunded } from '../../payments/port.js';

export const CREDIT_PURCHASE_WORKFLOW_TYPE = 'CreditPurchaseWorkflow';
/** One id per purchase: every payment or refund notice for it reaches the same workflow id. */
export const creditPurchaseWorkflowId = (purchaseId: string) => `credits:${purchaseId}`;
/** The ledger key of a purchase's credits: one grant per payment, whoever hands it over. */
export const purchaseGrantKey = (paymentIntentId: string) => `credits:payment:${paymentIntentId}`;

export interface CreditPurchaseInput {
  purchaseId: string;
  customerId: string;
  pack: string;
  credits: number;
  amountCents: number;
  currency: string;
  payment: { provider: string; sessionId: string };
  /** ISO 8601: when the checkout stops taking payments; the workflow closes it then. */
  checkoutExpiresAt: string;
}

export const creditPaymentSignal = defineSignal<[PaymentReceived]>('paymentReceived');
export const creditRefundSignal = defineSignal<[PaymentRefunded]>('paymentRefunded');

export type CreditPurchaseStatus = 'awaiting_payment' | 'fulfilled' | 'expired' | 'refunded';

export interface CreditPurchaseView {
  purchaseId: string;
  status: CreditPurchaseStatus;
  credits: number;
  paymentIntentId?: string;
  /** The balance right after the credits were added. */
  balanceAfter?: number;
  /** After a refund: credits taken back, and those already spent that could not be. */
  revoked?: { taken: number; shortfall: number };
}

export const creditPurchaseQuery = defineQuery<CreditPurchaseView>('creditPurchase');
