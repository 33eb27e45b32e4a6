/**
 * StickerOrderWorkflow: a paid order of buddy stickers, from checkout to the customer's door.
 *
 * awaiting_payment (cancels itself at the deadline) → paid (waits for the buddy's art when the
 * animation is still running) → rendering (print file + preflight) → submitted (idempotent, our
 * order id is the printer's external id) → in_production → shipped → delivered, over days of
 * printer webhooks, with a status poll when they go missing and an alert when the order stalls.
 * Printing failed, cancelled by the printer, never shipped, the animation failed: refund once and
 * (for failures) alert the operator. Cancel and address change are updates, accepted until the
 * order goes to the printer.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { Activities } from '../../activities/index.js';
import type { PaymentReceived } from '../../payments/port.js';
import type { PrinterEvent, PrintOrderSnapshot } from '../../print-adapters/port.js';
import type { EmailRequest } from '../../email/messages.js';
import { ALERT, EMAIL, RECORD, REFUND_FIRST_TRY, REFUND_FOR_A_WEEK } from '../shared/activity-options.js';
import { startRecording } from '../shared/recorder.js';
import { describeFailure } from '../shared/paid-work.js';
import { durationMs as ms } from '../shared/duration.js';
import { failureType } from '../shared/failures.js';
import { isoAt, workflowNowIso, workflowNowMs } from '../shared/clock.js';
import {
  animationFailedSignal,
  artReadySignal,
  cancelOrderUpdate,
  changeShippingUpdate,
  ORDER_LOCKED,
  ORDER_PRINTER_ATTRIBUTE,
  ORDER_STATUS_ATTRIBUTE,
  orderStatusQuery,
  paymentReceivedSignal,
  printerEventSignal,
  retrySubmissionSignal,
  TIMING_OF_ORDERS_WITHOUT_IT,
  type OrderInput,
  type OrderRefund,
  type OrderStatus,
  type OrderView,
  type TimelineEntry,
} from './api.js';

/** Rendering and checking the print file: CPU work of seconds; a bad file is final. */
const PRINT_FILE: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 3 },
};

/**
 * Submitting is idempotent at the printer, so an outage is waited out for a day before giving up.
 * An attempt may make five vendor calls of up to 30 s (look up, create, look up, confirm, look
 * up): its timeout leaves room for all of them, so attempts do not overlap.
 */
const SUBMIT: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
};

/** A status poll that cannot reach the printer is skipped; the next poll tries again. */
const POLL: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/** Housekeeping at the vendors (close a checkout, cancel at the printer): keep trying for a day. */
const HOUSEKEEPING: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
};

/** How far the printer has got; events never move an order back down this ladder. */
const STAGE_RANK = { submitted: 0, accepted: 1, in_production: 2, shipped: 3, delivered: 4 } as const;
type Stage = keyof typeof STAGE_RANK;

/** A late payment that was announced (the checkout says paid) but whose webhook has not come yet. */
const LATE_PAYMENT_WAIT: Duration = '1 hour';

export const ORDER_FAILED = 'OrderFailed';

/** Ends the order before it reaches the printer: the outcome and the reason the customer sees. */
class OrderEnded extends Error {
  constructor(
    readonly outcome: 'failed' | 'cancelled',
    readonly reason: string,
    readonly alert: boolean,
  ) {
    super(reason);
  }
}

/** The order's view is written to the database as it moves (`startRecording`), behind this patch. */
const RECORDS_PATCH = 'records-in-database';

/**
 * The shopper is emailed as the order moves (confirmation, buddy ready, shipped, delivered,
 * refunded), behind this patch: orders placed before it send nothing, and replay as they ran.
 */
const EMAILS_PATCH = 'emails-to-shoppers';

/** The workflow itself was cancelled (Temporal UI, CLI): the order ends, refunded, and stopped at the printer. */
const OPERATOR_CANCEL = 'the order was cancelled by an operator (its workflow was cancelled)';

