/**
 * Workflow time for timelines. Inside the workflow sandbox `Date` is deterministic: it reads the
 * time of the workflow task being processed (the same on replay), and the time-skipping test
 * server moves it forward with its timers. This is the one place workflow code reads it.
 */
// eslint-disable-next-line no-restricted-syntax -- the sandbox's deterministic clock, see above
export const workflowNowMs = (): number => Date.now();
/** An instant (ms since the epoch) as ISO 8601. */
export const isoAt = (ms: number): string => new Date(ms).toISOString(); // eslint-disable-line no-restricted-syntax
export const workflowNowIso = (): string => isoAt(workflowNowMs());
