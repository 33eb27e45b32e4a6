/**
 * StickerOrderWorkflow on the Java time-skipping server: days of printer waiting pass in
 * seconds. The printer and the payment provider are in-memory stand-ins behind the real
 * activity names (their adapters are tested against their fakes elsewhere); what is under test
 * here is the workflow's orchestration: signals, updates, timers, polls, refunds and alerts.
 */
import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Activities } from '../../src/activities/index.js';
import {
  artReadySignal,
  cancelOrderUpdate,
  changeShippingUpdate,
  orderStatusQuery,
  orderWorkflowId,
  paymentReceivedSignal,
  printerEventSignal,
  retrySubmissionSignal,
  STICKER_ORDER_WORKFLOW_TYPE,
  type OrderInput,
  type OrderView,
} from '../../src/workflows/sticker-order/api.js';
import type { Database } from '../../src/db/database.js';
import type { CreditLedger } from '../../src/ledger/ledger.js';
import {
  ANIMATION_WORKFLOW_TYPE,
  animationStatusQuery,
  animationWorkflowId,
  orderStickersUpdate,
  type AnimationAssets,
} from '../../src/workflows/animation/api.js';
import { openLedger, paidWorkActivities } from '../support/ledger.js';
import { FakePayments, FakePrinter, gatedAnimation, OrderWorld, orderInput, paid, printerEvent, shipping } from '../support/orders.js';
import type { RecordingAlertChannel } from '../support/recording-alerts.js';
import { bundle, timeSkippingEnv } from '../support/temporal.js';

const workflowsPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/workflows/index.ts');

let env: TestWorkflowEnvironment;
let world: OrderWorld;
let alerts: RecordingAlertChannel;
let calls: string[];
let printer: FakePrinter;
let payments: FakePayments;
let renderedArt: string[];
const orderActivities = (overrides: Partial<Activities> = {}) => world.activities(overrides);

beforeAll(async () => {
  env = await timeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});
beforeEach(() => {
  world = new OrderWorld();
  ({ alerts, calls, printer, payments, renderedArt } = world);
});

type Outcome = { ok: true; view: OrderView } | { ok: false; error: WorkflowFailedError };

