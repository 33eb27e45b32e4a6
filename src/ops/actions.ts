/**
 * The operator's actions (port.ts), carried out through Temporal: a cancellation or a signal to
 * the order's workflow while it runs; a workflow of its own for what comes after it has ended (a
 * refund, an email sent again); a new order workflow for a reprint. Each request id is claimed
 * once in `ops_actions` before anything is done, and its result kept there.
 */
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { AnimationRepository } from '../animations/repository.js';
import { queryStatus } from '../api/animations.js';
import type { Database } from '../db/database.js';
import { emailIdempotencyKey, type EmailRequest } from '../email/messages.js';
import { EMAIL_KINDS, type EmailKind } from '../email/port.js';
import { SentEmails } from '../email/sent-emails.js';
import { formatAmount } from '../orders/catalog.js';
import type { OrderRecord, OrderRepository } from '../orders/repository.js';
import {
  OPERATOR_REFUND_WORKFLOW_TYPE,
  operatorRefundWorkflowId,
  RESEND_EMAIL_WORKFLOW_TYPE,
  resendEmailWorkflowId,
  type OperatorRefundInput,
  type ResendEmailInput,
} from '../workflows/operator/api.js';
import {
  cancelOrderUpdate,
  DEFAULT_ORDER_TIMING,
  ORDER_LOCKED,
  orderWorkflowId,
  retrySubmissionSignal,
  STICKER_ORDER_WORKFLOW_TYPE,
  type OrderInput,
  type OrderView,
} from '../workflows/sticker-order/api.js';
import { failureType } from '../workflows/shared/failures.js';
import { OpsActionRefused, type AvailableAction, type OpsActionKind, type OpsActionRequest, type OpsActionResult, type OpsActions } from './port.js';

export interface TemporalOpsActionsDeps {
  temporal: Client;
  db: Database;
  orders: OrderRepository;
  animations: AnimationRepository;
  taskQueue: string;
  mediaTaskQueue?: string;
  publicUrl: string;
  /** As the order routes' `indexOrders`. */
  indexOrders?: boolean;
}

/** What the order's workflow is doing now, from Temporal (undefined: it has ended or is gone). */
interface Live {
  running: boolean;
  /** The submission is being retried through a printer outage. */
  submitting?: { attempt: number; lastFailure?: string };
}

/** An order's emails that were sent, by kind, and how many copies were resent. */
interface SentKinds {
  sent: Set<EmailKind>;
  resends: Map<EmailKind, number>;
}

export class TemporalOpsActions implements OpsActions {
  constructor(private readonly deps: TemporalOpsActionsDeps) {}

  async available(orderId: string): Promise<AvailableAction[] | undefined> {
    const order = await this.deps.orders.get(orderId);
    if (!order) return undefined;
    const live = await this.live(order.id);
    const sent = await this.sentKinds(order.id);
    return (['refund', 'cancel', 'retry_submission', 'resend_email', 'reprint'] as const).map((action) => {
      const why = this.whyNot(action, order, live, sent);
      return why ? { action, available: false, why } : { action, available: true };
    });
  }

  refund(request: OpsActionRequest): Promise<OpsActionResult> {
    return this.once('refund', request, async (order, live) => {
      this.refuseUnless('refund', order, live);
      const view = order.view!;
      const payment = view.payment!;
      const input: OperatorRefundInput = {
        orderId: order.id,
        provider: order.paymentProvider,
        paymentIntentId: payment.paymentIntentId,
        amountCents: payment.amountCents,
        currency: payment.currency,
        reason: request.reason?.trim() || 'refunded by our support team',
        email: order.email,
        name: view.shipping.name,
      };
      await this.deps.temporal.workflow.start(OPERATOR_REFUND_WORKFLOW_TYPE, {
        workflowId: operatorRefundWorkflowId(order.id),
        taskQueue: this.deps.taskQueue,
        args: [input],
        // A refund that failed may be asked for again; one that is running or done may not.
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      });
      return { outcome: 'started', message: `refunding ${formatAmount(payment.amountCents, payment.currency)}: the order's page shows it once done` };
    });
  }

