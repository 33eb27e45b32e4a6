/** What every entry point shares: config errors as plain messages, and ordered shutdown on signals. */
import { ConfigError, loadConfig, type Config } from '../config.js';
import type { Logger } from '../logger.js';

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
