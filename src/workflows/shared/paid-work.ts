/**
 * The charge-once / refund-once pattern every paid workflow runs its work inside.
 *
 *   const paid = new PaidWork({ accountId, amount: 1, reason: 'animation' });
 *   return paid.run(async (step) => { await step('moderate', () => moderate(photo)); ... });
 *
 * - Charges exactly once before the work: the key comes from `uuid4()` (recorded in history, so
 *   a retried charge activity or a replay carries the same key and the ledger deduplicates it).
 * - On any failure or cancellation after the charge was attempted: refunds exactly once under its
 *   own stable key (derived from the charge key), alerts the operator with the failed step, the
 *   error and the refund's outcome, then fails the workflow with the cause (or ends it cancelled).
 * - A customer without credit fails fast with `InsufficientCredit`: nothing taken, nobody paged.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  uuid4,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { Charge, Refund } from '../../ledger/ledger.js';
import { ALERT, REFUND_FIRST_TRY, REFUND_FOR_A_WEEK } from './activity-options.js';
import { failureType } from './failures.js';

const { chargeCredits } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

const refundNow = proxyActivities<Activities>(REFUND_FIRST_TRY).refundCredits;
const refundPersistently = proxyActivities<Activities>(REFUND_FOR_A_WEEK).refundCredits;
const { alertOperator } = proxyActivities<Activities>(ALERT);

export const PAID_WORK_FAILED = 'PaidWorkFailed';
export const INSUFFICIENT_CREDIT = 'InsufficientCredit';

export interface PaidWorkOptions {
  accountId: string;
  /** Credits to charge. */
  amount: number;
  /** Shown in the ledger, e.g. "animation". */
  reason: string;
}

export type RefundState =
  | { status: 'not_needed' }
  | { status: 'pending'; error?: string }
  | { status: 'failed'; error: string }
  | Refund;

export interface PaidWorkState {
  /** The step running now, or the last one that ran. */
  step: string;
  charge?: Charge;
  refund?: RefundState;
  failedStep?: string;
  error?: string;
}

/** Runs one named step; the name is what the operator sees when it fails. */
export type StepRunner = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

export class PaidWork {
  readonly chargeKey: string;
  readonly refundKey: string;
  /** Read by workflows' status queries. */
  readonly state: PaidWorkState = { step: 'charge' };

  constructor(private readonly opts: PaidWorkOptions) {
    this.chargeKey = `charge:${uuid4()}`;
    this.refundKey = `refund:${this.chargeKey}`;
  }

  async run<T>(work: (step: StepRunner) => Promise<T>): Promise<T> {
    try {
      this.state.charge = await chargeCredits({
        accountId: this.opts.accountId,
        amount: this.opts.amount,
        idempotencyKey: this.chargeKey,
        reason: this.opts.reason,
      });
    } catch (err) {
      if (failureType(err) === INSUFFICIENT_CREDIT) {
        this.state.failedStep = 'charge';
        this.state.error = describeFailure(err);
        this.state.refund = { status: 'not_needed' };
        throw ApplicationFailure.create({ type: INSUFFICIENT_CREDIT, message: this.state.error, nonRetryable: true });
      }
      throw await this.compensate(err);
    }
    try {
      return await work((name, fn) => {
        this.state.step = name;
        return fn();
      });
    } catch (err) {
      throw await this.compensate(err);
    }
  }

  /** Refunds and alerts (even when cancelled), then returns the error the workflow ends with. */
  private async compensate(err: unknown): Promise<unknown> {
    const cancelled = isCancellation(err);
    this.state.failedStep = cancelled ? `cancelled during ${this.state.step}` : this.state.step;
    this.state.error = describeFailure(err);
    await CancellationScope.nonCancellable(async () => {
      this.state.refund = await this.refund(refundNow);
      if (this.state.refund.status === 'failed') {
        this.state.refund = { status: 'pending', error: this.state.refund.error };
        await this.alert();
        this.state.refund = await this.refund(refundPersistently);
        if (this.state.refund.status === 'failed') await this.alert();
      } else {
        await this.alert();
      }
    });
    if (cancelled) return err;
    return ApplicationFailure.create({
      type: PAID_WORK_FAILED,
      message: `${this.state.failedStep}: ${this.state.error}`,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
      details: [{ failedStep: this.state.failedStep, refund: this.state.refund }],
    });
  }

  private async refund(attempt: typeof refundNow): Promise<RefundState> {
    try {
      return await attempt({
        chargeKey: this.chargeKey,
        idempotencyKey: this.refundKey,
        reason: `${this.opts.reason} failed at ${this.state.failedStep}`,
      });
    } catch (err) {
      return { status: 'failed', error: describeFailure(err) };
    }
  }

  private async alert(): Promise<void> {
    try {
      await alertOperator({
        failedStep: this.state.failedStep!,
        error: this.state.error!,
        refund: describeRefund(this.state.refund!),
      });
    } catch (err) {
      // The alert is best effort after its own retries; the refund outcome stays in history.
      log.error('operator alert could not be delivered', { error: describeFailure(err) });
    }
  }
}

export function describeRefund(r: RefundState): string {
  switch (r.status) {
    case 'refunded':
      return `refunded ${r.amount} credit(s) (balance now ${r.balanceAfter})`;
    case 'nothing_charged':
      return 'nothing was charged, so nothing to refund';
    case 'not_needed':
      return 'no refund needed';
    case 'pending':
      return `REFUND NOT YET DONE (${r.error}); retrying for up to 7 days`;
    case 'failed':
      return `REFUND FAILED (${r.error}); refund by hand`;
  }
}

/** "Type: message" of the innermost cause, which is what a human needs to read. */
export function describeFailure(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return `${e.type ?? 'Error'}: ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