  cancel(request: OpsActionRequest): Promise<OpsActionResult> {
    return this.once('cancel', request, async (order, live) => {
      this.refuseUnless('cancel', order, live);
      const handle = this.deps.temporal.workflow.getHandle(orderWorkflowId(order.id));
      const reason = request.reason?.trim() || 'cancelled by our support team';
      try {
        // Before the printer: the workflow's own cancel (closes the checkout or refunds), with the reason.
        const view = await handle.executeUpdate(cancelOrderUpdate, { args: [{ reason }], updateId: `ops:${request.requestId}` });
        return { outcome: view.status === 'cancelled' ? 'done' : 'started', message: `cancelled: ${describeRefund(view)}` };
      } catch (err) {
        if (!(err instanceof WorkflowUpdateFailedError && failureType(err) === ORDER_LOCKED)) throw err;
      }
      // At the printer: cancelling the workflow stops the order there (if it still can) and refunds it.
      await handle.cancel();
      return { outcome: 'started', message: 'cancelling at the printer and refunding: the order’s page shows how it went' };
    });
  }

  retrySubmission(request: OpsActionRequest): Promise<OpsActionResult> {
    return this.once('retry_submission', request, async (order, live) => {
      this.refuseUnless('retry_submission', order, live);
      await this.deps.temporal.workflow.getHandle(orderWorkflowId(order.id)).signal(retrySubmissionSignal);
      return { outcome: 'started', message: `submitting again now (it had tried ${live.submitting!.attempt} times)` };
    });
  }