/** Runs one order on a fresh worker; `drive` plays the customer and the printer while it runs. */
async function runOrder(
  drive: (h: WorkflowHandle, orderId: string) => Promise<void>,
  opts: { input?: Partial<OrderInput>; activities?: Partial<Activities> } = {},
) {
  const taskQueue = `order-${randomUUID()}`;
  const orderId = `or_${randomUUID().replaceAll('-', '').slice(0, 22)}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundle(workflowsPath),
    activities: orderActivities(opts.activities),
  });
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start(STICKER_ORDER_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: orderWorkflowId(orderId),
      args: [orderInput(orderId, opts.input)],
    });
    await drive(handle, orderId);
    const outcome: Outcome = await handle.result().then(
      (view: OrderView) => ({ ok: true as const, view }),
      (error: unknown) => ({ ok: false as const, error: error as WorkflowFailedError }),
    );
    const view = await handle.query(orderStatusQuery);
    return { outcome, view, orderId, handle };
  });
}

/** Waits (in skipped time) until the workflow reports `status`. */
async function until(h: WorkflowHandle, status: OrderView['status'], step = '1 minute', tries = 200): Promise<OrderView> {
  for (let i = 0; i < tries; i++) {
    const v = await h.query(orderStatusQuery);
    if (v.status === status) return v;
    await env.sleep(step);
  }
  throw new Error(`order never reached ${status}`);
}

const statuses = (v: OrderView) => v.timeline.map((t) => t.status);
const tracking = { carrier: 'SIM Post', number: 'SIM123456', url: 'https://track.example/SIM123456' };

describe('StickerOrderWorkflow', () => {
  it('runs the happy path over simulated days: paid, rendered, submitted, printed, shipped, delivered', async () => {
    const { outcome, view, orderId } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await until(h, 'submitted');
      await env.sleep('1 day');
      await h.signal(printerEventSignal, printerEvent(id, 'accepted'));
      await env.sleep('1 day');
      await h.signal(printerEventSignal, printerEvent(id, 'in_production'));
      await env.sleep('2 days');
      await h.signal(printerEventSignal, printerEvent(id, 'shipped', { tracking }));
      await env.sleep('3 days');
      await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
    });
    expect(outcome.ok).toBe(true);
    expect(view.status).toBe('delivered');
    expect(statuses(view)).toEqual(['awaiting_payment', 'paid', 'rendering', 'submitted', 'submitted', 'in_production', 'shipped', 'delivered']);
    expect(view.timeline[4]!.note).toContain('accepted by the printer');
    expect(view).toMatchObject({ tracking, printFileKey: `orders/${orderId}/print.pdf`, vendorOrderId: `pv_${orderId}` });
    expect(view.payment).toMatchObject({ paymentIntentId: `pi_${orderId}`, amountCents: 4099 });
    expect(view.refund).toBeUndefined();
    // The days between webhooks are days of simulated time, on the timeline's clock too.
    const days = (Date.parse(view.timeline.at(-1)!.at) - Date.parse(view.timeline[3]!.at)) / 86_400_000;
    expect(days).toBeGreaterThanOrEqual(7);
    expect(calls.filter((c) => c === 'submitPrintOrder')).toHaveLength(1);
    expect(calls.indexOf('preflightPrintFile')).toBeGreaterThan(calls.indexOf('renderPrintFile'));
    expect(alerts.sent).toHaveLength(0);
    expect(payments.refundCalls).toHaveLength(0);
  });

  it('refunds exactly once when the printer reports a failure, even when the webhook is repeated', async () => {
    const { outcome, view, orderId } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await h.signal(paymentReceivedSignal, paid(id)); // a duplicate payment webhook changes nothing
      await until(h, 'submitted');
      await h.signal(printerEventSignal, printerEvent(id, 'accepted'));
      const failure = printerEvent(id, 'failed', { reason: 'print head jammed' });
      await h.signal(printerEventSignal, failure);
      await h.signal(printerEventSignal, failure);
      await h.signal(printerEventSignal, printerEvent(id, 'failed', { reason: 'print head jammed (again)' }));
    });
    expect(outcome.ok).toBe(false);
    expect(String((outcome as { error: WorkflowFailedError }).error.cause?.message)).toContain('print head jammed');
    expect(view.status).toBe('failed');
    expect(view.refund).toEqual({ status: 'refunded', refundId: `re_pi_${orderId}`, amountCents: 4099 });
    expect(payments.refundCalls).toEqual([`refund:order:${orderId}`]);
    expect(alerts.sent).toHaveLength(1);
    expect(alerts.sent[0]!.error).toContain('print head jammed');
    expect(alerts.sent[0]!.refund).toContain('refunded 40.99 USD');
  });

  it('a printer cancellation refunds and ends the order cancelled', async () => {
    const { outcome, view } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await until(h, 'submitted');
      await h.signal(printerEventSignal, printerEvent(id, 'cancelled', { reason: 'out of vinyl' }));
    });
    expect(outcome.ok).toBe(true);
    expect(view).toMatchObject({ status: 'cancelled', refund: { status: 'refunded' } });
    expect(view.error).toContain('out of vinyl');
    expect(payments.refundCalls).toHaveLength(1);
  });

  it('finds the shipment by polling when no webhook comes for 10 days', async () => {
    const { outcome, view } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await until(h, 'submitted');
      await env.sleep('3 days');
      printer.set(id, 'shipped', tracking); // the printer shipped; its webhook was lost
      await env.sleep('7 days');
      const seen = await h.query(orderStatusQuery);
      expect(seen.status).toBe('shipped');
      expect(seen.tracking).toEqual(tracking);
      expect(seen.timeline.at(-1)!.note).toBe('status poll');
      printer.set(id, 'delivered');
    });
    expect(outcome.ok).toBe(true);
    expect(view.status).toBe('delivered');
    expect(calls.filter((c) => c === 'fetchPrinterStatus').length).toBeGreaterThanOrEqual(12); // every 6 hours
    expect(payments.refundCalls).toHaveLength(0);
  });

  it('refunds and alerts when the order never ships, after alerting that it stalled', async () => {
    const { outcome, view, orderId } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await until(h, 'submitted');
      await h.signal(printerEventSignal, printerEvent(id, 'accepted'));
      printer.set(id, 'accepted');
      await env.sleep('15 days');
    });
    expect(outcome.ok).toBe(false);
    expect(view.status).toBe('failed');
    expect(view.error).toBe('not shipped within 14 days of submission');
    expect(calls).toContain('cancelPrintOrder');
    expect(printer.orders.get(orderId)!.type).toBe('cancelled');
    expect(payments.refundCalls).toEqual([`refund:order:${orderId}`]);
    expect(alerts.sent.map((a) => a.failedStep)).toEqual(['stalled at accepted', 'order failed while submitted']);
  });

  it('cancels before payment: closes the checkout, nothing to refund', async () => {
    const { outcome, view, orderId } = await runOrder(async (h) => {
      const v = await h.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'changed my mind' }] });
      expect(v.status).toBe('cancelled');
    });
    expect(outcome.ok).toBe(true);
    expect(view).toMatchObject({ status: 'cancelled', error: 'changed my mind', refund: { status: 'not_needed' } });
    expect(payments.expired).toEqual([`cs_${orderId}`]);
    expect(calls).not.toContain('renderPrintFile');
    expect(alerts.sent).toHaveLength(0);
  });

  it('cancels after payment but before submission: refunds once, never reaches the printer', async () => {
    const { outcome, view, orderId } = await runOrder(
      async (h, id) => {
        await h.signal(paymentReceivedSignal, paid(id));
        await until(h, 'paid', '1 second');
        await h.executeUpdate(cancelOrderUpdate, { args: [{}] });
      },
      { input: { artKey: undefined } }, // waits for the art, so the cancel lands while paid
    );
    expect(outcome.ok).toBe(true);
    expect(view).toMatchObject({ status: 'cancelled', error: 'cancelled by the customer', refund: { status: 'refunded' } });
    expect(payments.refundCalls).toEqual([`refund:order:${orderId}`]);
    expect(printer.orders.size).toBe(0);
  });

  it('refuses cancel and address change once the order is at the printer', async () => {
    const { view } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await until(h, 'submitted');
      for (const attempt of [
        () => h.executeUpdate(cancelOrderUpdate, { args: [{}] }),
        () => h.executeUpdate(changeShippingUpdate, { args: [{ ...shipping, city: 'Paris' }] }),
      ]) {
        const err = await attempt().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
        expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'OrderLocked' });
      }
      await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
    });
    expect(view.status).toBe('delivered');
    expect(view.shipping.city).toBe('London');
  });

  it('changes the address before submission, and the printer gets the new one', async () => {
    const { view, orderId } = await runOrder(
      async (h, id) => {
        const changed = await h.executeUpdate(changeShippingUpdate, { args: [{ ...shipping, line1: '1 New Road' }] });
        expect(changed.shipping.line1).toBe('1 New Road');
        const bad = await h.executeUpdate(changeShippingUpdate, { args: [{ ...shipping, city: ' ' }] }).catch((e: unknown) => e);
        expect((bad as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InvalidAddress' });
        await h.signal(paymentReceivedSignal, paid(id));
        await until(h, 'submitted');
        await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
      },
    );
    expect(view.status).toBe('delivered');
    expect(printer.orders.get(orderId)!.shipping.line1).toBe('1 New Road');
    expect(view.timeline.some((t) => t.note === 'shipping address changed')).toBe(true);
  });

  it('never moves backwards on duplicated and shuffled webhooks', async () => {
    const { view } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await until(h, 'submitted');
      const shipped = printerEvent(id, 'shipped', { tracking });
      for (const e of [printerEvent(id, 'in_production'), shipped, printerEvent(id, 'accepted'), shipped, printerEvent(id, 'in_production')]) {
        await h.signal(printerEventSignal, e);
      }
      const mid = await h.query(orderStatusQuery);
      expect(mid.status).toBe('shipped');
      // a late failure after shipping is noted, not acted on
      await h.signal(printerEventSignal, printerEvent(id, 'failed', { reason: 'late noise' }));
      await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
      await h.signal(printerEventSignal, printerEvent(id, 'shipped'));
    });
    expect(view.status).toBe('delivered');
    expect(statuses(view).slice(3)).toEqual(['submitted', 'in_production', 'shipped', 'shipped', 'delivered']);
    expect(view.timeline.find((t) => t.note?.includes('late "failed"'))).toBeDefined();
    expect(view.tracking).toEqual(tracking);
    expect(payments.refundCalls).toHaveLength(0);
  });

  it('cancels itself when unpaid at the deadline', async () => {
    const { outcome, view, orderId } = await runOrder(async () => {
      await env.sleep('25 hours');
    });
    expect(outcome.ok).toBe(true);
    expect(view).toMatchObject({ status: 'cancelled', error: 'not paid before the payment deadline', refund: { status: 'not_needed' } });
    expect(payments.expired).toEqual([`cs_${orderId}`]);
  });

  it('refunds a payment that raced the deadline (the checkout says already paid)', async () => {
    payments.expireAnswer = 'already_paid';
    const { view, orderId } = await runOrder(async (h, id) => {
      await env.sleep('24 hours');
      await until(h, 'cancelled', '1 second');
      await h.signal(paymentReceivedSignal, paid(id)); // its webhook arrives a moment later
    });
    expect(view).toMatchObject({ status: 'cancelled', refund: { status: 'refunded' } });
    expect(payments.refundCalls).toEqual([`refund:order:${orderId}`]);
  });

  it('fails with a refund and an alert when the print file fails preflight', async () => {
    const { outcome, view } = await runOrder(
      async (h, id) => {
        await h.signal(paymentReceivedSignal, paid(id));
      },
      {
        activities: {
          preflightPrintFile: async () => {
            throw ApplicationFailure.create({ type: 'PreflightFailed', message: 'QR code unreadable at 150 dpi', nonRetryable: true });
          },
        },
      },
    );
    expect(outcome.ok).toBe(false);
    expect(view).toMatchObject({ status: 'failed', refund: { status: 'refunded' } });
    expect(view.error).toContain('QR code unreadable at 150 dpi');
    expect(printer.orders.size).toBe(0);
    expect(alerts.sent).toHaveLength(1);
  });

  it('retries a printer outage and submits once; a refusal fails with a refund', async () => {
    let attempts = 0;
    const flaky = orderActivities().submitPrintOrder!;
    const { view } = await runOrder(
      async (h, id) => {
        await h.signal(paymentReceivedSignal, paid(id));
        await until(h, 'submitted', '10 seconds');
        await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
      },
      {
        activities: {
          submitPrintOrder: async (i) => {
            if (++attempts < 3) throw new Error('printer API answered 503');
            return flaky(i);
          },
        },
      },
    );
    expect(view.status).toBe('delivered');
    expect(attempts).toBe(3);

    const refused = await runOrder(
      async (h, id) => {
        await h.signal(paymentReceivedSignal, paid(id));
      },
      {
        activities: {
          submitPrintOrder: async () => {
            throw ApplicationFailure.nonRetryable('country not served', 'PrintRejected');
          },
        },
      },
    );
    expect(refused.view).toMatchObject({ status: 'failed', refund: { status: 'refunded' } });
    expect(refused.view.error).toContain('the printer refused the order');
  });

  it('keeps the refund pending and alerts when the payment provider is down, then refunds', async () => {
    let refundAttempts = 0;
    const real = orderActivities().refundPayment!;
    const { view } = await runOrder(
      async (h, id) => {
        await h.signal(paymentReceivedSignal, paid(id));
        await until(h, 'submitted');
        await h.signal(printerEventSignal, printerEvent(id, 'failed', { reason: 'misprint' }));
        await env.sleep('2 hours');
      },
      {
        activities: {
          refundPayment: async (i) => {
            if (++refundAttempts < 20) throw new Error('payment provider unreachable');
            return real(i);
          },
        },
      },
    );
    expect(view).toMatchObject({ status: 'failed', refund: { status: 'refunded' } });
    expect(alerts.sent.map((a) => a.failedStep)).toEqual(['refund', 'order failed while submitted']);
    expect(payments.refundCalls).toHaveLength(1);
  });
});

describe('StickerOrderWorkflow when things go wrong at the edges', () => {
  it('an operator cancelling the workflow at the printer stage: stopped at the printer, refunded, alerted', async () => {
    const { outcome, view, orderId } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await until(h, 'submitted');
      await h.cancel();
    });
    expect(outcome.ok).toBe(true);
    expect(view).toMatchObject({ status: 'cancelled', refund: { status: 'refunded' } });
    expect(view.error).toContain('cancelled by an operator');
    expect(printer.orders.get(orderId)!.type).toBe('cancelled');
    expect(payments.refundCalls).toEqual([`refund:order:${orderId}`]);
    expect(alerts.sent.map((a) => a.failedStep)).toEqual(['order cancelled']);
  });

  it('a printer outage that lost the answer of a placed order: followed when it can no longer be cancelled', async () => {
    printer.cancellable = false;
    const base = orderActivities().submitPrintOrder!;
    const { view, orderId } = await runOrder(
      async (h, id) => {
        await h.signal(paymentReceivedSignal, paid(id));
        await env.sleep('25 hours'); // a day of "unreachable"
        await until(h, 'submitted');
        await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
      },
      {
        activities: {
          submitPrintOrder: async (i) => {
            await base(i); // the printer takes it, then the answer is lost
            throw new Error('socket hang up');
          },
        },
      },
    );
    expect(view.status).toBe('delivered');
    expect(payments.refundCalls).toHaveLength(0);
    expect(calls).toContain('cancelPrintOrder');
    expect(alerts.sent.map((a) => a.failedStep)).toEqual(['submission']);
    expect(printer.orders.get(orderId)!.submissions).toBeGreaterThan(1); // retried, yet one order at the printer
  });

  it('a printer outage for a day, the printer able to cancel: failed and refunded', async () => {
    const { outcome, view } = await runOrder(
      async (h, id) => {
        await h.signal(paymentReceivedSignal, paid(id));
        await env.sleep('25 hours');
      },
      { activities: { submitPrintOrder: async () => Promise.reject(new Error('connect ECONNREFUSED')) } },
    );
    expect(outcome.ok).toBe(false);
    expect(view).toMatchObject({ status: 'failed', refund: { status: 'refunded' } });
    expect(view.error).toContain('the printer could not be reached');
  });

  it('not shipped in time but too late to cancel: waits as long again instead of refunding, then ships', async () => {
    printer.cancellable = false;
    const { view } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await until(h, 'submitted');
      printer.set(id, 'in_production');
      await env.sleep('15 days');
      expect((await h.query(orderStatusQuery)).status).toBe('in_production');
      printer.set(id, 'shipped', tracking);
      await env.sleep('1 day');
      await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
    });
    expect(view.status).toBe('delivered');
    expect(payments.refundCalls).toHaveLength(0);
    expect(alerts.sent.map((a) => a.failedStep)).toContain('late at in_production');
  });

  it('refunds a second, different payment under its own key and keeps the first', async () => {
    const { view, orderId } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await h.signal(paymentReceivedSignal, { ...paid(id, 'evt_second'), paymentIntentId: 'pi_second' });
      await h.signal(paymentReceivedSignal, { ...paid(id, 'evt_second'), paymentIntentId: 'pi_second' });
      // Let the refund's first try run before skipping time (on a loaded machine the skips
      // below could otherwise outrun the worker and time its attempts out).
      await vi.waitFor(() => expect(payments.refundCalls).toHaveLength(1), { timeout: 20_000 });
      await until(h, 'submitted');
      await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
    });
    expect(view).toMatchObject({ status: 'delivered', payment: { paymentIntentId: `pi_${orderId}` } });
    expect(payments.refundCalls).toEqual([`refund:order:${orderId}:pi_second`]);
  });

  it('asks the printer for tracking when "delivered" came before any "shipped"', async () => {
    const { view } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await until(h, 'submitted');
      printer.set(id, 'delivered', tracking);
      await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
    });
    expect(view).toMatchObject({ status: 'delivered', tracking });
  });
});

describe('StickerOrderWorkflow as a child of the animation', () => {
  let db: Database;
  let ledger: CreditLedger;
  beforeAll(async () => {
    ({ db, ledger } = await openLedger());
  });
  afterAll(async () => {
    await db?.close();
  });

  async function withAnimation<T>(gate: { released: boolean; fail?: boolean }, body: (animationId: string, taskQueue: string) => Promise<T>) {
    const taskQueue = `parent-${randomUUID()}`;
    const animationId = `an_${randomUUID().replaceAll('-', '').slice(0, 22)}`;
    const customerId = `cus_${randomUUID()}`;
    await ledger.openAccount(customerId, 3);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await bundle(workflowsPath),
      activities: { ...orderActivities(), ...paidWorkActivities(ledger, [alerts]), ...gatedAnimation(gate) },
    });
    return worker.runUntil(async () => {
      await env.client.workflow.start(ANIMATION_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: animationWorkflowId(animationId),
        args: [{ animationId, customerId, photoKey: `animations/${animationId}/photo.png`, fullBody: true }],
      });
      return body(animationId, taskQueue);
    });
  }

  const childInput = (animationId: string) => {
    const orderId = `or_${randomUUID().replaceAll('-', '').slice(0, 22)}`;
    const { artKey: _none, ...input } = orderInput(orderId, { animationId });
    return input;
  };

  it('starts the order as a child that outlives the animation and prints the art it hands over', async () => {
    const gate = { released: false };
    const { view, animationId } = await withAnimation(gate, async (animationId) => {
      const parent = env.client.workflow.getHandle(animationWorkflowId(animationId));
      const input = childInput(animationId);
      const started = await parent.executeUpdate(orderStickersUpdate, { args: [input], updateId: input.orderId });
      expect(started.workflowId).toBe(orderWorkflowId(input.orderId));
      const order = env.client.workflow.getHandle(started.workflowId);
      await order.signal(paymentReceivedSignal, paid(input.orderId));
      await until(order, 'paid', '1 second');
      expect(calls).not.toContain('renderPrintFile'); // no art yet: the animation is still running
      gate.released = true;
      const assets: AnimationAssets = await parent.result();
      expect(assets.art).toBe(`animations/${animationId}/cutout.png`);
      await until(order, 'submitted');
      const desc = await order.describe();
      expect(desc.parentExecution?.workflowId).toBe(animationWorkflowId(animationId));
      await order.signal(printerEventSignal, printerEvent(input.orderId, 'delivered'));
      return { view: (await order.result()) as OrderView, animationId };
    });
    expect(view.status).toBe('delivered');
    expect(calls).toContain('renderPrintFile');
    expect(renderedArt).toEqual([`animations/${animationId}/cutout.png`]);
  });

  it('cancels and refunds the order when the animation fails', async () => {
    const gate = { released: false, fail: true };
    const view = await withAnimation(gate, async (animationId) => {
      const parent = env.client.workflow.getHandle(animationWorkflowId(animationId));
      const input = childInput(animationId);
      await parent.executeUpdate(orderStickersUpdate, { args: [input], updateId: input.orderId });
      const order = env.client.workflow.getHandle(orderWorkflowId(input.orderId));
      await order.signal(paymentReceivedSignal, paid(input.orderId));
      await until(order, 'paid', '1 second');
      gate.released = true;
      await expect(parent.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      const status = await parent.query(animationStatusQuery);
      expect(status.refund).toMatchObject({ status: 'refunded' }); // the credit, by the animation
      return (await order.result()) as OrderView;
    });
    expect(view).toMatchObject({ status: 'cancelled', refund: { status: 'refunded' } });
    expect(view.error).toContain('the buddy could not be made');
    expect(payments.refundCalls).toHaveLength(1); // the money, by the order
    expect(calls).not.toContain('renderPrintFile');
  });

  it('refuses an order once the animation has failed', async () => {
    const gate = { released: true, fail: true };
    await withAnimation(gate, async (animationId) => {
      const parent = env.client.workflow.getHandle(animationWorkflowId(animationId));
      await parent.result().catch(() => undefined);
      const input = childInput(animationId);
      const err = await parent.executeUpdate(orderStickersUpdate, { args: [input] }).catch((e: unknown) => e);
      // A closed animation takes no update (the API then reads its status and answers 409).
      expect(err).toBeInstanceOf(WorkflowNotFoundError);
      const started = await env.client.workflow.getHandle(orderWorkflowId(input.orderId)).describe().catch(() => undefined);
      expect(started).toBeUndefined();
    });
  });
});

describe('StickerOrderWorkflow: emails to the shopper, reprints, and an operator retrying a submission', () => {
  const kinds = () => world.emails.map((e) => e.kind);
  // A server of its own: the animation tests above leave parents running without their worker,
  // whose pending tasks stop the shared server from skipping time.
  beforeAll(async () => {
    await env.teardown();
    env = await timeSkippingEnv();
  });

  it('emails the confirmation once paid, the shipment with its tracking, and the delivery — once each, whatever the webhooks repeat', async () => {
    const { view, orderId } = await runOrder(async (h, id) => {
      await h.signal(paymentReceivedSignal, paid(id));
      await h.signal(paymentReceivedSignal, paid(id));
      await until(h, 'submitted');
      await h.signal(printerEventSignal, printerEvent(id, 'shipped', { tracking }));
      await h.signal(printerEventSignal, printerEvent(id, 'shipped', { tracking, eventId: 'evt_again' }));
      await env.sleep('2 days');
      await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
    });
    expect(view.status).toBe('delivered');
    expect(kinds()).toEqual(['order_confirmation', 'order_shipped', 'order_delivered']);
    const base = { to: 'ada@example.com', orderId, name: shipping.name };
    expect(world.emails[0]).toEqual({ ...base, kind: 'order_confirmation', product: orderInput(orderId).product, amountCents: 4099, currency: 'usd', shipping });
    expect(world.emails[1]).toEqual({ ...base, kind: 'order_shipped', tracking });
    expect(world.emails[2]).toEqual({ ...base, kind: 'order_delivered', viewerUrl: orderInput(orderId).viewerUrl });
    // No secret in the workflow's history: the access token is the email activity's to derive.
    expect(JSON.stringify(world.emails)).not.toMatch(/\bot_|#token=|accessToken/);
  });

  it('emails the refund with its amount and the reason, and nothing when nothing was paid', async () => {
    const failed = await runOrder(
      async (h, id) => {
        await h.signal(paymentReceivedSignal, paid(id));
      },
      { activities: { submitPrintOrder: async () => Promise.reject(ApplicationFailure.nonRetryable('country not served', 'PrintRejected')) } },
    );
    expect(failed.view).toMatchObject({ status: 'failed', refund: { status: 'refunded' } });
    expect(kinds()).toEqual(['order_confirmation', 'order_refunded']);
    expect(world.emails[1]).toMatchObject({ kind: 'order_refunded', amountCents: 4099, currency: 'usd', reason: failed.view.error });

    world.emails.length = 0;
    const unpaid = await runOrder(async (h) => {
      await h.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'changed my mind' }] });
    });
    expect(unpaid.view.status).toBe('cancelled');
    expect(kinds()).toEqual([]);
  });

  it('tells the shopper their buddy is ready when the order was paid before the art came', async () => {
    const { view } = await runOrder(
      async (h, id) => {
        await h.signal(paymentReceivedSignal, paid(id));
        await env.sleep('10 minutes');
        expect(kinds()).toEqual(['order_confirmation']);
        await h.signal(artReadySignal, { artKey: 'animations/an_test/cutout.png' });
        await until(h, 'submitted');
        await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
      },
      { input: { artKey: undefined } },
    );
    expect(view.status).toBe('delivered');
    expect(kinds()).toEqual(['order_confirmation', 'buddy_ready', 'order_delivered']);
    expect(world.emails[1]).toMatchObject({ viewerUrl: orderInput('x').viewerUrl });
  });

  it('a reprint goes to the printer without a payment: no checkout, no charge, no refund, no confirmation', async () => {
    const { view, orderId } = await runOrder(
      async (h, id) => {
        await until(h, 'submitted', '1 second');
        await h.signal(printerEventSignal, printerEvent(id, 'shipped', { tracking }));
        await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
      },
      { input: { reprintOf: 'or_theOriginalOrder0000000', payment: { provider: 'local', sessionId: 'none', amountCents: 0, currency: 'usd' } } },
    );
    expect(view).toMatchObject({ status: 'delivered', reprintOf: 'or_theOriginalOrder0000000' });
    expect(view.payment).toBeUndefined();
    expect(view.timeline[1]).toMatchObject({ status: 'paid', note: 'a reprint of or_theOriginalOrder0000000, for no payment' });
    expect(printer.orders.get(orderId)?.submissions).toBe(1);
    expect(payments.refundCalls).toEqual([]);
    expect(payments.expired).toEqual([]);
    expect(kinds()).toEqual(['order_shipped', 'order_delivered']);

    // Cancelled by an operator before it is printed: nothing to refund, and no checkout to close.
    const cancelled = await runOrder(
      async (h) => {
        await h.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'made by mistake' }] });
      },
      { input: { reprintOf: 'or_theOriginalOrder0000000', artKey: undefined, payment: { provider: 'local', sessionId: 'none', amountCents: 0, currency: 'usd' } } },
    );
    expect(cancelled.view).toMatchObject({ status: 'cancelled', refund: { status: 'not_needed' } });
    expect(payments.expired).toEqual([]);
  });

  it("an operator's retry submits at once instead of waiting out the outage's backoff; the attempt waiting is dropped", async () => {
    let attempts = 0;
    let printerBack = false;
    const real = orderActivities().submitPrintOrder!;
    const { view, orderId } = await runOrder(
      async (h, id) => {
        await h.signal(paymentReceivedSignal, paid(id));
        // An outage: five failed attempts, the backoff now minutes long.
        for (let i = 0; i < 200 && attempts < 5; i++) await env.sleep('30 seconds');
        expect(attempts).toBe(5);
        printerBack = true;
        await h.signal(retrySubmissionSignal);
        await until(h, 'submitted', '1 second');
        await h.signal(printerEventSignal, printerEvent(id, 'delivered'));
      },
      {
        activities: {
          submitPrintOrder: async (i) => {
            attempts++;
            if (!printerBack) throw new Error('printer API answered 503');
            return real(i);
          },
        },
      },
    );
    expect(view.status).toBe('delivered');
    expect(attempts).toBe(6); // the fresh attempt; the dropped one never ran again
    expect(printer.orders.get(orderId)?.submissions).toBe(1);
    const retried = view.timeline.find((t) => t.note === 'submission retried now, as an operator asked')!;
    const submitted = view.timeline.find((t) => t.status === 'submitted')!;
    // At once: well inside the next backoff (10 s doubled five times is over 5 minutes).
    expect(Date.parse(submitted.at) - Date.parse(retried.at)).toBeLessThan(30_000);
  });
});
