/**
 * Records the histories the replay tests run against: `npm run record-histories [-- name…]`
 * (names such as `animation-split-queues`; none: all of them), into `released/`, which is only
 * ever added to: a file there is never re-recorded, changed or removed (frozen-histories.test.ts
 * fails if one is). A workflow change recorded anew goes into files of its own
 * (HISTORY_GENERATION), and the point of the committed files is that a change which breaks a
 * workflow already in flight fails the replay tests.
 */
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createHash } from 'node:crypto';
import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAlertActivities } from '../../src/activities/alerts.js';
import { createLedgerActivities } from '../../src/activities/ledger.js';
import { loadConfig } from '../../src/config.js';
import { openPGlite } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { CreditLedger } from '../../src/ledger/ledger.js';
import { resolveTemporalTestServer } from '../../src/toolchain/temporal.js';
import { paidFixtureWorkflow, paidStateQuery } from '../fixtures/workflows.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const wanted = (name: string) => only.length === 0 || only.includes(name);
/**
 * Recorded files are never written over: a workflow change recorded anew goes into files of its
 * own, named with HISTORY_GENERATION (e.g. `-records` → `animation-succeeded-records.json`).
 */
const generation = process.env.HISTORY_GENERATION ?? '';
/** Recorded histories go into `released/`, which is only ever added to (test/workflows/frozen-histories.test.ts). */
const released = path.join(here, 'released');
const historyFile = (name: string) => path.join(released, `${name}${generation}.json`);
/** Writes a new history (never over a recorded one: 'wx') and adds its hash to released/SHA256SUMS. */
async function keep(file: string, json: string): Promise<void> {
  await writeFile(file, json, { flag: 'wx' });
  await appendFile(path.join(released, 'SHA256SUMS'), `${createHash('sha256').update(json).digest('hex')}  ${path.basename(file)}\n`);
}
const config = loadConfig();
const executable = await resolveTemporalTestServer({ cacheDir: config.toolCacheDir, log: console.log });
const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable } });
const db = await openPGlite();
await migrate(db);
const ledger = new CreditLedger(db);
await ledger.openAccount('acct-replay', 10);

const worker = await Worker.create({
  connection: env.nativeConnection,
  taskQueue: 'record',
  workflowsPath: path.join(here, '../fixtures/workflows.ts'),
  activities: {
    ...createLedgerActivities({ ledger }),
    ...createAlertActivities({ channels: [{ name: 'none', send: async () => undefined }], temporalUiUrl: 'http://ui', namespace: 'default' }),
    performStep: async (name: string) => {
      if (name === 'fail') throw ApplicationFailure.nonRetryable('recorded failure', 'RecordedFailure');
      return `${name} done`;
    },
  },
});

const scenarios: Record<string, string[]> = {
  succeeded: ['moderate', 'animate'],
  'failed-refunded': ['moderate', 'fail'],
  cancelled: ['moderate', 'sleep:2 days'],
};

await worker.runUntil(async () => {
  for (const [name, steps] of Object.entries(scenarios)) {
    if (!wanted(`paid-work-${name}`)) continue;
    const handle = await env.client.workflow.start(paidFixtureWorkflow, {
      taskQueue: 'record',
      workflowId: `replay-${name}`,
      args: [{ accountId: 'acct-replay', steps }],
    });
    if (name === 'cancelled') {
      while ((await handle.query(paidStateQuery)).step !== 'sleep:2 days') await new Promise((r) => setTimeout(r, 50));
      await handle.cancel();
    }
    await handle.result().catch(() => undefined);
    const file = historyFile(`paid-work-${name}`);
    await keep(file, historyToJSON(await handle.fetchHistory()));
    console.log(`recorded ${file}`);
  }
});

