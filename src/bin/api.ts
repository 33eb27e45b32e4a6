/** `npm run api`: the HTTP API and pages on their own, for production. Scale behind a load balancer. */
import { createLogger } from '../logger.js';
import { openServices, startApi, stopHttpServer } from '../services.js';
import { connectClient } from '../temporal/connection.js';
import { loadConfigOrExit, requireSharedDatabase, shutdownOnSignals, startMetrics, temporalTarget } from './process.js';

const config = loadConfigOrExit();
requireSharedDatabase(config, 'api');
const logger = createLogger(config.logLevel);
const { onStop, stopAll } = shutdownOnSignals(logger, (l) => logger.info(l));
try {
  const metrics = await startMetrics(config, logger);
  if (metrics) onStop(() => metrics.close());
  const services = await openServices(config);
  onStop(() => services.close());
  const client = await connectClient(temporalTarget(config));
  onStop(() => client.connection.close());
  const server = await startApi(config, services, client, logger);
  onStop(() => stopHttpServer(server));
  logger.info('api listening', { url: config.http.publicUrl, metrics: metrics?.url ?? 'off' });
} catch (err) {
  logger.error('api failed to start', { error: err instanceof Error ? err.message : String(err) });
  await stopAll(1);
}
