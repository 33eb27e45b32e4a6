/**
 * Sticker orders at volume, on the real embedded stack (dev server with its SQLite file, PGlite,
 * local blobs, the printer simulator on the API):
 *
 * - 500 paid orders → submitted: 500 order workflows wait for payment; their payment signals are
 *   sent at once, and the clock stops when the simulator holds all 500 orders. Each one renders
 *   its print file (pdfkit, sharp), preflights it (pdftoppm twice, a QR decode each), and is
 *   submitted over HTTP; the simulator downloads every PDF. One worker process does it all.
 * - 10,000 orders parked awaiting shipment: a worker in a process of its own (the production
 *   worker's code, its print and printer activities answered at once — this part measures parking,
 *   not rendering) brings 10,000 paid orders to `submitted`; its RSS is read from /proc while it
 *   does and once they rest. Then signed simulator webhooks go to the API's webhook route, one at
 *   a time, for randomly chosen parked orders, and each is timed until `GET /api/orders/:id` shows
 *   the new status.
 */
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { fork } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import sharp from 'sharp';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { signSimWebhook } from '../src/print-adapters/sim/protocol.js';
import { launchWorker, openServices, startApi, stopHttpServer } from '../src/services.js';
import { connectClient } from '../src/temporal/connection.js';
import { startDevServer } from '../src/temporal/dev-server.js';
import { resolveTemporalCli } from '../src/toolchain/temporal.js';
import { workflowsPath } from '../src/worker.js';
import { orderWorkflowId, paymentReceivedSignal, STICKER_ORDER_WORKFLOW_TYPE, type OrderInput } from '../src/workflows/sticker-order/api.js';
import { freePort } from '../test/support/processes.js';

type Row = { name: string; value: string; target: string; met: boolean | undefined; note: string };
const here = path.dirname(fileURLToPath(import.meta.url));
const log = (l: string) => process.stderr.write(`${l}\n`);
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/**
 * The V8 heap cap `npm run worker` runs with (package.json): without it, V8 — far from its default
 * limit of a quarter of RAM — keeps the workflow thread's garbage, and a worker parking 10,000
 * orders grew to ~400 MB.
 */
