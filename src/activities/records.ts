/**
 * The records activities: the workflows write their status to the database as they move
 * (`src/workflows/shared/recorder.ts`), so pages and lists read the database rather than asking
 * Temporal, and keep answering after Temporal's retention has deleted the workflow.
 */
import type { AnimationRepository } from '../animations/repository.js';
import type { OrderRepository } from '../orders/repository.js';
import type { AnimationStatus } from '../workflows/animation/api.js';
import type { OrderRefund, OrderView } from '../workflows/sticker-order/api.js';

export function createRecordActivities(deps: { animations: AnimationRepository; orders: OrderRepository }) {
  return {
    async recordAnimation(input: { animationId: string; seq: number; status: AnimationStatus }): Promise<void> {
      await deps.animations.saveStatus(input.animationId, input.seq, input.status);
    },
    async recordOrder(input: { orderId: string; seq: number; view: OrderView }): Promise<void> {
      await deps.orders.saveView(input.orderId, input.seq, input.view);
    },
    /** A refund an operator made after the order ended: onto its record, the same refund written twice is one. */
    async noteOrderRefund(input: { orderId: string; refund: Extract<OrderRefund, { status: 'refunded' }>; at: string; note: string }): Promise<void> {
      const record = (await deps.orders.get(input.orderId))?.view;
      if (record?.refund?.status === 'refunded' && record.refund.refundId === input.refund.refundId) return;
      await deps.orders.noteRefund(input.orderId, input.refund, { at: input.at, status: record?.status ?? 'delivered', note: input.note });
    },
  };
}
