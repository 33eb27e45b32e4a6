/**
 * Keeps a workflow's record in the database up to date, so pages and lists read the database and
 * outlive Temporal's retention (and answer while the workers are down). Whenever the workflow's
 * snapshot differs from the last one written, one activity writes the latest; changes made while
 * a write is in flight coalesce into the next one, so a burst of progress costs one or two writes.
 * Writes carry a sequence number, and the database keeps only a newer one than it has, so a
 * retried old write never overwrites a later state.
 *
 * A write that fails after its retries is logged and skipped (the next change writes the whole
 * snapshot again); recording never fails the workflow. `flush` waits until the final state is
 * written: call it last, once nothing will change any more.
 */
import { CancellationScope, condition, log } from '@temporalio/workflow';

export interface Recording {
  flush(): Promise<void>;
}

export function startRecording<T>(snapshot: () => T, write: (seq: number, record: T) => Promise<unknown>): Recording {
  let written: string | undefined;
  let seq = 0;
  let closing = false;
  const changed = () => JSON.stringify(snapshot()) !== written;
  // Not cancellable: a cancelled workflow's last state (cancelled, refunded) is the one to keep.
  const loop = CancellationScope.nonCancellable(async () => {
    for (;;) {
      await condition(() => changed() || closing);
      if (!changed()) return;
      const record = snapshot();
      const text = JSON.stringify(record);
      try {
        await write(++seq, record);
      } catch (err) {
        log.warn('the record could not be written; the next change writes it again', { error: String(err) });
      }
      written = text;
    }
  });
  return {
    flush() {
      closing = true;
      return loop;
    },
  };
}