  resendEmail(request: OpsActionRequest & { kind: EmailKind }): Promise<OpsActionResult> {
    return this.once('resend_email', request, async (order, live) => {
      const sent = await this.sentKinds(order.id);
      if (!EMAIL_KINDS.includes(request.kind)) throw new OpsActionRefused(`no email of kind ${request.kind}`);
      const why = this.whyNot('resend_email', order, live, sent) ?? (sent.sent.has(request.kind) ? undefined : `no ${label(request.kind)} email was sent for this order`);
      if (why) throw new OpsActionRefused(why);
      const resend = (sent.resends.get(request.kind) ?? 0) + 1;
      const email = await this.emailFor(order, request.kind, resend);
      await this.deps.temporal.workflow.start(RESEND_EMAIL_WORKFLOW_TYPE, {
        workflowId: resendEmailWorkflowId(emailIdempotencyKey(email)),
        taskQueue: this.deps.taskQueue,
        args: [email],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
      return { outcome: 'started', message: `sending the ${label(request.kind)} email to ${order.email} again`, email: { kind: request.kind, resend } };
    });
  }

  reprint(request: OpsActionRequest): Promise<OpsActionResult> {
    return this.once('reprint', request, async (order, live) => {
      this.refuseUnless('reprint', order, live);
      const view = order.view!;
      const animation = await this.deps.animations.get(order.animationId);
      if (!animation) throw new OpsActionRefused('the buddy of this order is gone: nothing to reprint');
      const buddy = await queryStatus(this.deps.temporal, animation.id, animation.status);
      const artKey = buddy.assets?.art ?? buddy.assets?.poster;
      if (!artKey) throw new OpsActionRefused('the buddy has no art to print');
      const { record } = await this.deps.orders.create({
        animationId: order.animationId,
        email: order.email,
        printerId: order.printerId,
        paymentProvider: order.paymentProvider,
        amountCents: 0,
        currency: order.currency,
        reprintOf: order.id,
      });
      const input: OrderInput = {
        orderId: record.id,
        animationId: order.animationId,
        product: view.product,
        shipping: view.shipping,
        email: order.email,
        printerId: order.printerId,
        viewerUrl: `${this.deps.publicUrl}/a/${animation.viewerToken}`,
        payment: { provider: order.paymentProvider, sessionId: 'none', amountCents: 0, currency: order.currency },
        artKey,
        reprintOf: order.id,
        timing: { ...DEFAULT_ORDER_TIMING },
        taskQueues: this.deps.mediaTaskQueue && this.deps.mediaTaskQueue !== this.deps.taskQueue ? { media: this.deps.mediaTaskQueue } : undefined,
        ...(this.deps.indexOrders && { indexed: true }),
      };
      try {
        await this.deps.temporal.workflow.start(STICKER_ORDER_WORKFLOW_TYPE, {
          workflowId: orderWorkflowId(record.id),
          taskQueue: this.deps.taskQueue,
          args: [input],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        });
      } catch (err) {
        await this.deps.orders.delete(record.id).catch(() => undefined);
        throw err;
      }
      return { outcome: 'started', message: 'the reprint is on its way to the printer, for no payment', newOrderId: record.id };
    });
  }

  /** Why `action` does not apply to the order now, or undefined when it does. */
  private whyNot(action: OpsActionKind, order: OrderRecord, live: Live, sent: SentKinds): string | undefined {
    const view = order.view;
    switch (action) {
      case 'refund':
        if (live.running) return 'the order is still open: cancel it instead (that refunds it)';
        if (!view) return 'the order has no record to refund from';
        if (!view.payment) return 'nothing was paid for this order';
        if (view.refund?.status === 'refunded') return 'the order has been refunded already';
        return undefined;
      case 'cancel':
        return live.running ? undefined : 'the order has ended';
      case 'retry_submission':
        if (!live.running) return 'the order has ended';
        return live.submitting ? undefined : 'the order is not waiting on the printer to take it';
      case 'resend_email':
        return sent.sent.size ? undefined : 'no email was sent for this order';
      case 'reprint':
        if (live.running) return 'the order is still open';
        if (!view || !['delivered', 'shipped'].includes(view.status)) return 'only an order that was shipped can be reprinted';
        return undefined;
    }
  }

  private refuseUnless(action: OpsActionKind, order: OrderRecord, live: Live) {
    const why = this.whyNot(action, order, live, { sent: new Set(EMAIL_KINDS), resends: new Map() });
    if (why) throw new OpsActionRefused(why);
  }

  /** Claims the request id, does the action once, keeps its result; a repeated id answers the first result. */
  private async once(
    action: OpsActionKind,
    request: OpsActionRequest,
    act: (order: OrderRecord, live: Live) => Promise<Pick<OpsActionResult, 'outcome' | 'message' | 'newOrderId' | 'email'>>,
  ): Promise<OpsActionResult> {
    const order = await this.deps.orders.get(request.orderId);
    if (!order) throw new OpsActionRefused(`no order ${request.orderId}`);
    const claimed = await this.deps.db.query(
      `INSERT INTO ops_actions (request_id, action, order_id, actor, reason) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING RETURNING 1`,
      [request.requestId, action, order.id, request.actor, request.reason ?? null],
    );
    if (!claimed.length) return this.repeated(action, request);
    try {
      const done = await act(order, await this.live(order.id));
      const result: OpsActionResult = { action, orderId: order.id, requestId: request.requestId, at: new Date().toISOString(), ...done };
      await this.deps.db.query('UPDATE ops_actions SET result = $2 WHERE request_id = $1', [request.requestId, JSON.stringify(result)]);
      return result;
    } catch (err) {
      // Nothing was done: the same request may be made again once whatever stopped it is fixed.
      await this.deps.db.query('DELETE FROM ops_actions WHERE request_id = $1', [request.requestId]);
      throw err;
    }
  }

  private async repeated(action: OpsActionKind, request: OpsActionRequest): Promise<OpsActionResult> {
    const [row] = await this.deps.db.query<{ action: string; order_id: string; result: OpsActionResult | string | null }>(
      'SELECT action, order_id, result FROM ops_actions WHERE request_id = $1',
      [request.requestId],
    );
    if (!row || row.action !== action || row.order_id !== request.orderId) throw new OpsActionRefused('that request id was used for another action');
    const result = typeof row.result === 'string' ? (JSON.parse(row.result) as OpsActionResult) : row.result;
    return result
      ? { ...result, repeated: true }
      : { action, orderId: request.orderId, requestId: request.requestId, outcome: 'started', message: 'this request is being carried out', at: new Date().toISOString(), repeated: true };
  }

  private async live(orderId: string): Promise<Live> {
    try {
      const d = await this.deps.temporal.workflow.getHandle(orderWorkflowId(orderId)).describe();
      if (d.status.name !== 'RUNNING') return { running: false };
      const pending = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'submitPrintOrder');
      return { running: true, submitting: pending ? { attempt: pending.attempt ?? 1, lastFailure: pending.lastFailure?.message ?? undefined } : undefined };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { running: false };
      throw err;
    }
  }

  private async sentKinds(orderId: string): Promise<SentKinds> {
    const sent = new Set<EmailKind>();
    const resends = new Map<EmailKind, number>();
    for (const e of await new SentEmails(this.deps.db).forReference(orderId)) {
      if (e.status !== 'sent') continue;
      sent.add(e.kind);
      const n = /:resend-(\d+)$/.exec(e.idempotencyKey);
      if (n) resends.set(e.kind, Math.max(resends.get(e.kind) ?? 0, Number(n[1])));
    }
    // A resend still on its way counts too: the next one gets a key of its own.
    const started = await this.deps.db.query<{ result: OpsActionResult | string | null }>(
      `SELECT result FROM ops_actions WHERE order_id = $1 AND action = 'resend_email' AND result IS NOT NULL`,
      [orderId],
    );
    for (const r of started) {
      const email = (typeof r.result === 'string' ? (JSON.parse(r.result) as OpsActionResult) : r.result)?.email;
      if (email) resends.set(email.kind, Math.max(resends.get(email.kind) ?? 0, email.resend));
    }
    return { sent, resends };
  }

  /** The message of `kind` again, from the order's record. */
  private async emailFor(order: OrderRecord, kind: EmailKind, resend: number): Promise<ResendEmailInput> {
    const view = order.view;
    if (!view) throw new OpsActionRefused('the order has no record to write the email from');
    const base = { to: order.email, orderId: order.id, name: view.shipping.name, resend };
    const viewerUrl = async () => {
      const animation = await this.deps.animations.get(order.animationId);
      if (!animation) throw new OpsActionRefused('the buddy of this order is gone');
      return `${this.deps.publicUrl}/a/${animation.viewerToken}`;
    };
    const request = await ((): Promise<EmailRequest> | EmailRequest => {
      switch (kind) {
        case 'order_confirmation':
          if (!view.payment) throw new OpsActionRefused('the order was never paid');
          return { ...base, kind, product: view.product, amountCents: view.payment.amountCents, currency: view.payment.currency, shipping: view.shipping };
        case 'order_shipped':
          if (!view.tracking) throw new OpsActionRefused('the order has no tracking');
          return { ...base, kind, tracking: view.tracking };
        case 'order_delivered':
          return viewerUrl().then((url) => ({ ...base, kind, viewerUrl: url }));
        case 'order_refunded':
          if (view.refund?.status !== 'refunded') throw new OpsActionRefused('the order was not refunded');
          return { ...base, kind, amountCents: view.refund.amountCents, currency: view.payment?.currency ?? order.currency, reason: view.error ?? 'refunded by our support team' };
        case 'buddy_ready':
          return viewerUrl().then((url) => ({ ...base, kind, viewerUrl: url }));
      }
    })();
    return { ...request, resend };
  }
}

const label = (kind: EmailKind) => kind.replace(/^order_/, '').replace('_', ' ');

const describeRefund = (view: OrderView) =>
  view.refund?.status === 'refunded'
    ? `refunded ${formatAmount(view.refund.amountCents, view.payment?.currency ?? 'usd')}`
    : view.refund?.status === 'not_needed'
      ? 'nothing had been paid'
      : `the refund is ${view.refund?.status ?? 'on its way'}`;
