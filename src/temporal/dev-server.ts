/**
 * The embedded Temporal: the Temporal CLI's dev server, persisting to a SQLite file under
 * DATA_DIR, with its Web UI. It runs under a small shell watchdog that stops it when our process
 * goes away by any means (even SIGKILL), so it is never left orphaned holding the ports.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config.js';
import type { Log } from '../toolchain/install.js';
import { resolveTemporalCli } from '../toolchain/temporal.js';
import { connectClient, temporalAnswers } from './connection.js';
import { ORDER_SEARCH_ATTRIBUTES } from '../workflows/sticker-order/api.js';

export interface EmbeddedTemporal {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  executable: string;
  dataDir: string;
  port: number;
  uiPort: number;
  namespace: string;
  /** How long to wait for the frontend to answer. */
  readyTimeoutMs?: number;
  /** false: keep everything in memory (benchmarks); default: the SQLite file under dataDir. */
  persist?: boolean;
}

/**
 * Features the workflows rely on (updates, update-with-start), and latency:
 * - eager activity execution: the server hands a just-scheduled activity straight back to the
 *   worker that scheduled it, instead of through the task queue (~100 → ~50 ms per sequential
 *   activity in the benchmark);
 * - the history service's transfer and timer queues may read up to 1000 times a second instead
 *   of 20: at 20, once its burst is spent, every new workflow task waited ~45 ms to reach
 *   matching (~50 → ~8 ms per sequential activity).
 */
const DYNAMIC_CONFIG = [
  'frontend.enableUpdateWorkflowExecution=true',
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
  'frontend.enableExecuteMultiOperation=true',
  'system.enableActivityEagerExecution=true',
  'history.transferProcessorMaxPollRPS=1000',
  'history.timerProcessorMaxPollRPS=1000',
].flatMap((kv) => ['--dynamic-config-value', kv]);

/**
 * The SQLite file in WAL mode, synced at checkpoints: a killed process loses nothing committed
 * (the WAL holds it), a power cut may lose the last moments. ~13.6 → ~8.8 ms per sequential
 * activity.
 */
const SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'].flatMap((p) => ['--sqlite-pragma', p]);

const WATCHDOG = `
parent=$1; shift
"$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; exit 0' TERM INT HUP
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
kill -TERM $child 2>/dev/null
wait $child
`;

export async function startDevServer(opts: DevServerOptions): Promise<EmbeddedTemporal> {
  await mkdir(opts.dataDir, { recursive: true });
  const logFile = path.join(opts.dataDir, 'temporal.log');
  const args = [
    'server',
    'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    ...(opts.persist === false ? [] : ['--db-filename', path.join(opts.dataDir, 'temporal.sqlite'), ...SQLITE_PRAGMAS]),
    '--namespace', opts.namespace,
    '--log-level', 'warn',
    ...DYNAMIC_CONFIG,
    // What operators filter orders by in the UI (see ensureOrderSearchAttributes).
    ...ORDER_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]),
  ];
  const out = openSync(logFile, 'a');
  // Its own process group, so a Ctrl-C reaches it only through us, in the order we choose.
  const child: ChildProcess = spawn('/bin/sh', ['-c', WATCHDOG, 'watchdog', String(process.pid), opts.executable, ...args], {
    stdio: ['ignore', out, out],
    detached: true,
  });
  closeSync(out);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const address = `127.0.0.1:${opts.port}`;
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    await Promise.race([exit, sleep(15_000).then(() => child.kill('SIGKILL'))]);
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  const client = await waitFor(async () => (exited ? 'exited' : connectClient({ address, namespace: opts.namespace, tls: false }).catch(() => undefined)), deadline);
  try {
    if (client === 'exited') throw new Error('exited');
    while (!(await temporalAnswers(client))) {
      if (exited || Date.now() > deadline) throw new Error(exited ? 'exited' : 'timed out');
      await sleep(200);
    }
  } catch (err) {
    await stop();
    const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
    throw new Error(`The Temporal dev server did not become ready (${(err as Error).message}). Its log (${logFile}) ends:\n${tail}`, {
      cause: err,
    });
  } finally {
    if (client !== 'exited') await client.connection.close();
  }
  return { address, uiUrl: `http://localhost:${opts.uiPort}`, stop };
}

async function waitFor<T>(attempt: () => Promise<T | undefined>, deadline: number): Promise<T> {
  for (;;) {
    const v = await attempt();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('The Temporal dev server did not start listening in time');
    await sleep(200);
  }
}

/** The configured, cached or freshly built CLI; the SDK's download when none can be had. */
export async function startEmbeddedTemporal(config: Config, log: Log): Promise<EmbeddedTemporal> {
  const executable = await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.toolCacheDir, log });
  if (executable.type === 'existing-path') {
    return startDevServer({
      executable: executable.path,
      dataDir: config.dataDir,
      port: config.temporal.devServerPort,
      uiPort: config.temporal.uiPort,
      namespace: config.temporal.namespace,
    });
  }
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable,
      ip: '127.0.0.1',
      port: config.temporal.devServerPort,
      ui: true,
      uiPort: config.temporal.uiPort,
      dbFilename: path.join(config.dataDir, 'temporal.sqlite'),
      namespace: config.temporal.namespace,
      extraArgs: DYNAMIC_CONFIG,
    },
  });
  return { address: `127.0.0.1:${config.temporal.devServerPort}`, uiUrl: config.temporal.uiUrl, stop: () => env.teardown() };
}
