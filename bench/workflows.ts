/** Workflows that exist only to measure Temporal's own overhead: a chain of no-op activities. */
import { proxyActivities, proxyLocalActivities, sleep } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

export async function noopChainWorkflow(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await noop();
}

const { noop: localNoop } = proxyLocalActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

export async function localNoopChainWorkflow(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await localNoop();
}

export async function timerChainWorkflow(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await sleep(1);
}
