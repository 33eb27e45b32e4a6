/**
 * `GET /metrics` in one process wired as `npm start` wires it — the real worker on the real
 * Temporal CLI dev server, the real API on PGlite, the endpoint from the entry points' own helper —
 * but in this test's process, so the counters can be read before and after each step. The endpoint
 * answers Prometheus text holding the app's metrics and the SDK's worker metrics; it moves by
 * exactly one when an order moves (paid through the Stripe webhook, a printer event, a refund),
 * and a forged or misaddressed delivery moves the refused counter instead. Labels carry route
 * patterns and configured names only, never an id from the request.
 *
 * The SDK's runtime can be installed once per process and must carry the exporter, so this file
 * installs it itself and does not import test/support/temporal.ts (which installs a plain one).
 */
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { Server } from 'node:http';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from '@temporalio/client';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAnimationActivities } from '../../src/activities/animation.js';
import { createLedgerActivities } from '../../src/activities/ledger.js';
import { createOrderActivities } from '../../src/activities/orders.js';
import { startMetrics, temporalTarget } from '../../src/bin/process.js';
import { loadConfig, type Config } from '../../src/config.js';
import { openPGlite } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { OutboxTransport } from '../../src/email/outbox.js';
import { EmailInFlight, type EmailMessage } from '../../src/email/port.js';
import { IdempotentEmailSender, messageIdFor } from '../../src/email/sender.js';
import { SentEmails } from '../../src/email/sent-emails.js';
import { createLogger } from '../../src/logger.js';
import { frameKey } from '../../src/media/frames.js';
import type { MetricsEndpoint } from '../../src/metrics/server.js';
import type { ModelBackend } from '../../src/models/port.js';
import { signSimWebhook, type SimWebhookBody } from '../../src/print-adapters/sim/protocol.js';
import { launchWorker, openServices, startApi, stopHttpServer, type RunningWorker, type Services } from '../../src/services.js';
import { connectClient } from '../../src/temporal/connection.js';
import { startDevServer, type EmbeddedTemporal } from '../../src/temporal/dev-server.js';
import { installTemporalRuntime } from '../../src/worker.js';
import { CREDIT_PURCHASE_WORKFLOW_TYPE, creditPurchaseWorkflowId } from '../../src/workflows/credit-purchase/api.js';
import { orderWorkflowId, STICKER_ORDER_WORKFLOW_TYPE } from '../../src/workflows/sticker-order/api.js';
import { eventually, freePort } from '../support/processes.js';

let temporal: EmbeddedTemporal;
let config: Config;
let services: Services;
let worker: RunningWorker;
let client: Client;
let api: Server;
let metrics: MetricsEndpoint;
let base: string;

beforeAll(async () => {
  const logger = createLogger('error');
  const sdkMetricsUrl = await installTemporalRuntime('error', { metrics: true, logger });
  const cli = inject('temporalCli');
  if (cli.type !== 'existing-path') throw new Error('these tests run the Temporal CLI binary: build it with Go (see README) or set TEMPORAL_CLI_PATH');
  const work = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-metrics-'));
  temporal = await startDevServer({ executable: cli.path, dataDir: path.join(work, 'temporal'), port: await freePort(), uiPort: await freePort(), namespace: 'default' });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  config = loadConfig({
    HOME: os.homedir(),
    PORT: String(port),
    PUBLIC_URL: base,
    METRICS_PORT: String(await freePort()),
    DATA_DIR: path.join(work, 'data'),
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: 'metrics-test',
    UPLOADS_PER_MINUTE: '1',
    LOG_LEVEL: 'error',
  });
  services = await openServices(config);
  worker = await launchWorker(config, services, temporalTarget(config));
  client = await connectClient(temporalTarget(config));
  api = await startApi(config, services, client, logger);
  const endpoint = await startMetrics(config, logger, sdkMetricsUrl);
  if (!endpoint) throw new Error('the metrics endpoint did not start');
  metrics = endpoint;
});

afterAll(async () => {
  await metrics?.close();
  if (api) await stopHttpServer(api, 100);
  await client?.connection.close();
  await worker?.stop();
  await services?.close();
  await temporal?.stop();
});

type Labels = Record<string, string>;
interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