const WORKER_HEAP_FLAG = /--max-old-space-size=\d+/.exec(
  (JSON.parse(await readFile(path.join(here, '../package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.worker!,
)![0];
const rssOf = async (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''))?.[1] ?? 0) * 1024;

export async function benchOrders(opts: { quick: boolean; paid?: boolean; parked?: boolean }): Promise<Row[]> {
  const rows: Row[] = [];
  const paidCount = opts.quick ? 100 : 500;
  const parkedCount = opts.quick ? 2_000 : 10_000;
  const probes = opts.quick ? 50 : 200;

  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-orders-'));
  const port = await freePort();
  const config = loadConfig({
    ...process.env,
    DATA_DIR: path.join(work, 'data'),
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'error',
    // No webhooks while the orders are being submitted: one step an hour.
    PRINTER_SIM_STEP_SECONDS: '3600',
  });
  const exe = await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.toolCacheDir, log });
  if (exe.type !== 'existing-path') throw new Error('the benchmark needs the Temporal CLI binary');
  const devServer = await startDevServer({
    executable: exe.path,
    dataDir: path.join(work, 'temporal'),
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
    persist: true,
  });
  const target = { address: devServer.address, namespace: 'default', tls: false };
  const services = await openServices(config);
  const client = await connectClient(target);
  const logger = createLogger('error');
  const api = await startApi(config, services, client, logger);
  const worker = await launchWorker(config, services, target);
  let workerStopped = false;
  const stopWorker = async () => {
    if (!workerStopped) await worker.stop();
    workerStopped = true;
  };

  try {
    // One finished buddy to order: the astronaut photo cut out as an oval, 1024² RGBA.
    const oval = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="1024" height="1024"><ellipse cx="512" cy="560" rx="400" ry="460"/></svg>');
    const art = await sharp(path.join(here, '../test/fixtures/photos/astronaut.png'))
      .resize(1024, 1024)
      .joinChannel(await sharp(oval).extractChannel(3).toBuffer())
      .png()
      .toBuffer();
    const customerId = await services.customers.create();
    const { record: animation } = await services.animations.create(customerId);
    const artKey = `animations/${animation.id}/cutout.png`;
    await services.blobs.put(artKey, Readable.from([art]), { contentType: 'image/png' });

    const newOrder = async (taskQueue: string) => {
      const { record, accessToken } = await services.orders.create({
        animationId: animation.id,
        email: 'bench@example.com',
        printerId: 'sim',
        paymentProvider: 'local',
        amountCents: 4099,
        currency: 'usd',
      });
      const input: OrderInput = {
        orderId: record.id,
        animationId: animation.id,
        product: { shape: 'die-cut', sizeInches: 3, quantity: 10 },
        shipping: { name: 'Bench Mark', line1: '1 Loop Road', city: 'Cupertino', postalCode: '95014', country: 'US' },
        email: 'bench@example.com',
        printerId: 'sim',
        viewerUrl: `${config.http.publicUrl}/a/${animation.viewerToken}`,
        payment: { provider: 'local', sessionId: `cs_bench_${record.id}`, amountCents: 4099, currency: 'usd' },
        artKey,
      };
      return { input, accessToken, taskQueue };
    };
    const payment = (orderId: string) => ({
      eventId: `evt_${orderId}`,
      orderId,
      sessionId: `cs_bench_${orderId}`,
      paymentIntentId: `pi_bench_${orderId}`,
      amountCents: 4099,
      currency: 'usd',
      paidAt: new Date().toISOString(),
    });
    const simOrders = async () => Number((await services.db.query<{ n: string }>('SELECT count(*) AS n FROM printer_sim_orders'))[0]!.n);

    // ---- 500 paid orders → submitted, with real print files and the simulator ----
    if (opts.paid !== false) {
      log(`${paidCount} paid orders → submitted (real print files, preflight, simulator)…`);
      const paid = await Promise.all(Array.from({ length: paidCount }, () => newOrder(config.temporal.taskQueue)));
      await pool(paid, 50, async ({ input, taskQueue }) => {
        await client.workflow.start(STICKER_ORDER_WORKFLOW_TYPE, { taskQueue, workflowId: orderWorkflowId(input.orderId), args: [input] });
      });
      const started = performance.now();
      await pool(paid, 50, async ({ input }) => {
        await client.workflow.getHandle(orderWorkflowId(input.orderId)).signal(paymentReceivedSignal, payment(input.orderId));
      });
      let submitted = 0;
      while ((submitted = await simOrders()) < paidCount) {
        if (performance.now() - started > 15 * 60_000) throw new Error(`only ${submitted} of ${paidCount} orders reached the printer in 15 minutes`);
        await sleep(100);
      }
      const seconds = (performance.now() - started) / 1000;
      rows.push({
        name: `${paidCount} paid orders → submitted to the printer`,
        value: `${seconds.toFixed(1)} s`,
        target: paidCount === 500 ? '≤ 60 s' : '(quick run)',
        met: paidCount === 500 ? seconds <= 60 : undefined,
        note: `${(paidCount / seconds).toFixed(1)} orders/s; each: render + preflight (2 rasters, 2 QR decodes) + submit + PDF download, one worker process`,
      });
    }
    await stopWorker();
    if (opts.parked === false) return rows;

    // ---- 10,000 orders parked awaiting shipment ----
    log(`${parkedCount} orders parked awaiting shipment (worker in its own process)…`);
    const parkedQueue = 'bench-parked';
    const bundlePath = path.join(here, '../node_modules/.cache/stickerflow-bench/order-workflows.js');
    const childPath = path.join(here, '../node_modules/.cache/stickerflow-bench/parked-worker.mjs');
    const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('ERROR') });
    await mkdir(path.dirname(bundlePath), { recursive: true });
    await writeFile(bundlePath, code);
    await build({ entryPoints: [path.join(here, 'parked-worker.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: childPath, logLevel: 'error' });
    const child = fork(childPath, [devServer.address, parkedQueue, bundlePath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [WORKER_HEAP_FLAG] });
    let childSubmitted = 0;
    let childMemory: NodeJS.MemoryUsage | undefined;
    child.on('message', (m: { submitted?: number; memory?: NodeJS.MemoryUsage }) => {
      if (m.submitted !== undefined) childSubmitted = m.submitted;
      childMemory = m.memory ?? childMemory;
    });
    let peak = 0;
    const sampler = setInterval(async () => (peak = Math.max(peak, await rssOf(child.pid!))), 200);
    try {
      const parked: Awaited<ReturnType<typeof newOrder>>[] = [];
      for (let i = 0; i < parkedCount; i += 500) {
        parked.push(...(await Promise.all(Array.from({ length: Math.min(500, parkedCount - i) }, () => newOrder(parkedQueue)))));
      }
      const parkStarted = performance.now();
      await pool(parked, 64, async ({ input, taskQueue }) => {
        await client.workflow.signalWithStart(STICKER_ORDER_WORKFLOW_TYPE, {
          taskQueue,
          workflowId: orderWorkflowId(input.orderId),
          args: [input],
          signal: paymentReceivedSignal,
          signalArgs: [payment(input.orderId)],
        });
      });
      while (childSubmitted < parkedCount) {
        if (performance.now() - parkStarted > 20 * 60_000) throw new Error(`only ${childSubmitted} of ${parkedCount} orders parked in 20 minutes`);
        await sleep(250);
      }
      const parkSeconds = (performance.now() - parkStarted) / 1000;
      await sleep(5_000); // resting: no work but the parked workflows
      const resting = await rssOf(child.pid!);
      if (process.env.BENCH_DEBUG) log(`  worker memory at rest: ${JSON.stringify(childMemory)}`);
      const mb = (b: number) => b / 2 ** 20;
      rows.push({
        name: `worker RSS with ${parkedCount} orders parked awaiting shipment`,
        value: `${mb(Math.max(peak, resting)).toFixed(0)} MB`,
        target: parkedCount === 10_000 ? '≤ 400 MB' : '(quick run)',
        met: parkedCount === 10_000 ? mb(Math.max(peak, resting)) <= 400 : undefined,
        note: `peak while parking; ${mb(resting).toFixed(0)} MB at rest; parked in ${parkSeconds.toFixed(0)} s (${(parkedCount / parkSeconds).toFixed(0)}/s)`,
      });

      // Webhook → visible status: signed simulator webhooks for random parked orders, one at a time.
      const latencies: number[] = [];
      const chosen = Array.from({ length: probes }, (_, i) => parked[Math.floor(((i + 0.5) / probes) * parked.length)]!);
      for (const [n, { input, accessToken }] of chosen.entries()) {
        const body = JSON.stringify({
          id: `evt_bench_${n}`,
          type: 'order.in_production',
          created_at: new Date().toISOString(),
          order: {
            id: `sim_${input.orderId}`,
            external_id: input.orderId,
            status: 'in_production',
            pdf_bytes: 1,
            tracking: null,
            failure_reason: null,
            created_at: new Date().toISOString(),
            updated_at: new Date().toISOString(),
          },
        });
        const t0 = performance.now();
        const res = await fetch(`${config.http.publicUrl}/webhooks/printers/sim`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'sim-signature': signSimWebhook(services.printerSimSecret, body, Math.floor(Date.now() / 1000)) },
          body,
        });
        if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
        for (;;) {
          const order = (await (await fetch(`${config.http.publicUrl}/api/orders/${input.orderId}`, { headers: { authorization: `Bearer ${accessToken}` } })).json()) as { status: string };
          if (order.status === 'in_production') break;
          if (performance.now() - t0 > 30_000) throw new Error(`order ${input.orderId} never showed in_production`);
          await sleep(5);
        }
        latencies.push(performance.now() - t0);
      }
      const p99 = percentile(latencies, 0.99);
      rows.push({
        name: `webhook → visible status, ${parkedCount} parked (p99)`,
        value: `${p99.toFixed(0)} ms`,
        target: parkedCount === 10_000 ? '≤ 250 ms' : '(quick run)',
        met: parkedCount === 10_000 ? p99 <= 250 : undefined,
        note: `${probes} signed webhooks for random parked orders; p50 ${percentile(latencies, 0.5).toFixed(0)} ms; worker ${mb(await rssOf(child.pid!)).toFixed(0)} MB after`,
      });
    } finally {
      clearInterval(sampler);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    await stopWorker();
    await stopHttpServer(api);
    await client.connection.close();
    await services.close();
    await devServer.stop();
  }
  return rows;
}
