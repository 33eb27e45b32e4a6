/** Builds the Temporal worker: the workflow bundle plus activities wired to real adapters. */
import { DefaultLogger, Runtime, Worker, type LogLevel, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Activities } from './activities/index.js';

const here = fileURLToPath(import.meta.url);
/** `src/workflows/index.ts` under tsx, `dist/workflows/index.js` when compiled. */
export const workflowsPath = path.join(path.dirname(here), 'workflows', `index${path.extname(here)}`);

export function createWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Partial<Activities>;
  /** false: an activity-only worker (an AI or media queue of its own). */
  workflows?: boolean;
  /** Workflows kept in memory between tasks (TEMPORAL_WORKFLOW_CACHE); unset: the SDK's default. */
  maxCachedWorkflows?: number;

  extra?: Partial<WorkerOptions>;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflows !== false && { workflowsPath }),
    activities: opts.activities,
    ...(opts.maxCachedWorkflows !== undefined && { maxCachedWorkflows: opts.maxCachedWorkflows }),
    ...opts.extra,
  });
}

/** Routes the SDK's own logs through ours, at our level: its INFO chatter (bundle stats) is noise. */
export function installTemporalRuntime(level: 'debug' | 'info' | 'warn' | 'error'): void {
  const sdkLevel: LogLevel = level === 'debug' ? 'DEBUG' : level === 'error' ? 'ERROR' : 'WARN';
  // shutdownSignals: none — the process entry points own signal handling and stop things in order.
  Runtime.install({ logger: new DefaultLogger(sdkLevel), shutdownSignals: [] });
}
