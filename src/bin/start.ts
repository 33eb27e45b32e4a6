/**
 * `npm start`: the whole product on one machine — a real Temporal dev server (SQLite under
 * DATA_DIR, Web UI), the worker, the API and the embedded database and storage. Ctrl-C (or
 * SIGTERM) stops everything it started; a restart continues on the same data.
 */
import type { Server } from 'node:http';
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { openServices, startApi, startWorker, type Services } from '../services.js';
import { connectClient, connectWorker } from '../temporal/connection.js';
import { startEmbeddedTemporal, type EmbeddedTemporal } from '../temporal/dev-server.js';
import { assertPortsFree, PortsTakenError } from '../temporal/ports.js';
import { installTemporalRuntime } from '../worker.js';

function loadConfigOrExit() {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\nSee .env.example for every setting and its default.\n`);
    process.exit(1);
  }
}

async function main() {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel);
  installTemporalRuntime(config.logLevel);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const stops: (() => Promise<unknown>)[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\nStopping stickerflow…');
    for (const stop of stops.reverse()) await stop().catch((e) => logger.warn('stop failed', { error: String(e) }));
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    const embedded = !config.temporal.address;
    await assertPortsFree([
      { port: config.http.port, envName: 'PORT', what: 'stickerflow API and pages' },
      ...(embedded
        ? [
            { port: config.temporal.devServerPort, envName: 'TEMPORAL_PORT', what: 'Temporal dev server' },
            { port: config.temporal.uiPort, envName: 'TEMPORAL_UI_PORT', what: 'Temporal Web UI' },
          ]
        : []),
    ]);

    let temporal: EmbeddedTemporal | undefined;
    if (embedded) {
      say(`Starting the Temporal dev server (data in ${config.dataDir})…`);
      temporal = await startEmbeddedTemporal(config, say);
      stops.push(() => temporal!.stop());
    }
    const target = { ...config.temporal, address: config.temporal.address ?? temporal!.address };

    const services: Services = await openServices(config);
    stops.push(() => services.close());

    const worker = await startWorker(config, services, await connectWorker(target));
    const workerDone = worker.run();
    stops.push(async () => {
      worker.shutdown();
      await workerDone;
    });
    workerDone.catch((err) => {
      logger.error('worker stopped unexpectedly', { error: String(err) });
      void stopAll(1);
    });

    const client = await connectClient(target);
    stops.push(() => client.connection.close());
    const server: Server = await startApi(config, services, client, logger);
    stops.push(() => new Promise((resolve) => server.close(resolve)));
    server.closeIdleConnections?.();

    say('');
    say('stickerflow is running');
    say(`  App:          ${config.http.publicUrl}`);
    say(`  Temporal UI:  ${config.temporal.uiUrl}`);
    say(`  Temporal:     ${target.address} (namespace ${config.temporal.namespace})`);
    say(`  Database:     ${services.db.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}/pglite` : 'PostgreSQL'}`);
    say(`  Storage:      ${config.storage.driver === 'local' ? config.storage.root : `s3://${config.storage.bucket}`}`);
    say('Press Ctrl-C to stop.');
  } catch (err) {
    if (err instanceof PortsTakenError) {
      process.stderr.write(`${err.message}\n`);
    } else {
      logger.error('start failed', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
    await stopAll(1);
  }
}

void main();