// The animation workflow, with a scripted pipeline: a success, a failure at segmentation, and a
// success with the model and ffmpeg steps on task queues of their own and a fal-shaped job.
const animationActivities = {
    ...createLedgerActivities({ ledger }),
    ...createAlertActivities({ channels: [{ name: 'none', send: async () => undefined }], temporalUiUrl: 'http://ui', namespace: 'default' }),
    moderatePhoto: async () => ({ safe: true, scores: { Neutral: 0.99 } }),
    analyzePhoto: async () => ({ framing: 'bust', box: { left: 0, top: 0, width: 300, height: 400 }, subjects: 1 }),
    cartoonizePhoto: async (i: { animationId: string }) => ({ imageKey: `animations/${i.animationId}/cartoon.png` }),
    expandToFullBody: async (i: { animationId: string }) => ({ imageKey: `animations/${i.animationId}/cartoon-full-body.png` }),
    segmentImage: async (i: { animationId: string }) => {
      if (i.animationId.endsWith('failed')) throw ApplicationFailure.nonRetryable('background removal left nothing', 'EmptyMask');
      return { cutoutKey: `animations/${i.animationId}/cutout.png`, coverage: 0.4 };
    },
    submitAnimation: async (i: { animationId: string }) =>
      i.animationId.endsWith('split_queues')
        ? { backend: 'fal', jobId: '0f6f3c1e-recorded', key: `${i.animationId}:animate` }
        : { backend: 'local', jobId: `animations/${i.animationId}/cutout.png` },
    pollAnimation: async () => ({ polls: 1 }),
    fetchAnimationFrames: async (i: { animationId: string }) => ({ prefix: `animations/${i.animationId}/frames`, count: 120, fps: 24, width: 512, height: 512 }),
    transcodeAnimation: async (i: { animationId: string; format: string }) => ({ key: `animations/${i.animationId}/buddy.${i.format}`, bytes: 1 }),
    renderPoster: async (i: { animationId: string }) => ({ key: `animations/${i.animationId}/poster.png`, bytes: 1 }),
    discardAnimationFiles: async () => ({ deleted: 0 }),
    recordAnimation: async () => undefined,
    recordOrder: async () => undefined,
    noteOrderRefund: async () => undefined,
    sendEmail: async (i: { orderId: string; kind: string }) => ({ messageId: `<${i.orderId}.${i.kind}@recorded>`, duplicate: false, alreadySent: false, idempotencyKey: `email:order:${i.orderId}:${i.kind}` }),
};
const animationWorkers = await Promise.all(
  ['record-animation', 'record-ai', 'record-media'].map((taskQueue, i) =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      ...(i === 0 && { workflowsPath: path.join(here, '../../src/workflows/index.ts') }),
      activities: animationActivities,
    }),
  ),
);
const [main, ai, media] = animationWorkers;
await main!.runUntil(ai!.runUntil(media!.runUntil(async () => {
  for (const name of ['succeeded', 'failed', 'split-queues']) {
    if (!wanted(`animation-${name}`)) continue;
    const animationId = `an_replay_${name.replace('-', '_')}`;
    const handle = await env.client.workflow.start('AnimationWorkflow', {
      taskQueue: 'record-animation',
      workflowId: `animation:${animationId}`,
      args: [
        {
          animationId,
          customerId: 'acct-replay',
          photoKey: `animations/${animationId}/photo.png`,
          fullBody: true,
          ...(name === 'split-queues' && { taskQueues: { ai: 'record-ai', media: 'record-media' } }),
        },
      ],
    });
    await handle.result().catch(() => undefined);
    const file = historyFile(`animation-${name}`);
    await keep(file, historyToJSON(await handle.fetchHistory()));
    console.log(`recorded ${file}`);
  }
})));

