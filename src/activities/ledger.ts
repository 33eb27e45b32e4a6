/** Activities over the credit ledger. Both are idempotent by key, so Temporal may retry them freely. */
import { ApplicationFailure } from '@temporalio/activity';
import { counted, refunds } from '../metrics/registry.js';
import { CreditLedger, LedgerError, type Charge, type ChargeRequest, type Refund, type RefundRequest } from '../ledger/ledger.js';

/** Ledger rule violations are final; anything else (database down) is retried. */
async function ledgerCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LedgerError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

export function createLedgerActivities(deps: { ledger: CreditLedger }) {
  return {
    async chargeCredits(req: ChargeRequest): Promise<Charge> {
      return ledgerCall(() => deps.ledger.charge(req));
    },
    async refundCredits(req: RefundRequest): Promise<Refund> {
      return counted(refunds, { kind: 'credits' }, (r) => r.status, () => ledgerCall(() => deps.ledger.refund(req)));
    },
  };
}
