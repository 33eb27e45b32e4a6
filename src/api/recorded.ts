/**
 * How the routes read a workflow's state: from the record it writes to the database
 * (`src/workflows/shared/recorder.ts`) once it has ended, since Temporal may have deleted the
 * workflow since; while it runs, from the workflow's live answer, or from the record when the
 * workflow cannot answer quickly (a query needs a worker: without one it would wait).
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';

/** How long a page waits for a running workflow's own answer before it shows the record. */
export const LIVE_QUERY_MS = 2000;

export async function recordedOrLive<T>(
  temporal: Client,
  recorded: T | undefined,
  ended: (record: T) => boolean,
  query: () => Promise<T>,
  notFound: () => Error,
): Promise<T> {
  if (recorded && ended(recorded)) return recorded;
  try {
    return await (recorded ? temporal.withDeadline(Date.now() + LIVE_QUERY_MS, query) : query());
  } catch (err) {
    if (recorded) return recorded;
    if (err instanceof WorkflowNotFoundError) throw notFound();
    throw err;
  }
}
