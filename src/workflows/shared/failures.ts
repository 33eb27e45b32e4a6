/**
 * Reading Temporal failures, the same in workflows (an activity's ActivityFailure) and in the API
 * (an update's WorkflowUpdateFailedError): only `@temporalio/common`, so both sides may import it.
 */
import { ApplicationFailure } from '@temporalio/common';

/** The innermost application failure's type, e.g. "InsufficientCredit" inside an ActivityFailure, or ORDER_LOCKED inside a failed update. */
export function failureType(err: unknown): string | undefined {
  let e: unknown = err;
  while (e instanceof Error && !(e instanceof ApplicationFailure) && e.cause) e = e.cause;
  return e instanceof ApplicationFailure ? (e.type ?? undefined) : undefined;
}