// The sticker order workflow with a scripted printer and payment provider: delivered over days
// (webhooks, then a status poll finds the shipment and the delivery), a printer failure that is
// refunded, and an order placed while its animation runs (the animation's update starts it as
// a child; recorded: the parent's history and the child's).
const printerStage = new Map<string, 'shipped' | 'delivered'>();
let parentReleased = false;
let reprintAttempts = 0;
const orderWorker = await Worker.create({
  connection: env.nativeConnection,
  taskQueue: 'record-orders',
  workflowsPath: path.join(here, '../../src/workflows/index.ts'),
  activities: {
    ...animationActivities,
    pollAnimation: async () => {
      while (!parentReleased) await new Promise((r) => setTimeout(r, 20)); // the order arrives while this runs
      return { polls: 1 };
    },
    renderPrintFile: async (i: { orderId: string }) => ({ printFileKey: `orders/${i.orderId}/print.pdf`, bytes: 52_000 }),
    preflightPrintFile: async () => ({ checks: ['pageSize', 'bleed', 'dpi', 'contour', 'qr300', 'qr150'] }),
    submitPrintOrder: async (i: { orderId: string }) => {
      // The reprint's printer is down until an operator's retry comes after two attempts.
      if (i.orderId === 'or_replay_reprint' && ++reprintAttempts <= 2) throw new Error('printer API answered 503');
      return { orderId: i.orderId, vendorOrderId: `sim_${i.orderId}` };
    },
    fetchPrinterStatus: async (i: { orderId: string }) => {
      const type = printerStage.get(i.orderId);
      return { orderId: i.orderId, vendorOrderId: `sim_${i.orderId}`, type, tracking: type && { carrier: 'SIM Post', number: 'SIM1' } };
    },
    cancelPrintOrder: async () => true,
    expireCheckout: async () => 'expired' as const,
    refundPayment: async (i: { paymentIntentId: string; amountCents: number }) => ({ refundId: `re_${i.paymentIntentId}`, status: 'succeeded' as const, amountCents: i.amountCents }),
  },
});
const orderInput = (orderId: string, animationId: string, artKey?: string) => ({
  orderId,
  animationId,
  product: { shape: 'die-cut', sizeInches: 3, quantity: 10 },
  shipping: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
  email: 'ada@example.com',
  printerId: 'sim',
  viewerUrl: 'http://localhost:3000/a/v_recorded',
  payment: { provider: 'local', sessionId: `cs_local_${orderId}`, amountCents: 4099, currency: 'usd' },
  ...(artKey && { artKey }),
});
const payment = (orderId: string) => ({
  eventId: `evt_${orderId}`,
  orderId,
  sessionId: `cs_local_${orderId}`,
  paymentIntentId: `pi_local_${orderId}`,
  amountCents: 4099,
  currency: 'usd',
  paidAt: '2026-11-21T10:00:00.000Z',
});
const printerEvent = (orderId: string, type: string, n: number) => ({ eventId: `pe_${orderId}_${n}`, orderId, type, at: '2026-11-21T10:00:00.000Z' });
const waitFor = async (h: { query: (q: string) => Promise<unknown> }, status: string) => {
  while (((await h.query('orderStatus')) as { status: string }).status !== status) await env.sleep('1 minute');
};
await orderWorker.runUntil(async () => {
  for (const name of ['delivered', 'failed-refunded']) {
    if (!wanted(`sticker-order-${name}`)) continue;
    const orderId = `or_replay_${name.replace('-', '_')}`;
    const handle = await env.client.workflow.start('StickerOrderWorkflow', {
      taskQueue: 'record-orders',
      workflowId: `order:${orderId}`,
      args: [orderInput(orderId, 'an_replay_succeeded', 'animations/an_replay_succeeded/cutout.png')],
    });
    await handle.signal('paymentReceived', payment(orderId));
    await waitFor(handle, 'submitted');
    await handle.signal('printerEvent', printerEvent(orderId, 'accepted', 1));
    if (name === 'delivered') {
      await handle.signal('printerEvent', printerEvent(orderId, 'in_production', 2));
      await handle.signal('printerEvent', printerEvent(orderId, 'in_production', 2)); // a duplicate
      await env.sleep('2 days');
      printerStage.set(orderId, 'shipped'); // its webhook is lost: the poll finds it
      await env.sleep('1 day');
      printerStage.set(orderId, 'delivered');
    } else {
      await handle.signal('printerEvent', { ...printerEvent(orderId, 'failed', 2), reason: 'print head jammed' });
    }
    await handle.result().catch(() => undefined);
    const file = historyFile(`sticker-order-${name}`);
    await keep(file, historyToJSON(await handle.fetchHistory()));
    console.log(`recorded ${file}`);
  }
  // A reprint an operator made (no payment), whose submission the operator retried through an outage.
  if (wanted('sticker-order-reprint')) {
    const orderId = 'or_replay_reprint';
    const handle = await env.client.workflow.start('StickerOrderWorkflow', {
      taskQueue: 'record-orders',
      workflowId: `order:${orderId}`,
      args: [{ ...orderInput(orderId, 'an_replay_succeeded', 'animations/an_replay_succeeded/cutout.png'), reprintOf: 'or_replay_delivered' }],
    });
    while (reprintAttempts < 2) await env.sleep('5 seconds');
    await handle.signal('retrySubmission');
    await waitFor(handle, 'submitted');
    await handle.signal('printerEvent', printerEvent(orderId, 'delivered', 1));
    await handle.result();
    const file = historyFile('sticker-order-reprint');
    await keep(file, historyToJSON(await handle.fetchHistory()));
    console.log(`recorded ${file}`);
  }
  // What an operator does after an order ended: a refund, and an email sent again.
  for (const [name, type, args] of [
    ['operator-refund', 'OperatorRefundWorkflow', { orderId: 'or_replay_delivered', provider: 'local', paymentIntentId: 'pi_local_or_replay_delivered', amountCents: 4099, currency: 'usd', reason: 'arrived creased', email: 'ada@example.com', name: 'Ada Lovelace' }],
    ['resend-email', 'ResendEmailWorkflow', { kind: 'order_delivered', to: 'ada@example.com', orderId: 'or_replay_delivered', name: 'Ada Lovelace', viewerUrl: 'http://localhost:3000/a/v_recorded', resend: 1 }],
  ] as const) {
    if (!wanted(name)) continue;
    const handle = await env.client.workflow.start(type, { taskQueue: 'record-orders', workflowId: `ops-${name}`, args: [args] });
    await handle.result();
    const file = historyFile(name);
    await keep(file, historyToJSON(await handle.fetchHistory()));
    console.log(`recorded ${file}`);
  }
  if (wanted('animation-with-order')) {
    const animationId = 'an_replay_with_order';
    const orderId = 'or_replay_child';
    const parent = await env.client.workflow.start('AnimationWorkflow', {
      taskQueue: 'record-orders',
      workflowId: `animation:${animationId}`,
      args: [{ animationId, customerId: 'acct-replay', photoKey: `animations/${animationId}/photo.png`, fullBody: true }],
    });
    await parent.executeUpdate('orderStickers', { args: [orderInput(orderId, animationId)], updateId: orderId });
    const child = env.client.workflow.getHandle(`order:${orderId}`);
    await child.signal('paymentReceived', payment(orderId));
    parentReleased = true;
    await parent.result();
    await waitFor(child, 'submitted');
    await child.signal('printerEvent', printerEvent(orderId, 'delivered', 1));
    await child.result();
    for (const [file, h] of [['animation-with-order', parent], ['sticker-order-child', child]] as const) {
      await keep(historyFile(file), historyToJSON(await h.fetchHistory()));
      console.log(`recorded ${historyFile(file)}`);
    }
  }
});

