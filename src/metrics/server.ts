/**
 * `GET /metrics` on METRICS_PORT: one scrape target per process with everything it knows — the
 * app's registry (`./registry.ts`, plus Node's process metrics) and, in a process that runs a
 * worker, the Temporal SDK's own metrics. The SDK's exporter lives in its Rust core and can only
 * serve HTTP itself, so it listens on a loopback port of its own (`installTemporalRuntime` in
 * `src/worker.ts`) and each scrape reads it and appends its text: the operator's scraper sees one
 * port, and the SDK's metrics keep the names and buckets Temporal documents.
 *
 * Its own small server, never the public app's port: metrics are for the operator's scraper, not
 * the internet. A port already taken is logged and the process goes on without metrics — a worker
 * that keeps orders moving and refunds flowing matters more than its numbers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../logger.js';
import { registry } from './registry.js';

export interface MetricsEndpoint {
  url: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** The SDK exporter's loopback URL, in a process that runs a worker. */
  temporalSdkUrl?: string;
}

let processMetrics = false;

/** Starts the endpoint; undefined (after logging why) when it cannot listen. */
export async function serveMetrics(opts: MetricsServerOptions): Promise<MetricsEndpoint | undefined> {
  if (!processMetrics) {
    // CPU, memory, event-loop lag: started here, not on import, so code that only counts starts no timers.
    collectDefaultMetrics({ register: registry });
    processMetrics = true;
  }
  const server = createServer((req, res) => void answer(req, res, opts));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: opts.port, host: opts.host }, resolve);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    opts.logger.error(
      code === 'EADDRINUSE'
        ? `METRICS_PORT ${opts.port} is taken (another stickerflow process on this machine?): this process runs without /metrics. Give each process its own METRICS_PORT, or METRICS_PORT=off`
        : `metrics endpoint could not listen on ${opts.host}:${opts.port}: this process runs without /metrics`,
      { error: String(err) },
    );
    return undefined;
  }
  const { port } = server.address() as AddressInfo;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? 'localhost' : opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, opts: MetricsServerOptions): Promise<void> {
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at GET /metrics\n');
    return;
  }
  try {
    const body = await scrape(opts.temporalSdkUrl);
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    opts.logger.warn('metrics scrape failed', { error: String(err) });
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
  }
}

/** Both texts, one after the other: their names never clash (`temporal_` for the SDK's). */
export async function scrape(temporalSdkUrl?: string): Promise<string> {
  const [app, sdk] = await Promise.all([registry.metrics(), temporalSdkUrl ? sdkText(temporalSdkUrl) : undefined]);
  if (!temporalSdkUrl) return app;
  // Says whether this scrape holds the worker's own numbers, so their absence is never silent.
  const up = [
    '# HELP stickerflow_temporal_sdk_metrics_up 1 when the Temporal SDK worker metrics were read for this scrape',
    '# TYPE stickerflow_temporal_sdk_metrics_up gauge',
    `stickerflow_temporal_sdk_metrics_up ${sdk === undefined ? 0 : 1}`,
  ].join('\n');
  return `${app.trimEnd()}\n${up}\n${sdk === undefined ? '' : `${sdk.trimEnd()}\n`}`;
}

async function sdkText(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined; // the runtime is shutting down, or not started yet
  }
}
