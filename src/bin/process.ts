/** What every entry point shares: config errors as plain messages, and ordered shutdown on signals. */
import { ConfigError, loadConfig, type Config } from '../config.js';
import type { Logger } from '../logger.js';
import { serveMetrics, type MetricsEndpoint } from '../metrics/server.js';

export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\nSee .env.example for every setting and its default.\n`);
    process.exit(1);
  }
}

/** Collects stop functions; on SIGINT/SIGTERM (or `stopAll`) runs them newest first, then exits. */
export function shutdownOnSignals(logger: Logger, announce: (line: string) => void) {
  const stops: (() => Promise<unknown>)[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    announce('Stopping…');
    for (const stop of stops.reverse()) await stop().catch((e) => logger.warn('stop failed', { error: String(e) }));
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  return { onStop: (fn: () => Promise<unknown>) => void stops.push(fn), stopAll };
}

/** Separate processes cannot share the embedded database: PGlite belongs to one process. */
export function requireSharedDatabase(config: Config, role: string): void {
  if (!config.databaseUrl) {
    process.stderr.write(
      `The ${role} runs as its own process and needs PostgreSQL: set DATABASE_URL.\n` +
        'The embedded database is for `npm start`, which runs everything in one process.\n',
    );
    process.exit(1);
  }
}

/** TEMPORAL_ADDRESS, or a dev server already running on this machine at TEMPORAL_PORT. */
export function temporalTarget(config: Config) {
  return { ...config.temporal, address: config.temporal.address ?? `127.0.0.1:${config.temporal.devServerPort}` };
}

/**
 * This process's `GET /metrics` on METRICS_PORT (bound to HOST, as the app is), with the SDK's
 * metrics when it runs a worker; undefined when off, or when the port is taken (logged: the
 * process runs on without it).
 */
export async function startMetrics(config: Config, logger: Logger, temporalSdkUrl?: string): Promise<MetricsEndpoint | undefined> {
  if (config.metricsPort === undefined) return undefined;
  return serveMetrics({ host: config.http.host, port: config.metricsPort, logger, temporalSdkUrl });
}