// The credit purchase workflow with scripted activities: paid (the payment handed over twice,
// as the webhook and the return do), unpaid until the checkout expires, and a run started by a
// refund notice after the purchase's first run ended.
const creditWorker = await Worker.create({
  connection: env.nativeConnection,
  taskQueue: 'record-credits',
  workflowsPath: path.join(here, '../../src/workflows/index.ts'),
  activities: {
    ...createAlertActivities({ channels: [{ name: 'none', send: async () => undefined }], temporalUiUrl: 'http://ui', namespace: 'default' }),
    closeCreditCheckout: async () => null,
    grantPurchasedCredits: async () => ({ entryId: '7', balanceAfter: 20 }),
    revokePurchasedCredits: async () => ({ status: 'revoked' as const, taken: 15, shortfall: 5, balanceAfter: 0 }),
  },
});
const creditInput = (purchaseId: string) => ({
  purchaseId,
  customerId: 'acct-replay',
  pack: 'pack-20',
  credits: 20,
  amountCents: 1499,
  currency: 'usd',
  payment: { provider: 'local', sessionId: `cs_local_${purchaseId}` },
  checkoutExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
});
const creditPayment = (purchaseId: string, eventId: string) => ({
  eventId,
  orderId: purchaseId,
  sessionId: `cs_local_${purchaseId}`,
  paymentIntentId: `pi_local_${purchaseId}`,
  amountCents: 1499,
  currency: 'usd',
  paidAt: '2026-12-01T10:00:00.000Z',
});
await creditWorker.runUntil(async () => {
  for (const name of ['fulfilled', 'expired', 'refunded']) {
    if (!wanted(`credit-purchase-${name}`)) continue;
    const purchaseId = `cp_replay_${name}`;
    const options = { taskQueue: 'record-credits', workflowId: `credits:${purchaseId}`, args: [creditInput(purchaseId)] };
    let handle;
    if (name === 'refunded') {
      const refund = { eventId: `evt_refund_${purchaseId}`, paymentIntentId: `pi_local_${purchaseId}`, amountCents: 1499, amountRefundedCents: 1499 };
      handle = await env.client.workflow.signalWithStart('CreditPurchaseWorkflow', { ...options, signal: 'paymentRefunded', signalArgs: [refund] });
    } else {
      handle = await env.client.workflow.start('CreditPurchaseWorkflow', options);
      if (name === 'fulfilled') {
        await handle.signal('paymentReceived', creditPayment(purchaseId, `evt_${purchaseId}`));
        await handle.signal('paymentReceived', creditPayment(purchaseId, `checkout:cs_local_${purchaseId}`));
      }
    }
    await handle.result();
    const file = historyFile(`credit-purchase-${name}`);
    await keep(file, historyToJSON(await handle.fetchHistory()));
    console.log(`recorded ${file}`);
  }
});

// The late payment workflow: a payment for an order that had ended, refunded after one failed try.
if (wanted('late-payment-refunded')) {
  let tries = 0;
  const lateWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'record-late',
    workflowsPath: path.join(here, '../../src/workflows/index.ts'),
    activities: {
      ...createAlertActivities({ channels: [{ name: 'none', send: async () => undefined }], temporalUiUrl: 'http://ui', namespace: 'default' }),
      refundPayment: async (i: { paymentIntentId: string; amountCents: number }) => {
        if (++tries === 1) throw new Error('the provider answered 500');
        return { refundId: `re_${i.paymentIntentId}`, status: 'succeeded' as const, amountCents: i.amountCents };
      },
    },
  });
  await lateWorker.runUntil(async () => {
    const orderId = 'or_replay_late';
    const handle = await env.client.workflow.start('LatePaymentWorkflow', {
      taskQueue: 'record-late',
      workflowId: `late-payment:pi_local_${orderId}`,
      args: [{ orderId, provider: 'local', payment: payment(orderId) }],
    });
    await handle.result();
    const file = historyFile('late-payment-refunded');
    await keep(file, historyToJSON(await handle.fetchHistory()));
    console.log(`recorded ${file}`);
  });
}
await env.teardown();
await db.close();
