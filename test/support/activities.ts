import type { MockActivityEnvironment } from '@temporalio/testing';

/** MockActivityEnvironment.run, typed by the activity rather than by the literal arguments. */
export const callActivity = <A, R>(env: MockActivityEnvironment, fn: (input: A) => Promise<R>, input: A): Promise<R> =>
  env.run(fn as (input: unknown) => Promise<R>, input) as Promise<R>;
