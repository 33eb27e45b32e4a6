/**
 * `npm start`: the whole product on one machine — a real Temporal dev server (SQLite under
 * DATA_DIR, Web UI), the worker, the API and pages, the printer simulator, local payments and the
 * embedded database and storage. Ctrl-C (or
 * SIGTERM) stops everything it started; a restart continues on the same data.
 */
import type { Server } from 'node:http';
import type { Config } from '../config.js';
import { createLogger } from '../logger.js';
import { launchWorker, openServices, startApi, stopHttpServer, type Services } from '../services.js';
import { connectClient } from '../temporal/connection.js';
import { startEmbeddedTemporal } from '../temporal/dev-server.js';
import { assertPortsFree, PortsTakenError } from '../temporal/ports.js';
import { installTemporalRuntime } from '../worker.js';
import { loadConfigOrExit, shutdownOnSignals, startMetrics, temporalTarget } from './process.js';

async function main() {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel);
  const sdkMetricsUrl = await installTemporalRuntime(config.logLevel, { metrics: config.metricsPort !== undefined, logger });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const { onStop, stopAll } = shutdownOnSignals(logger, say);

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

    if (embedded) {
      say(`Starting the Temporal dev server (data in ${config.dataDir})…`);
      const temporal = await startEmbeddedTemporal(config, say);
      onStop(() => temporal.stop());
    }
    const target = temporalTarget(config);

    const services: Services = await openServices(config);
    onStop(() => services.close());

    const worker = await launchWorker(config, services, target);
    onStop(() => worker.stop());
    worker.done.catch((err) => {
      logger.error('worker stopped unexpectedly', { error: String(err) });
      void stopAll(1);
    });

    const client = await connectClient(target);
    onStop(() => client.connection.close());
    const server: Server = await startApi(config, services, client, logger);
    onStop(() => stopHttpServer(server));
    // One endpoint for this one process: the worker's SDK metrics and the app's together.
    const metrics = await startMetrics(config, logger, sdkMetricsUrl);
    if (metrics) onStop(() => metrics.close());

    say('');
    say('stickerflow is running');
    say(`  App:          ${config.http.publicUrl}`);
    say(`  Temporal UI:  ${config.temporal.uiUrl}`);
    say(`  Temporal:     ${target.address} (namespace ${config.temporal.namespace})`);
    say(`  Database:     ${services.db.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}/pglite` : 'PostgreSQL'}`);
    say(`  Storage:      ${config.storage.driver === 'local' ? config.storage.root : `s3://${config.storage.bucket}`}`);
    say(`  Models:       ${config.models.backend === 'fal' ? 'fal.ai (FAL_KEY), moderation and analysis on this CPU' : 'local, on this CPU'}`);
    say(`  Payments:     ${describePayments(config)}`);
    say(`  Printer:      ${describePrinter(config)}`);
    say(`  Metrics:      ${metrics?.url ?? (config.metricsPort === undefined ? 'off (METRICS_PORT=off)' : 'not served (see the error above)')}`);
    say(`  Emails:       ${config.email.smtpUrl ? `SMTP (${new URL(config.email.smtpUrl).host})` : `written to ${config.email.outboxDir} (set SMTP_URL to send them)`}`);
    say(`  Operator:     ${config.http.publicUrl}/ops`);
    // The generated token is this machine's own, printed to whoever started it; one set in OPS_TOKEN is not repeated.
    say(services.opsTokenFile ? `                token ${services.opsToken} (kept in ${services.opsTokenFile})` : '                token: the one in OPS_TOKEN');
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

function describePrinter(config: Config): string {
  const { printer, http } = config;
  if (printer.id !== 'sim') return printer.id === 'printful' ? 'Printful (v2 API)' : 'Prodigi (v4 API)';
  const step = `a step every ${printer.sim.stepSeconds} s`;
  return printer.sim.url ? `simulator at ${printer.sim.url} (${step})` : `simulator at ${http.publicUrl}/printer-sim (${step})`;
}

/** The payment provider, never its key. */
function describePayments(config: Config): string {
  const { payments, http } = config;
  if (payments.provider === 'local') return 'local checkout pages (Stripe-signed events to /webhooks/stripe)';
  const where = payments.stripe?.apiUrl ? ` at ${payments.stripe.apiUrl}` : '';
  return `Stripe Checkout${where} (webhooks to ${http.publicUrl}/webhooks/stripe)`;
}

void main();
