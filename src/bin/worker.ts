/**
 * `npm run worker`: a worker process on its own, for production (Temporal cluster or Cloud,
 * PostgreSQL). Scale by running more of them.
 */
import { createLogger } from '../logger.js';
import { openServices, startWorker } from '../services.js';
import { connectWorker } from '../temporal/connection.js';
import { installTemporalRuntime } from '../worker.js';
import { loadConfigOrExit, requireSharedDatabase, shutdownOnSignals, temporalTarget } from './process.js';

const config = loadConfigOrExit();
requireSharedDatabase(config, 'worker');
const logger = createLogger(config.logLevel);
installTemporalRuntime(config.logLevel);
const { onStop, stopAll } = shutdownOnSignals(logger, (l) => logger.info(l));
try {
  const services = await openServices(config);
  onStop(() => services.close());
  const target = temporalTarget(config);
  const connection = await connectWorker(target);
  onStop(() => connection.close());
  const worker = await startWorker(config, services, connection);
  const done = worker.run();
  onStop(async () => {
    worker.shutdown();
    await done;
  });
  logger.info('worker running', { temporal: target.address, namespace: target.namespace, taskQueue: config.temporal.taskQueue });
  await done.catch((err) => {
    logger.error('worker stopped unexpectedly', { error: String(err) });
    return stopAll(1);
  });
} catch (err) {
  logger.error('worker failed to start', { error: err instanceof Error ? err.message : String(err) });
  await stopAll(1);
}
