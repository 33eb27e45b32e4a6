/**
 * The credit purchase's activities: close its checkout, grant the pack's credits once per
 * payment, take them back after a refund. Ledger and provider refusals are final; outages retry.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { CreditPurchases } from '../credits/purchases.js';
import { LedgerError, type CreditLedger, type Revoke } from '../ledger/ledger.js';
import { counted, creditRevokes } from '../metrics/registry.js';
import { PaymentRejected, type PaymentProvider, type PaymentReceived } from '../payments/port.js';
import { purchaseGrantKey } from '../workflows/credit-purchase/api.js';

export interface CreditActivityDeps {
  ledger: CreditLedger;
  creditPurchases: CreditPurchases;
  payments: ReadonlyMap<string, PaymentProvider>;
}

async function finalOnRefusal<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LedgerError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    if (err instanceof PaymentRejected) throw ApplicationFailure.nonRetryable(err.message, err.name);
    throw err;
  }
}

/**
 * Credits a refund takes back: the pack's share of the refunded amount, rounded up (a refund of
 * half of a 5-credit pack takes 3), never more than the pack.
 */
export function creditsToRevoke(credits: number, amountCents: number, amountRefundedCents: number): number {
  if (amountCents <= 0) return credits;
  return Math.min(credits, Math.ceil((credits * Math.min(amountRefundedCents, amountCents)) / amountCents));
}

export function createCreditActivities(deps: CreditActivityDeps) {
  const provider = (id: string) => {
    const found = deps.payments.get(id);
    if (!found) throw ApplicationFailure.nonRetryable(`no payment provider "${id}" is configured`, 'UnknownPaymentProvider');
    return found;
  };
  return {
    /** Closes an unpaid checkout; the payment when the shopper paid in the meantime, else null. */
    async closeCreditCheckout(input: { provider: string; sessionId: string }): Promise<PaymentReceived | null> {
      return finalOnRefusal(async () => {
        const p = provider(input.provider);
        if ((await p.expireCheckout(input.sessionId)) === 'expired') return null;
        return (await p.paidCheckout(input.sessionId)) ?? null;
      });
    },

    /** Adds the pack's credits, once per payment (the ledger key is the payment's). */
    async grantPurchasedCredits(input: {
      purchaseId: string;
      customerId: string;
      pack: string;
      credits: number;
      paymentIntentId: string;
    }): Promise<{ entryId: string; balanceAfter: number }> {
      return finalOnRefusal(async () => {
        const grant = await deps.ledger.grant({
          accountId: input.customerId,
          amount: input.credits,
          idempotencyKey: purchaseGrantKey(input.paymentIntentId),
          reason: `credit pack ${input.pack} (${input.purchaseId})`,
        });
        await deps.creditPurchases.markFulfilled(input.purchaseId, input.paymentIntentId);
        return { entryId: grant.entryId, balanceAfter: grant.balanceAfter };
      });
    },

    /** Takes back the refunded share of the pack, as many credits as are left; once per refund total. */
    async revokePurchasedCredits(input: {
      purchaseId: string;
      credits: number;
      paymentIntentId: string;
      amountCents: number;
      amountRefundedCents: number;
    }): Promise<Revoke> {
      const outcome = (r: Revoke) => (r.status === 'nothing_granted' ? 'nothing_granted' : r.shortfall > 0 ? 'shortfall' : 'revoked');
      return counted(creditRevokes, {}, outcome, () =>
        finalOnRefusal(() =>
          deps.ledger.revoke({
            grantKey: purchaseGrantKey(input.paymentIntentId),
            totalRevoked: creditsToRevoke(input.credits, input.amountCents, input.amountRefundedCents),
            // The refund's running total names it: a redelivered notice is the same revoke.
            idempotencyKey: `credits:revoke:${input.paymentIntentId}:${input.amountRefundedCents}`,
            reason: `refund of credit pack purchase ${input.purchaseId}`,
          }),
        ),
      );
    },
  };
}
