/**
 * A scripted world for sticker order workflows: an in-memory printer and payment provider behind
 * the real activity names, recording every call. The adapters themselves are tested against
 * their fakes elsewhere; this is for testing orchestration (workflows, routes) quickly.
 */
import { createAlertActivities } from '../../src/activities/alerts.js';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities, AnimationActivities } from '../../src/activities/index.js';
import { emailIdempotencyKey, type EmailRequest } from '../../src/email/messages.js';
import type { PaymentReceived } from '../../src/payments/port.js';
import type { PrinterEvent, PrinterEventType, PrintOrderSnapshot } from '../../src/print-adapters/port.js';
import type { OrderInput, OrderView } from '../../src/workflows/sticker-order/api.js';
import { RecordingAlertChannel } from './recording-alerts.js';

/** The printer as the workflow's activities see it: orders by our id, their stage, a cancel switch. */
export class FakePrinter {
  readonly orders = new Map<string, { submissions: number; shipping: OrderInput['shipping']; type?: PrinterEventType; tracking?: PrinterEvent['tracking'] }>();
  cancellable = true;
  snapshot(orderId: string): PrintOrderSnapshot | null {
    const o = this.orders.get(orderId);
    return o ? { orderId, vendorOrderId: `pv_${orderId}`, type: o.type, tracking: o.tracking } : null;
  }
  set(orderId: string, type: PrinterEventType, tracking?: PrinterEvent['tracking']) {
    const o = this.orders.get(orderId)!;
    o.type = type;
    o.tracking = tracking ?? o.tracking;
  }
}

/** Refunds by payment: the same payment is never refunded twice, whatever the key. */
export class FakePayments {
  readonly refunds = new Map<string, { key: string; amountCents: number }>();
  readonly refundCalls: string[] = [];
  expireAnswer: 'expired' | 'already_paid' = 'expired';
  readonly expired: string[] = [];
}

export class OrderWorld {
  readonly alerts = new RecordingAlertChannel();
  readonly calls: string[] = [];
  readonly renderedArt: string[] = [];
  readonly printer = new FakePrinter();
  readonly payments = new FakePayments();
  /** The emails the workflows asked for, in order (what the email activity would send once each). */
  readonly emails: EmailRequest[] = [];
  /** The view each order last recorded (what the orders table would hold). */
  readonly records = new Map<string, OrderView>();
  private readonly recordSeqs = new Map<string, number>();

  /** The order workflow's activities (and the alert activity), scripted; `overrides` replace single ones. */
  activities(overrides: Partial<Activities> = {}): Partial<Activities> {
    const { calls, printer, payments } = this;
    const rec = <A extends unknown[], R>(name: string, fn: (...a: A) => Promise<R>) => async (...a: A) => {
      calls.push(name);
      return fn(...a);
    };
    return {
      ...createAlertActivities({ channels: [this.alerts], temporalUiUrl: 'http://ui', namespace: 'default' }),
      // The records the workflows write as they move: the latest of each order (not in `calls`).
      recordOrder: async (i) => {
        const seen = this.recordSeqs.get(i.orderId) ?? 0;
        if (i.seq > seen) this.records.set(i.orderId, i.view);
        this.recordSeqs.set(i.orderId, Math.max(seen, i.seq));
      },
      recordAnimation: async () => undefined,
      sendEmail: async (request) => {
        const key = emailIdempotencyKey(request);
        const alreadySent = this.emails.some((e) => emailIdempotencyKey(e) === key);
        if (!alreadySent) this.emails.push(request);
        return { messageId: `<${key}@test>`, duplicate: false, alreadySent, idempotencyKey: key };
      },
      renderPrintFile: rec('renderPrintFile', async (i) => {
        this.renderedArt.push(i.artKey);
        return { printFileKey: `orders/${i.orderId}/print.pdf`, bytes: 1234 };
      }),
      preflightPrintFile: rec('preflightPrintFile', async () => ({ checks: ['pageSize', 'dpi', 'contour', 'qr'] })),
      submitPrintOrder: rec('submitPrintOrder', async (i) => {
        const existing = printer.orders.get(i.orderId);
        if (existing) existing.submissions++;
        else printer.orders.set(i.orderId, { submissions: 1, shipping: i.shipping });
        return printer.snapshot(i.orderId)!;
      }),
      fetchPrinterStatus: rec('fetchPrinterStatus', async (i) => printer.snapshot(i.orderId)),
      cancelPrintOrder: rec('cancelPrintOrder', async (i) => {
        if (!printer.cancellable) return false;
        printer.set(i.orderId, 'cancelled');
        return true;
      }),
      expireCheckout: rec('expireCheckout', async (i) => {
        payments.expired.push(i.sessionId);
        return payments.expireAnswer;
      }),
      refundPayment: rec('refundPayment', async (i) => {
        payments.refundCalls.push(i.idempotencyKey);
        const existing = payments.refunds.get(i.paymentIntentId) ?? { key: i.idempotencyKey, amountCents: i.amountCents };
        payments.refunds.set(i.paymentIntentId, existing);
        return { refundId: `re_${i.paymentIntentId}`, status: 'succeeded' as const, amountCents: existing.amountCents };
      }),
      ...overrides,
    };
  }
}