/** Parses the text format strictly enough that a malformed line fails the test. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    // Values as Go's ParseFloat reads them (prom-client writes NaN as "Nan").
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|nan|[+-]inf)(?: -?\d+)?$/i.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(metrics.url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parse(text) };
}

/** The value of the one series `name` with exactly `labels`; 0 when it has not been counted yet. */
function value(samples: Sample[], name: string, labels: Labels = {}): number {
  const want = JSON.stringify(Object.entries(labels).sort());
  const found = samples.filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want);
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.value ?? 0;
}

/** How much each of `series` moves while `act` runs. */
async function delta(series: [string, Labels][], act: () => Promise<void>): Promise<number[]> {
  const before = (await scrape()).samples;
  await act();
  const after = (await scrape()).samples;
  return series.map(([name, labels]) => value(after, name, labels) - value(before, name, labels));
}

/** An order of the simulated printer, paid through the local checkout, with its workflow started on a queue no worker serves. */
async function newOrder() {
  const customerId = await services.customers.create();
  const animation = await services.animations.create(customerId);
  const { record } = await services.orders.create({
    animationId: animation.record.id,
    email: 'buyer@example.com',
    printerId: 'sim',
    paymentProvider: 'local',
    amountCents: 1499,
    currency: 'usd',
  });
  const session = await services.localPayments!.createCheckout({
    orderId: record.id,
    amountCents: 1499,
    currency: 'usd',
    description: '10 × 3-inch die-cut stickers',
    email: 'buyer@example.com',
    successUrl: `${base}/orders/${record.id}/paid?session_id={CHECKOUT_SESSION_ID}`,
    cancelUrl: `${base}/orders/${record.id}`,
  });
  await services.orders.setCheckoutSession(record.id, session.sessionId);
  await client.workflow.start(STICKER_ORDER_WORKFLOW_TYPE, { workflowId: orderWorkflowId(record.id), taskQueue: 'metrics-no-worker', args: [{ orderId: record.id }] });
  return { orderId: record.id, sessionId: session.sessionId };
}

/** Activities run as the worker runs them; their failures are expected here, so the SDK's log of them is not wanted. */
const activityEnv = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR', () => undefined) });

async function signalNames(orderId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
  return (history.events ?? []).flatMap((e) => (e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes.signalName!] : []));
}

function printerEvent(orderId: string): string {
  const now = new Date().toISOString();
  const body: SimWebhookBody = {
    id: `evt_metrics_${Math.random().toString(36).slice(2)}`,
    type: 'order.accepted',
    created_at: now,
    order: { id: 'sim_metrics', external_id: orderId, status: 'accepted', pdf_bytes: 1000, tracking: null, failure_reason: null, created_at: now, updated_at: now },
  };
  return JSON.stringify(body);
}

const postPrinter = (printerId: string, raw: string, signature: string) =>
  fetch(`${base}/webhooks/printers/${printerId}`, { method: 'POST', headers: { 'content-type': 'application/json', 'sim-signature': signature }, body: raw });

