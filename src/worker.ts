/** Builds the Temporal worker: the workflow bundle plus activities wired to real adapters. */
import { DefaultLogger, Runtime, Worker, type LogLevel, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Activities } from './activities/index.js';
import type { Logger } from './logger.js';

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

/**
 * Installs the SDK's runtime, once per process and before any worker: its logs through ours, at
 * our level (its INFO chatter, bundle stats, is noise), and with `metrics` its Prometheus exporter
 * on a free loopback port, whose URL it resolves to for `/metrics` to read and append
 * (`src/metrics/server.ts`). Durations in seconds, as the app's own histograms are. Should the
 * exporter not start, the runtime is installed without it (logged): the worker runs on.
 * Without `metrics` it installs before returning, so callers may start a worker on the next line.
 */
export async function installTemporalRuntime(
  level: 'debug' | 'info' | 'warn' | 'error',
  opts: { metrics?: boolean; logger?: Logger } = {},
): Promise<string | undefined> {
  const sdkLevel: LogLevel = level === 'debug' ? 'DEBUG' : level === 'error' ? 'ERROR' : 'WARN';
  // shutdownSignals: none — the process entry points own signal handling and stop things in order.
  const install = (bindAddress?: string) =>
    Runtime.install({
      logger: new DefaultLogger(sdkLevel),
      shutdownSignals: [],
      ...(bindAddress && { telemetryOptions: { metrics: { prometheus: { bindAddress, useSecondsForDurations: true } } } }),
    });
  if (!opts.metrics) {
    install();
    return undefined;
  }
  // The port is free when asked and bound a moment later; another process may take it between.
  for (let attempt = 1; ; attempt++) {
    const address = `127.0.0.1:${await freeLoopbackPort()}`;
    try {
      install(address);
      return `http://${address}/metrics`;
    } catch (err) {
      if (attempt < 3 && /address already in use/i.test(String(err))) continue;
      opts.logger?.error("the Temporal SDK's metrics exporter did not start: /metrics serves the app's metrics only", { error: String(err) });
      install();
      return undefined;
    }
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