export const shipping = { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' };

export function orderInput(orderId: string, extra: Partial<OrderInput> = {}): OrderInput {
  return {
    orderId,
    animationId: 'an_test',
    product: { shape: 'die-cut', sizeInches: 3, quantity: 10 },
    shipping,
    email: 'ada@example.com',
    printerId: 'sim',
    viewerUrl: 'http://localhost:3000/a/v_token',
    payment: { provider: 'local', sessionId: `cs_${orderId}`, amountCents: 4099, currency: 'usd' },
    artKey: 'animations/an_test/cutout.png',
    ...extra,
  };
}

export const paid = (orderId: string, eventId = `evt_${orderId}`): PaymentReceived => ({
  eventId,
  orderId,
  sessionId: `cs_${orderId}`,
  paymentIntentId: `pi_${orderId}`,
  amountCents: 4099,
  currency: 'usd',
  paidAt: '2026-11-21T10:00:00.000Z',
});

let eventSeq = 0;
export const printerEvent = (orderId: string, type: PrinterEventType, extra: Partial<PrinterEvent> = {}): PrinterEvent => ({
  eventId: `pe_${++eventSeq}`,
  orderId,
  type,
  at: '2026-11-21T10:00:00.000Z',
  ...extra,
});

/** An animation pipeline whose job stays at the provider until `gate.released`, so orders arrive while it runs. */
export function gatedAnimation(gate: { released: boolean; fail?: boolean }): AnimationActivities {
  return {
    moderatePhoto: async () => ({ safe: true, scores: { Neutral: 0.99 } }),
    analyzePhoto: async () => ({ framing: 'full_body' as const, box: { left: 0, top: 0, width: 100, height: 300 }, subjects: 1 }),
    cartoonizePhoto: async (i) => ({ imageKey: `animations/${i.animationId}/cartoon.png` }),
    expandToFullBody: async (i) => ({ imageKey: `animations/${i.animationId}/cartoon-full-body.png` }),
    segmentImage: async (i) => ({ cutoutKey: `animations/${i.animationId}/cutout.png`, coverage: 0.4 }),
    submitAnimation: async (i) => ({ backend: 'test', jobId: `job-${i.animationId}` }),
    pollAnimation: async () => {
      while (!gate.released) await new Promise((r) => setTimeout(r, 20));
      if (gate.fail) throw ApplicationFailure.nonRetryable('the provider lost the job', 'AnimationJobFailed');
      return { polls: 1 };
    },
    fetchAnimationFrames: async (i) => ({ prefix: `animations/${i.animationId}/frames`, count: 120, fps: 24, width: 512, height: 512 }),
    transcodeAnimation: async (i) => ({ key: `animations/${i.animationId}/buddy.${i.format}`, bytes: 1 }),
    renderPoster: async (i) => ({ key: `animations/${i.animationId}/poster.png`, bytes: 1 }),
    discardAnimationFiles: async () => ({ deleted: 0 }),
  };
}
