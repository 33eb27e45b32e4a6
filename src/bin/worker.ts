/**
 * `npm run worker`: a worker process on its own, for production (Temporal cluster or Cloud,
 * PostgreSQL). Scale by running more of them.
 */
import { createLogger } from '../logger.js';
import { launchWorker, openServices } from '../services.js';
import { installTemporalRuntime } from '../worker.js';
import { loadConfigOrExit, requireSharedDatabase, shutdownOnSignals, startMetrics, temporalTarget } from './process.js';

const config = loadConfigOrExit();
requireSharedDatabase(config, 'worker');
const logger = createLogger(config.logLevel);
const sdkMetricsUrl = await installTemporalRuntime(config.logLevel, { metrics: config.metricsPort !== undefined, logger });
const { onStop, stopAll } = shutdownOnSignals(logger, (l) => logger.info(l));
try {
  const metrics = await startMetrics(config, logger, sdkMetricsUrl);
  if (metrics) onStop(() => metrics.close());
  const services = await openServices(config);
  onStop(() => services.close());
  const target = temporalTarget(config);
  const worker = await launchWorker(config, services, target);
  onStop(() => worker.stop());
  const { taskQueue, aiTaskQueue, mediaTaskQueue, workerRoles } = config.temporal;
  const queues = { workflows: taskQueue, ai: aiTaskQueue, media: mediaTaskQueue };
  logger.info('worker running', {
    temporal: target.address,
    namespace: target.namespace,
    queues: Object.fromEntries(workerRoles.map((role) => [role, queues[role]])),
    metrics: metrics?.url ?? 'off',
  });
  await worker.done.catch((err) => {
    logger.error('worker stopped unexpectedly', { error: String(err) });
    return stopAll(1);
  });
} catch (err) {
  logger.error('worker failed to start', { error: err instanceof Error ? err.message : String(err) });
  await stopAll(1);
}
