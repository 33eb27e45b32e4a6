/** Temporal test environments on the real servers: the Java time-skipping server and the CLI dev server. */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Runtime, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { startDevServer, type EmbeddedTemporal } from '../../src/temporal/dev-server.js';
import { ORDER_SEARCH_ATTRIBUTES } from '../../src/workflows/sticker-order/api.js';

// Activity failures are expected in these tests; the SDK's warnings about them are noise.
Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });

export const fixtureWorkflowsPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/workflows.ts');

export function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable: inject('temporalTestServer') } });
}

export function devServerEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({ server: { executable: inject('temporalCli'), ip: '127.0.0.1', searchAttributes: ORDER_SEARCH_ATTRIBUTES } });
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();
/** Bundling takes a second or two: once per file and workflows path. */
export function bundle(workflowsPath: string = fixtureWorkflowsPath): Promise<WorkflowBundleWithSourceMap> {
  if (!bundles.has(workflowsPath)) {
    bundles.set(workflowsPath, bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') }));
  }
  return bundles.get(workflowsPath)!;
}

/** The Temporal CLI binary resolved by the global setup (built or cached on this machine). */
export function temporalCliPath(): string {
  const exe = inject('temporalCli');
  if (exe.type !== 'existing-path') {
    throw new Error('These tests run the Temporal CLI binary itself; build it with Go (see README) or set TEMPORAL_CLI_PATH');
  }
  return exe.path;
}

/** The real Temporal CLI dev server on free ports over a temporary data folder. */
export async function startTestDevServer(): Promise<EmbeddedTemporal> {
  const { mkdtemp } = await import('node:fs/promises');
  const os = await import('node:os');
  const { freePort } = await import('./processes.js');
  return startDevServer({
    executable: temporalCliPath(),
    dataDir: await mkdtemp(path.join(os.tmpdir(), 'stickerflow-temporal-')),
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
  });
}