describe('GET /metrics', () => {
  it("answers Prometheus text with the app's metrics, Node's, and the Temporal worker's own", async () => {
    const { text, samples } = await scrape();
    expect(text).toContain('# TYPE stickerflow_webhooks_total counter');
    expect(text).toContain('# TYPE stickerflow_http_request_duration_seconds histogram');
    expect(value(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(samples, 'stickerflow_temporal_sdk_metrics_up')).toBe(1);
    expect(value(samples, 'stickerflow_provider_slots_limit', { provider: 'local' })).toBe(4);

    // The worker's pollers show in the SDK's metrics once they have asked the server for work.
    let sdk: Sample[] = [];
    expect(
      await eventually(async () => {
        sdk = (await scrape()).samples.filter((s) => s.name.startsWith('temporal_'));
        return sdk.some((s) => s.name === 'temporal_num_pollers' && s.labels.task_queue === 'metrics-test' && s.value > 0);
      }, 30_000),
    ).toBe(true);
    // A real workflow on the real worker: a credit purchase whose checkout has already expired
    // closes it (one activity) and ends. Its activity shows by type, as every animation step does.
    const session = await services.localPayments!.createCheckout({
      orderId: 'cp_metrics',
      amountCents: 500,
      currency: 'usd',
      description: '5 credits',
      successUrl: `${base}/`,
      cancelUrl: `${base}/`,
    });
    const purchase = await client.workflow.execute(CREDIT_PURCHASE_WORKFLOW_TYPE, {
      taskQueue: 'metrics-test',
      workflowId: creditPurchaseWorkflowId('cp_metrics'),
      args: [
        {
          purchaseId: 'cp_metrics',
          customerId: await services.customers.create(),
          pack: 'pack5',
          credits: 5,
          amountCents: 500,
          currency: 'usd',
          payment: { provider: 'local', sessionId: session.sessionId },
          checkoutExpiresAt: new Date(Date.now() - 1000).toISOString(),
        },
      ],
    });
    expect(purchase).toMatchObject({ status: 'expired' });
    const closed = { activity_type: 'closeCreditCheckout', task_queue: 'metrics-test' };
    expect(
      await eventually(async () => {
        sdk = (await scrape()).samples.filter((s) => s.name.startsWith('temporal_'));
        return sdk.some((s) => s.name === 'temporal_activity_execution_latency_count' && s.labels.activity_type === closed.activity_type && s.value >= 1);
      }, 30_000),
    ).toBe(true);
    expect(sdk.some((s) => s.name === 'temporal_workflow_completed' && s.labels.workflow_type === 'CreditPurchaseWorkflow' && s.value >= 1)).toBe(true);
    // Durations in seconds, as the app's own: the SDK's histograms have sub-second buckets.
    expect(sdk.some((s) => s.name === 'temporal_workflow_task_schedule_to_start_latency_bucket' && s.labels.task_queue === 'metrics-test' && s.labels.le === '0.1')).toBe(true);
    expect(sdk.some((s) => s.name === 'temporal_activity_schedule_to_start_latency_bucket' && s.labels.le === '0.1')).toBe(true);

    expect((await fetch(metrics.url.replace('/metrics', '/'))).status).toBe(404);
  });

  it('reports orders by the status their records hold', async () => {
    const order = await newOrder();
    const shipped = async () => value((await scrape()).samples, 'stickerflow_orders', { status: 'shipped' });
    const before = await shipped();
    await services.orders.saveView(order.orderId, 1, {
      orderId: order.orderId,
      animationId: (await services.orders.get(order.orderId))!.animationId,
      status: 'shipped',
      timeline: [{ at: new Date().toISOString(), status: 'shipped' }],
      product: { shape: 'circle', sizeInches: 3, quantity: 1 },
      shipping: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
      printerId: 'sim',
    });
    expect(await shipped()).toBe(before + 1);
  });

  it('moves by one when a Stripe payment reaches its order, and the refund moves the refunds counter', async () => {
    const order = await newOrder();
    const completion = await services.localPayments!.completeCheckout(order.sessionId);
    if (completion?.status !== 'complete') throw new Error(`checkout not completed: ${JSON.stringify(completion)}`);
    const accepted: [string, Labels] = ['stickerflow_webhooks_total', { source: 'stripe', outcome: 'accepted' }];
    const route: [string, Labels] = ['stickerflow_http_requests_total', { method: 'POST', route: '/webhooks/stripe', status: '200' }];
    // The local provider delivers the Stripe-signed event to this app's own webhook route.
    expect(await delta([accepted, route], () => services.localPayments!.deliverEvent(completion.event))).toEqual([1, 1]);
    expect(await signalNames(order.orderId)).toEqual(['paymentReceived']);

    const { refundPayment } = createOrderActivities({ blobs: services.blobs, printers: services.printers, payments: services.paymentProviders, printFileUrls: services.printFileUrls });
    const refunded: [string, Labels] = ['stickerflow_refunds_total', { kind: 'payment', outcome: 'refunded' }];
    const failed: [string, Labels] = ['stickerflow_refunds_total', { kind: 'payment', outcome: 'failed' }];
    const paymentIntentId = completion.event.data.object.payment_intent;
    const refund = (id: string) =>
      activityEnv().run(refundPayment, { provider: 'local', paymentIntentId: id, amountCents: 1499, idempotencyKey: `refund:order:${order.orderId}:${id}`, reason: 'metrics test' });
    expect(await delta([refunded, failed], async () => void (await refund(paymentIntentId)))).toEqual([1, 0]);
    // A payment the provider never took is refused: a failed attempt, and no refund counted.
    expect(await delta([refunded, failed], () => expect(refund('pi_local_never_paid')).rejects.toThrow(/no paid payment/))).toEqual([0, 1]);
  });

  it('a forged Stripe event moves the refused counter, by its error code', async () => {
    const refused: [string, Labels] = ['stickerflow_webhooks_total', { source: 'stripe', outcome: 'refused', reason: 'invalid_signature' }];
    const accepted: [string, Labels] = ['stickerflow_webhooks_total', { source: 'stripe', outcome: 'accepted' }];
    const moved = await delta([refused, accepted], async () => {
      const res = await fetch(`${base}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': 't=1,v1=00' }, body: '{"id":"evt_forged"}' });
      expect(res.status).toBe(400);
    });
    expect(moved).toEqual([1, 0]);
  });

  it('moves by one when a signed printer event reaches its order; a forged one and an unknown printer move the refused counter', async () => {
    const order = await newOrder();
    const accepted: [string, Labels] = ['stickerflow_webhooks_total', { source: 'printer:sim', outcome: 'accepted' }];
    const forged: [string, Labels] = ['stickerflow_webhooks_total', { source: 'printer:sim', outcome: 'refused', reason: 'invalid_signature' }];
    const unknown: [string, Labels] = ['stickerflow_webhooks_total', { source: 'printer:unknown', outcome: 'refused', reason: 'unknown_printer' }];
    const route: [string, Labels] = ['stickerflow_http_requests_total', { method: 'POST', route: '/webhooks/printers/:printerId', status: '200' }];

    const good = printerEvent(order.orderId);
    const signature = signSimWebhook(services.printerSimSecret, good, Math.floor(Date.now() / 1000));
    expect(
      await delta([accepted, forged, route], async () => {
        const res = await postPrinter('sim', good, signature);
        expect(await res.json()).toEqual({ received: 1, signalled: 1 });
      }),
    ).toEqual([1, 0, 1]);
    expect(await signalNames(order.orderId)).toEqual(['printerEvent']);

    const bad = printerEvent(order.orderId);
    const forgedSignature = signSimWebhook('not-the-secret-0123456789abcdef0123456789', bad, Math.floor(Date.now() / 1000));
    expect(await delta([accepted, forged], async () => expect((await postPrinter('sim', bad, forgedSignature)).status).toBe(401))).toEqual([0, 1]);
    expect(await signalNames(order.orderId)).toEqual(['printerEvent']);

    // A printer id nobody configured is one series for all of them, and never a label value.
    expect(await delta([unknown], async () => expect((await postPrinter('acme-made-up-printer', good, signature)).status).toBe(404))).toEqual([1]);
    expect((await scrape()).text).not.toContain('acme-made-up-printer');
  });

  it('labels requests by route pattern, never by the ids in their paths', async () => {
    const byId: [string, Labels] = ['stickerflow_http_requests_total', { method: 'GET', route: '/api/orders/:id', status: '404' }];
    const unmatched: [string, Labels] = ['stickerflow_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }];
    const moved = await delta([byId, unmatched], async () => {
      expect((await fetch(`${base}/api/orders/or_metricsprobe123`)).status).toBe(404);
      expect((await fetch(`${base}/no/such/page-metricsprobe456`)).status).toBe(404);
    });
    expect(moved).toEqual([1, 1]);
    const { text } = await scrape();
    expect(text).not.toContain('metricsprobe');
    expect(text).toMatch(/stickerflow_http_request_duration_seconds_count\{method="GET",route="\/api\/orders\/:id"\} \d+/);
  });

  it('counts refusals by limit, credit refunds by outcome, and provider slots from the table', async () => {
    // UPLOADS_PER_MINUTE=1: the second upload from this address is refused before its body is read.
    const limited: [string, Labels] = ['stickerflow_rate_limited_total', { limit: 'photo uploads' }];
    const upload = () => fetch(`${base}/api/animations`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--\r\n' });
    expect(await delta([limited], async () => void (await upload()))).toEqual([0]);
    expect(await delta([limited], async () => expect((await upload()).status).toBe(429))).toEqual([1]);

    const { refundCredits } = createLedgerActivities({ ledger: services.ledger });
    const customerId = await services.customers.create();
    await services.ledger.charge({ accountId: customerId, amount: 1, idempotencyKey: `charge:${customerId}`, reason: 'metrics test' });
    const refunded: [string, Labels] = ['stickerflow_refunds_total', { kind: 'credits', outcome: 'refunded' }];
    const nothing: [string, Labels] = ['stickerflow_refunds_total', { kind: 'credits', outcome: 'nothing_charged' }];
    const run = (chargeKey: string) => activityEnv().run(refundCredits, { chargeKey, idempotencyKey: `refund:${chargeKey}`, reason: 'metrics test' });
    expect(await delta([refunded, nothing], async () => void (await run(`charge:${customerId}`)))).toEqual([1, 0]);
    expect(await delta([refunded, nothing], async () => void (await run('charge:never-made')))).toEqual([0, 1]);

    const slots: [string, Labels] = ['stickerflow_provider_slots_in_use', { provider: 'local' }];
    expect(await delta([slots], async () => void (await services.providerSlots.acquire('local', 'an_metrics', 4, 60_000)))).toEqual([1]);
    expect(await delta([slots], () => services.providerSlots.release('local', 'an_metrics'))).toEqual([-1]);
  });

  it('counts emails by kind, transport and outcome, one per send; a second send of a key is already_sent, and no address or key is a label', async () => {
    const db = await openPGlite();
    await migrate(db);
    const work = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-metrics-email-'));
    const sender = (opts: { outbox?: string; claimLeaseMs?: number } = {}) =>
      new IdempotentEmailSender(new OutboxTransport(opts.outbox ?? path.join(work, 'outbox')), new SentEmails(db, opts.claimLeaseMs), {
        from: 'stickerflow <orders@shop.test>',
        logger: createLogger('error'),
      });
    const message = (orderId: string, to = 'metrics-buyer@example.com'): EmailMessage => ({
      to,
      subject: 'Your stickers are on their way',
      text: 'shipped',
      html: '<p>shipped</p>',
      idempotencyKey: `email:order:${orderId}:shipped`,
      kind: 'order_shipped',
      reference: orderId,
    });
    const outcomes = ['sent', 'already_sent', 'duplicate', 'refused', 'in_flight', 'failed'];
    const series = outcomes.map((outcome): [string, Labels] => ['stickerflow_emails_total', { kind: 'order_shipped', transport: 'outbox', outcome }]);
    const only = (outcome: string) => outcomes.map((o) => (o === outcome ? 1 : 0));
    try {
      expect(await delta(series, async () => void (await sender().send(message('or_metricsmail1'))))).toEqual(only('sent'));
      expect(await delta(series, async () => expect(await sender().send(message('or_metricsmail1'))).toMatchObject({ alreadySent: true }))).toEqual(only('already_sent'));

      // A worker that claimed the key and died before recording how it went: the next send may be a second copy.
      const lost = message('or_metricsmail2');
      const { idempotencyKey, kind, reference, to: recipient, subject } = lost;
      await new SentEmails(db).claim({ idempotencyKey, kind, reference, recipient, subject, messageId: messageIdFor(idempotencyKey, 'shop.test'), transport: 'outbox' });
      expect(await delta(series, async () => expect(await sender({ claimLeaseMs: 0 }).send(lost)).toMatchObject({ duplicate: true }))).toEqual(only('duplicate'));

      expect(await delta(series, () => expect(sender().send(message('or_metricsmail3', 'not-an-address'))).rejects.toThrow(/not an email address/))).toEqual(only('refused'));
      // Another attempt claimed it moments ago and may be sending it now: this one waits.
      const held = message('or_metricsmail5');
      await new SentEmails(db).claim({ ...held, recipient: held.to, messageId: messageIdFor(held.idempotencyKey, 'shop.test'), transport: 'outbox' });
      expect(await delta(series, () => expect(sender().send(held)).rejects.toThrow(EmailInFlight))).toEqual(only('in_flight'));
      // An outbox that cannot be written (its folder would be inside a file): not sent, retried.
      await writeFile(path.join(work, 'a-file'), '');
      const unwritable = sender({ outbox: path.join(work, 'a-file', 'outbox') });
      expect(await delta(series, () => expect(unwritable.send(message('or_metricsmail4'))).rejects.toThrow(/could not write to the outbox/))).toEqual(only('failed'));

      const { text } = await scrape();
      expect(text).not.toContain('metrics-buyer');
      expect(text).not.toContain('metricsmail');
    } finally {
      await db.close();
    }
  });

  it('times each animation step by its name, its back end (media for the steps that run here) and how it ended', async () => {
    const models = { name: 'scripted', moderate: async () => ({ safe: true, scores: {} }) } as Partial<ModelBackend> as ModelBackend;
    const { renderPoster, moderatePhoto } = createAnimationActivities({ blobs: services.blobs, models, ffmpegPath: config.media.ffmpegPath });
    const step = (name: string, backend: string, outcome: string): [string, Labels] => ['stickerflow_animation_step_duration_seconds_count', { step: name, backend, outcome }];
    const poster = ['ok', 'error', 'cancelled'].map((outcome) => step('renderPoster', 'media', outcome));

    const frames = { prefix: 'animations/an_metrics/frames', count: 1, fps: 24, width: 64, height: 64 };
    const frame = await sharp({ create: { width: 64, height: 64, channels: 4, background: '#3a6' } }).png().toBuffer();
    await services.blobs.put(frameKey(frames.prefix, 0), Readable.from([frame]), { contentType: 'image/png' });
    const render = (env: MockActivityEnvironment, prefix = frames.prefix) => env.run(renderPoster, { animationId: 'an_metrics', frames: { ...frames, prefix } });
    expect(await delta(poster, async () => expect(await render(activityEnv())).toMatchObject({ key: 'animations/an_metrics/poster.png' }))).toEqual([1, 0, 0]);
    expect(await delta(poster, () => expect(render(activityEnv(), 'animations/an_metrics/no-frames')).rejects.toThrow())).toEqual([0, 1, 0]);
    // Cancelled with its workflow: the step stops before writing its poster.
    const cancelled = activityEnv();
    cancelled.cancel();
    expect(await delta(poster, () => expect(render(cancelled)).rejects.toBeInstanceOf(CancelledFailure))).toEqual([0, 0, 1]);

    await services.blobs.put('animations/an_metrics/photo.png', Readable.from([frame]), { contentType: 'image/png' });
    const moderated = step('moderatePhoto', 'scripted', 'ok');
    expect(await delta([moderated], async () => void (await activityEnv().run(moderatePhoto, { photoKey: 'animations/an_metrics/photo.png' })))).toEqual([1]);
    // Buckets from a tenth of a second to minutes.
    const buckets = (await scrape()).samples.filter((s) => s.name === 'stickerflow_animation_step_duration_seconds_bucket' && s.labels.step === 'moderatePhoto');
    expect(buckets.map((s) => s.labels.le)).toEqual(['0.1', '0.25', '0.5', '1', '2.5', '5', '10', '20', '30', '60', '120', '180', '300', '+Inf']);
    expect(buckets.map((s) => s.labels.backend)).toEqual(Array(14).fill('scripted'));
  });

  it('is off with METRICS_PORT=off (or 0); a port already taken is logged and the process goes on without it', async () => {
    expect(loadConfig({ METRICS_PORT: 'off' }).metricsPort).toBeUndefined();
    expect(loadConfig({ METRICS_PORT: '0' }).metricsPort).toBeUndefined();
    expect(loadConfig({}).metricsPort).toBe(9464);
    expect(() => loadConfig({ METRICS_PORT: 'metrics' })).toThrow(/METRICS_PORT: must be a port \(1–65535\) or off/);
    expect(await startMetrics({ ...config, metricsPort: undefined }, createLogger('error'))).toBeUndefined();

    const logged: string[] = [];
    const again = await startMetrics(config, createLogger('error', (line) => logged.push(line)));
    expect(again).toBeUndefined();
    expect(logged.join('')).toContain(`METRICS_PORT ${config.metricsPort} is taken`);
    expect((await fetch(metrics.url)).status).toBe(200); // the first one still answers
  });
});