export async function StickerOrderWorkflow(input: OrderInput): Promise<OrderView> {
  // New orders carry their whole timing; older ones fill the gaps with the frozen values they ran with.
  const timing = { ...TIMING_OF_ORDERS_WITHOUT_IT, ...input.timing };
  const printFile = proxyActivities<Activities>({ ...PRINT_FILE, taskQueue: input.taskQueues?.media });
  const submit = proxyActivities<Activities>(SUBMIT);
  const poll = proxyActivities<Activities>(POLL);
  const housekeeping = proxyActivities<Activities>(HOUSEKEEPING);
  const refundNow = proxyActivities<Activities>(REFUND_FIRST_TRY).refundPayment;
  const refundPersistently = proxyActivities<Activities>(REFUND_FOR_A_WEEK).refundPayment;
  const { alertOperator } = proxyActivities<Activities>(ALERT);
  const { recordOrder } = proxyActivities<Activities>(RECORD);
  const { sendEmail } = proxyActivities<Activities>(EMAIL);
  const { orderId } = input;

  let status: OrderStatus = 'awaiting_payment';
  let stage = 'submitted' as Stage;
  const timeline: TimelineEntry[] = [];
  let shipping = input.shipping;
  let artKey = input.artKey;
  let animationFailure: string | undefined;
  let payment: PaymentReceived | undefined;
  let refund: OrderRefund | undefined;
  let error: string | undefined;
  let printFileKey: string | undefined;
  let placed: PrintOrderSnapshot | undefined;
  let tracking: OrderView['tracking'];
  /** Set once the order goes to the printer: from then on no cancel, no address change. */
  let locked = false;
  let cancelReason: string | undefined;
  /** An operator asked (retrySubmission) for the submission to start again now. */
  let retrySubmission = false;
  const seenEvents = new Set<string>();
  const extraPayments = new Set<string>();
  const inbox: PrinterEvent[] = [];
  const beforePrinter = new CancellationScope();

  const record = (to: OrderStatus, note?: string) => {
    if (input.indexed && to !== status) upsertSearchAttributes([{ key: ORDER_STATUS_ATTRIBUTE, value: to }]);
    status = to;
    timeline.push({ at: workflowNowIso(), status: to, note });
  };
  if (input.indexed) {
    upsertSearchAttributes([
      { key: ORDER_STATUS_ATTRIBUTE, value: status },
      { key: ORDER_PRINTER_ATTRIBUTE, value: input.printerId },
    ]);
  }
  const view = (): OrderView => ({
    orderId,
    animationId: input.animationId,
    status,
    timeline,
    product: input.product,
    shipping,
    printFileKey,
    printerId: input.printerId,
    vendorOrderId: placed?.vendorOrderId,
    tracking,
    payment: payment && {
      paymentIntentId: payment.paymentIntentId,
      amountCents: payment.amountCents,
      currency: payment.currency,
      paidAt: payment.paidAt,
    },
    refund,
    error,
    reprintOf: input.reprintOf,
  });
  const isOver = () => status === 'failed' || status === 'cancelled' || status === 'delivered';
  const refuseWhenLocked = () => {
    if (locked || isOver()) {
      throw ApplicationFailure.create({
        type: ORDER_LOCKED,
        message: isOver() ? `the order is already ${status}` : 'the order is already at the printer',
        nonRetryable: true,
      });
    }
  };

  record('awaiting_payment', 'order placed');
  setHandler(orderStatusQuery, view);
  const recording = patched(RECORDS_PATCH) ? startRecording(view, (seq, v) => recordOrder({ orderId, seq, view: v })) : undefined;
  const emailsOn = patched(EMAILS_PATCH);
  /** Emails on their way: they never hold the order up, and the run waits for them before it ends. */
  const outgoing: Promise<void>[] = [];
  type EmailOf<K extends EmailRequest['kind']> = Omit<Extract<EmailRequest, { kind: K }>, 'to' | 'orderId' | 'name' | 'kind'>;
  const email = <K extends EmailRequest['kind']>(kind: K, fields: EmailOf<K>) => {
    if (!emailsOn) return;
    const request = { kind, to: input.email, orderId, name: shipping.name, ...fields } as EmailRequest;
    outgoing.push(
      CancellationScope.nonCancellable(() => sendEmail(request)).then(
        () => undefined,
        (err: unknown) => log.warn('an email to the shopper could not be sent', { kind, error: describeFailure(err) }),
      ),
    );
  };
  setHandler(paymentReceivedSignal, async (p) => {
    if (!payment) {
      payment = p;
      return;
    }
    if (p.paymentIntentId === payment.paymentIntentId || extraPayments.has(p.paymentIntentId)) return;
    // Paid twice (two checkout sessions): the order keeps the first payment, the second goes back.
    extraPayments.add(p.paymentIntentId);
    await CancellationScope.nonCancellable(() =>
      refundOnce(p, `refund:order:${orderId}:${p.paymentIntentId}`, 'a second payment for the same order'),
    ).catch((err: unknown) => alert('refund', `REFUND FAILED for a second payment ${p.paymentIntentId}, refund by hand: ${describeFailure(err)}`));
  });
  setHandler(printerEventSignal, (e) => {
    if (e.orderId !== orderId || seenEvents.has(e.eventId)) return;
    seenEvents.add(e.eventId);
    inbox.push(e);
  });
  setHandler(artReadySignal, ({ artKey: key }) => {
    artKey ??= key;
  });
  setHandler(animationFailedSignal, ({ reason }) => {
    animationFailure ??= reason;
  });
  setHandler(retrySubmissionSignal, () => {
    retrySubmission = true;
  });
  setHandler(
    cancelOrderUpdate,
    async ({ reason }) => {
      cancelReason ??= reason?.trim() || 'cancelled by the customer';
      beforePrinter.cancel();
      await condition(() => status === 'cancelled' || locked);
      // Answer with the refund's state when it is known quickly (closing the checkout, a refund
      // that goes through); a slow provider is not worth holding the customer's request for.
      if (status === 'cancelled') await condition(() => refund !== undefined, '30 seconds');
      return view();
    },
    { validator: (_req) => refuseWhenLocked() },
  );
  setHandler(
    changeShippingUpdate,
    (address) => {
      shipping = address;
      timeline.push({ at: workflowNowIso(), status, note: 'shipping address changed' });
      return view();
    },
    {
      validator: (address) => {
        refuseWhenLocked();
        for (const field of ['name', 'line1', 'city', 'postalCode', 'country'] as const) {
          if (typeof address?.[field] !== 'string' || !address[field].trim()) {
            throw ApplicationFailure.nonRetryable(`shipping.${field} is required`, 'InvalidAddress');
          }
        }
      },
    },
  );

  /**
   * Refunds one payment under a stable key, trying for a week; `onPending` hears when the first
   * ten minutes were not enough. Throws when even the week was not.
   */
  const refundOnce = async (p: PaymentReceived, idempotencyKey: string, why: string, onPending?: (error: string) => Promise<void>) => {
    const req = { provider: input.payment.provider, paymentIntentId: p.paymentIntentId, amountCents: p.amountCents, idempotencyKey, reason: why };
    try {
      return await refundNow(req);
    } catch (err) {
      await onPending?.(describeFailure(err));
    }
    return refundPersistently(req);
  };

  /** Refunds the order's payment once (stable key); the operator hears if it lags or fails, the shopper when it is done. */
  const refundPayment = async (ending: OrderEnded): Promise<void> => {
    const why = `order ${ending.outcome}: ${ending.reason}`;
    if (!payment) {
      refund = { status: 'not_needed' };
      return;
    }
    try {
      const r = await refundOnce(payment, `refund:order:${orderId}`, why, async (pending) => {
        refund = { status: 'pending', error: pending };
        await alert('refund', `refund not done yet: ${pending}`);
      });
      refund = { status: 'refunded', refundId: r.refundId, amountCents: r.amountCents };
      email('order_refunded', { amountCents: r.amountCents, currency: payment.currency, reason: ending.reason });
    } catch (err) {
      refund = { status: 'failed', error: describeFailure(err) };
      await alert('refund', `REFUND FAILED, refund by hand: ${refund.error}`);
    }
  };

  const describeRefund = () =>
    refund?.status === 'refunded'
      ? `refunded ${(refund.amountCents / 100).toFixed(2)} ${input.payment.currency.toUpperCase()}`
      : refund?.status === 'not_needed'
        ? 'nothing was paid, so nothing to refund'
        : refund
          ? `refund ${refund.status}`
          : 'no refund: the order is still open';

  const alert = async (failedStep: string, message: string) => {
    try {
      await alertOperator({ title: `Sticker order ${orderId}: ${failedStep}`, failedStep, error: message, refund: describeRefund() });
    } catch (err) {
      log.error('operator alert could not be delivered', { error: describeFailure(err) });
    }
  };

  /** The order ends badly: close the checkout, refund what was paid, tell the operator when it is our problem. */
  const finish = async (ending: OrderEnded): Promise<OrderView> => {
    error = ending.reason;
    record(ending.outcome, ending.reason);
    await CancellationScope.nonCancellable(async () => {
      if (locked && ending.reason === OPERATOR_CANCEL) {
        const stopped = await housekeeping.cancelPrintOrder({ printerId: input.printerId, orderId }).catch(() => false);
        if (!stopped) timeline.push({ at: workflowNowIso(), status, note: 'the printer could not cancel it: it may still be printed' });
      }
      if (!payment && !locked && !input.reprintOf) {
        try {
          const checkout = await housekeeping.expireCheckout({ provider: input.payment.provider, sessionId: input.payment.sessionId });
          // The customer paid as the order ended: its webhook is on the way; refund it when it lands.
          if (checkout === 'already_paid') await condition(() => payment !== undefined, LATE_PAYMENT_WAIT);
        } catch (err) {
          await alert('close checkout', `the checkout could not be closed: ${describeFailure(err)}`);
        }
      }
      await refundPayment(ending);
      if (ending.alert) await alert(ending.outcome === 'failed' ? `order failed while ${lastActive}` : 'order cancelled', ending.reason);
      // A payment that raced the refund decision is refunded too: nobody pays for nothing.
      if (payment && refund?.status === 'not_needed') await refundPayment(ending);
    });
    if (ending.outcome === 'failed') {
      throw ApplicationFailure.create({ type: ORDER_FAILED, message: ending.reason, nonRetryable: true, details: [view()] });
    }
    return view();
  };
  let lastActive: OrderStatus = status;

  try {
    return await fulfil();
  } catch (err) {
    if (isCancellation(err) && !isOver()) return await finish(new OrderEnded('cancelled', OPERATOR_CANCEL, true));
    throw err;
  } finally {
    // A second payment's refund runs in its signal handler: let it finish; and the emails go.
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    await CancellationScope.nonCancellable(() => Promise.all(outgoing));
    await recording?.flush();
  }

  /**
   * Submits the order, retrying through an outage; when an operator asks (retrySubmission), the
   * attempt waiting out its backoff is cancelled and a fresh one starts at once.
   */
  async function submitToPrinter(): Promise<PrintOrderSnapshot> {
    const request = { printerId: input.printerId, orderId, printFileKey: printFileKey!, product: input.product, shipping, email: input.email };
    for (;;) {
      retrySubmission = false;
      const attempt = new CancellationScope();
      const submitted = attempt.run(() => submit.submitPrintOrder(request));
      let settled = false;
      const outcome = await Promise.race([
        submitted.then(
          (placed) => ({ placed }),
          (error: unknown) => ({ error }),
        ),
        condition(() => retrySubmission || settled).then(() => 'retry' as const),
      ]);
      settled = true;
      if (outcome !== 'retry') {
        if ('error' in outcome) throw outcome.error;
        return outcome.placed;
      }
      attempt.cancel();
      await submitted.catch(() => undefined);
      timeline.push({ at: workflowNowIso(), status, note: 'submission retried now, as an operator asked' });
    }
  }

  async function fulfil(): Promise<OrderView> {
    // 1. Payment, art and print file: all cancellable by the customer.
    try {
      await beforePrinter.run(async () => {
        if (input.reprintOf) {
          record('paid', `a reprint of ${input.reprintOf}, for no payment`);
        } else {
          await condition(() => payment !== undefined || animationFailure !== undefined, timing.paymentDeadline);
          if (!payment) {
            if (animationFailure !== undefined) throw new OrderEnded('cancelled', `the buddy could not be made: ${animationFailure}`, false);
            throw new OrderEnded('cancelled', 'not paid before the payment deadline', false);
          }
          record('paid', `paid ${(payment.amountCents / 100).toFixed(2)} ${payment.currency.toUpperCase()}`);
          email('order_confirmation', { product: input.product, amountCents: payment.amountCents, currency: payment.currency, shipping });
        }
        if (!artKey) {
          await condition(() => artKey !== undefined || animationFailure !== undefined, timing.artDeadline);
          if (animationFailure !== undefined) throw new OrderEnded('cancelled', `the buddy could not be made: ${animationFailure}`, false);
          if (!artKey) throw new OrderEnded('failed', 'the buddy was not ready in time to print', true);
          email('buddy_ready', { viewerUrl: input.viewerUrl });
        }
        record('rendering');
        lastActive = 'rendering';
        const spec = { orderId, artKey, product: input.product, viewerUrl: input.viewerUrl };
        try {
          ({ printFileKey } = await printFile.renderPrintFile(spec));
          await printFile.preflightPrintFile({ ...spec, printFileKey });
        } catch (err) {
          if (isCancellation(err)) throw err;
          throw new OrderEnded('failed', `the print file could not be made: ${describeFailure(err)}`, true);
        }
      });
    } catch (err) {
      if (err instanceof OrderEnded) return finish(err);
      if (isCancellation(err) && cancelReason !== undefined) return finish(new OrderEnded('cancelled', cancelReason, false));
      throw err;
    }
    if (cancelReason !== undefined) return finish(new OrderEnded('cancelled', cancelReason, false));

    // 2. To the printer. From here on the order can only be cancelled by the printer.
    locked = true;
    lastActive = 'submitted';
    try {
      placed = await submitToPrinter();
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (failureType(err) === 'PrintRejected') return finish(new OrderEnded('failed', `the printer refused the order: ${describeFailure(err)}`, true));
      // A day of outage. An attempt whose answer was lost may still have placed the order: stop it
      // there before refunding, or follow it if the printer can no longer stop it.
      const unreachable = `the printer could not be reached: ${describeFailure(err)}`;
      const stopped = await CancellationScope.nonCancellable(() => housekeeping.cancelPrintOrder({ printerId: input.printerId, orderId })).catch(() => undefined);
      if (stopped !== false) {
        return finish(new OrderEnded('failed', stopped ? unreachable : `${unreachable} (and whether it holds the order is unknown)`, true));
      }
      placed = (await poll.fetchPrinterStatus({ printerId: input.printerId, orderId }).catch(() => null)) ?? undefined;
      if (!placed) return finish(new OrderEnded('failed', `${unreachable} (it could not cancel the order, nor show it)`, true));
      await alert('submission', `${unreachable}; but the printer has the order and cannot cancel it, so it is followed as submitted`);
    }
    record('submitted', `submitted to ${input.printerId} as ${placed.vendorOrderId}`);

    // 3. Days of waiting for the printer, polling when webhooks go missing.
    const submittedAt = workflowNowMs();
    let lastProgressAt = submittedAt;
    let shippedAt: number | undefined;
    let stallAlertedAt: Stage | undefined;
    let printerOutcome = undefined as Pick<PrinterEvent, 'type' | 'reason'> | undefined;
    let shipDeadlineExtended = false;

    const apply = (e: Pick<PrinterEvent, 'type' | 'tracking' | 'reason'>, via: string) => {
      if (e.type === 'failed' || e.type === 'cancelled') {
        if (STAGE_RANK[stage] >= STAGE_RANK.shipped) {
          timeline.push({ at: workflowNowIso(), status, note: `ignored a late "${e.type}" from the printer (${via}): the order has shipped` });
        } else {
          printerOutcome ??= e;
        }
        return;
      }
      if (STAGE_RANK[e.type] <= STAGE_RANK[stage]) return; // a duplicate or a late arrival: never backwards
      stage = e.type;
      lastProgressAt = workflowNowMs();
      if (e.tracking) tracking = e.tracking;
      if (e.type === 'shipped' || e.type === 'delivered') shippedAt ??= lastProgressAt;
      const note = e.type === 'accepted' ? `accepted by the printer (${via})` : via;
      record(e.type === 'accepted' ? 'submitted' : e.type, note);
      lastActive = status;
      if (e.type === 'shipped' && tracking) email('order_shipped', { tracking });
      if (e.type === 'delivered') email('order_delivered', { viewerUrl: input.viewerUrl });
    };
    const snapshotEvent = (p: PrintOrderSnapshot) => (p.type ? { type: p.type, tracking: p.tracking, reason: p.reason } : undefined);
    const onSubmission = snapshotEvent(placed);
    if (onSubmission) apply(onSubmission, 'on submission');

    while (stage !== 'delivered' && !printerOutcome) {
      const now = workflowNowMs();
      const deadline = shippedAt !== undefined ? shippedAt + ms(timing.deliveryWait) : submittedAt + ms(timing.shipDeadline) * (shipDeadlineExtended ? 2 : 1);
      // Stalls are the printer's; once shipped, the carrier has until the delivery wait.
      const stallAt = stallAlertedAt === stage || shippedAt !== undefined ? Infinity : lastProgressAt + ms(timing.stallAfter);
      const wait = Math.max(1, Math.min(ms(timing.statusPollInterval), deadline - now, stallAt - now));
      if (await condition(() => inbox.length > 0, wait)) {
        for (const e of inbox.splice(0)) apply(e, 'webhook');
        continue;
      }
      const at = workflowNowMs();
      if (at >= deadline) {
        if (shippedAt !== undefined) {
          timeline.push({ at: workflowNowIso(), status, note: 'no delivery confirmation from the carrier; stopped waiting' });
          return view();
        }
        // Never shipped: stop the printer if it still can, give the money back, tell the operator.
        const late = `not shipped within ${shipDeadlineExtended ? 'twice ' : ''}${timing.shipDeadline} of submission`;
        const stopped = await CancellationScope.nonCancellable(() => housekeeping.cancelPrintOrder({ printerId: input.printerId, orderId })).catch(
          (err: unknown) => (log.warn('the printer could not cancel the order', { error: describeFailure(err) }), undefined),
        );
        if (stopped === false && !shipDeadlineExtended) {
          // Too late to cancel: it is being printed. Refunding now would give the stickers away.
          shipDeadlineExtended = true;
          await alert(`late at ${stage}`, `${late}, and the printer can no longer cancel it: waiting as long again before refunding`);
          continue;
        }
        return finish(new OrderEnded('failed', stopped === false ? `${late}, and the printer could not cancel it` : late, true));
      }
      if (at >= stallAt) {
        stallAlertedAt = stage;
        await alert(`stalled at ${stage}`, `no progress at the printer since ${isoAt(lastProgressAt)}`);
      }
      try {
        const snapshot = await poll.fetchPrinterStatus({ printerId: input.printerId, orderId });
        const polled = snapshot && snapshotEvent(snapshot);
        if (polled) apply(polled, 'status poll');
      } catch (err) {
        log.warn('printer status poll failed; the next one will try again', { error: describeFailure(err) });
      }
    }

    if (!printerOutcome && !tracking) {
      // Delivered before any "shipped" with tracking came: ask the printer once for it.
      const snapshot = await poll.fetchPrinterStatus({ printerId: input.printerId, orderId }).catch(() => null);
      tracking = snapshot?.tracking;
    }
    if (printerOutcome) {
      const what = printerOutcome.type === 'failed' ? 'the printer could not print the order' : 'the printer cancelled the order';
      return finish(
        new OrderEnded(printerOutcome.type === 'failed' ? 'failed' : 'cancelled', `${what}${printerOutcome.reason ? `: ${printerOutcome.reason}` : ''}`, true),
      );
    }
    return view();
  }
}
