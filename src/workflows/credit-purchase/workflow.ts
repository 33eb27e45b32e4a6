/**
 * CreditPurchaseWorkflow: one pack of credits, from checkout to the ledger.
 *
 * Started by the API before the checkout link is handed out. The payment arrives as a signal —
 * from the signed webhook or from the shopper's return, whichever comes first — and the credits
 * are granted under a ledger key of the payment, so the second arrival (and every redelivery) is
 * a no-op. Unpaid at the checkout's expiry: the checkout is closed, and a payment made in that
 * last moment is still honoured. A refund of the payment takes the credits back, as many as the
 * shopper still holds.
 *
 * Everything after the run ends reaches the same workflow id by signal-with-start: a payment or
 * refund notice then starts a short new run that does only what is still undone (the ledger keys
 * make the rest no-ops), so nothing depends on how long Temporal keeps closed runs.
 */
import { log, proxyActivities, setHandler, condition, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { PaymentReceived, PaymentRefunded } from '../../payments/port.js';
import { ALERT, REFUND_FOR_A_WEEK } from '../shared/activity-options.js';
import { workflowNowMs } from '../shared/clock.js';
import {
  creditPaymentSignal,
  creditPurchaseQuery,
  creditRefundSignal,
  type CreditPurchaseInput,
  type CreditPurchaseView,
} from './api.js';

/** Closing the checkout at the payment provider: keep trying for a day. */
const HOUSEKEEPING: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
};

const ledger = proxyActivities<Pick<Activities, 'grantPurchasedCredits' | 'revokePurchasedCredits'>>(REFUND_FOR_A_WEEK);
const provider = proxyActivities<Pick<Activities, 'closeCreditCheckout'>>(HOUSEKEEPING);
const operator = proxyActivities<Pick<Activities, 'alertOperator'>>(ALERT);

export async function CreditPurchaseWorkflow(input: CreditPurchaseInput): Promise<CreditPurchaseView> {
  const view: CreditPurchaseView = { purchaseId: input.purchaseId, status: 'awaiting_payment', credits: input.credits };
  let payment: PaymentReceived | undefined;
  let refund: PaymentRefunded | undefined;

  setHandler(creditPaymentSignal, (p) => {
    if (p.amountCents !== input.amountCents || p.currency !== input.currency.toLowerCase()) {
      log.warn('a payment that is not this purchase\'s was ignored', { eventId: p.eventId, amountCents: p.amountCents, currency: p.currency });
      return;
    }
    payment ??= p;
  });
  // Refund notices carry the total refunded so far: the largest one is the news.
  setHandler(creditRefundSignal, (r) => {
    if (!refund || r.amountRefundedCents > refund.amountRefundedCents) refund = r;
  });
  setHandler(creditPurchaseQuery, () => view);

  const untilExpiry = Math.max(0, Date.parse(input.checkoutExpiresAt) - workflowNowMs());
  const heard = await condition(() => payment !== undefined || refund !== undefined, untilExpiry);
  if (!heard) {
    try {
      payment = (await provider.closeCreditCheckout({ provider: input.payment.provider, sessionId: input.payment.sessionId })) ?? undefined;
    } catch (err) {
      await operator.alertOperator({
        title: `credit purchase ${input.purchaseId}: its checkout could not be closed`,
        failedStep: 'closeCreditCheckout',
        error: String((err as Error).message ?? err),
        refund: 'nothing was charged unless the shopper pays now; a late payment still adds the credits (webhook)',
      });
    }
    if (!payment) {
      view.status = 'expired';
      return view;
    }
  }

  if (payment) {
    const granted = await ledger.grantPurchasedCredits({
      purchaseId: input.purchaseId,
      customerId: input.customerId,
      pack: input.pack,
      credits: input.credits,
      paymentIntentId: payment.paymentIntentId,
    });
    view.status = 'fulfilled';
    view.paymentIntentId = payment.paymentIntentId;
    view.balanceAfter = granted.balanceAfter;
  }

  if (refund) {
    const revoked = await ledger.revokePurchasedCredits({
      purchaseId: input.purchaseId,
      credits: input.credits,
      paymentIntentId: refund.paymentIntentId,
      amountCents: refund.amountCents,
      amountRefundedCents: refund.amountRefundedCents,
    });
    view.status = 'refunded';
    view.paymentIntentId = refund.paymentIntentId;
    view.revoked = { taken: revoked.taken, shortfall: revoked.shortfall };
    if (revoked.shortfall > 0) {
      await operator.alertOperator({
        title: `credit purchase ${input.purchaseId} refunded after ${revoked.shortfall} of its credits were spent`,
        failedStep: 'revokePurchasedCredits',
        error: `${revoked.taken} credit(s) taken back, ${revoked.shortfall} already spent`,
        refund: `the payment was refunded at the payment provider; ${revoked.shortfall} credit(s) stay with the shopper`,
      });
    }
  }
  return view;
}
