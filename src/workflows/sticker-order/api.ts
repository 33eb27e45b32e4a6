/**
 * The sticker order workflow's public contract, shared by the workflow, the parent animation
 * workflow, the activities, the webhook routes and the API: type name, id scheme, input,
 * signals, updates, queries and the shape of its status. Names here are written into
 * histories: never rename them.
 */
import { defineSearchAttributeKey, SearchAttributeType, type Duration } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Product, ShippingAddress } from '../../orders/product.js';
import type { PaymentReceived } from '../../payments/port.js';
import type { PrinterEvent, Tracking } from '../../print-adapters/port.js';

export const STICKER_ORDER_WORKFLOW_TYPE = 'StickerOrderWorkflow';

/**
 * What an operator filters orders by in the Temporal UI (`StickerflowOrderStatus="shipped"`):
 * the order's status and its printer, kept up to date by the workflow when `indexed`. Nothing
 * personal goes into them (visibility stores are not where shoppers' data belongs).
 */
export const ORDER_STATUS_ATTRIBUTE = defineSearchAttributeKey('StickerflowOrderStatus', SearchAttributeType.KEYWORD);
export const ORDER_PRINTER_ATTRIBUTE = defineSearchAttributeKey('StickerflowPrinter', SearchAttributeType.KEYWORD);
export const ORDER_SEARCH_ATTRIBUTES = [ORDER_STATUS_ATTRIBUTE, ORDER_PRINTER_ATTRIBUTE];
export const orderWorkflowId = (orderId: string) => `order:${orderId}`;

export const ORDER_STATUSES = [
  'awaiting_payment',
  'paid',
  'rendering',
  'submitted',
  'in_production',
  'shipped',
  'delivered',
  'failed',
  'cancelled',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** How long the order waits at each stage; every one has a default, tests shorten them. */
export interface OrderTiming {
  /** Unpaid this long after the order: it cancels itself. */
  paymentDeadline: Duration;
  /** Paid, but the animation has not delivered its art this long after: fail and refund. */
  artDeadline: Duration;
  /** Without news from the printer, ask it for the order's status this often. */
  statusPollInterval: Duration;
  /** No progress at the printer this long after the last step: alert the operator (once per step). */
  stallAfter: Duration;
  /** Not shipped this long after submission: cancel at the printer, refund, alert. */
  shipDeadline: Duration;
  /** Shipped but never reported delivered: stop waiting this long after shipment. */
  deliveryWait: Duration;
}

/**
 * The timing a new order starts with: the API puts all of it into the order's input, so changing
 * a value here changes only orders placed after the change, never one in flight.
 */
export const DEFAULT_ORDER_TIMING: OrderTiming = {
  paymentDeadline: '24 hours',
  artDeadline: '1 day',
  statusPollInterval: '6 hours',
  stallAfter: '3 days',
  shipDeadline: '14 days',
  deliveryWait: '30 days',
};

/**
 * FROZEN: what orders started before their input carried the whole timing read for the values
 * their input did not give. Those runs may still be in flight (up to ~58 days) and replay with
 * these values: never change them; change DEFAULT_ORDER_TIMING instead.
 */
export const TIMING_OF_ORDERS_WITHOUT_IT: Readonly<OrderTiming> = Object.freeze({
  paymentDeadline: '24 hours',
  artDeadline: '1 day',
  statusPollInterval: '6 hours',
  stallAfter: '3 days',
  shipDeadline: '14 days',
  deliveryWait: '30 days',
});

export interface OrderPayment {
  provider: string;
  sessionId: string;
  amountCents: number;
  currency: string;
}

export interface OrderInput {
  orderId: string;
  animationId: string;
  product: Product;
  shipping: ShippingAddress;
  email: string;
  /** Which print adapter takes the order ("sim", "printful", ...). */
  printerId: string;
  /** The buddy's viewer page, which the sticker's QR code opens. */
  viewerUrl: string;
  /** The checkout session the order waits on. */
  payment: OrderPayment;
  /**
   * Blob key of the still art (PNG with alpha) the print file is made from. Unset when the order
   * was placed while the animation runs: the animation workflow signals it (artReady) or tells
   * the order it failed (animationFailed).
   */
  artKey?: string;
  /** The order's deadlines and poll interval, captured when it is placed (DEFAULT_ORDER_TIMING and the configuration). */
  timing?: Partial<OrderTiming>;
  /** Task queue of the print-file steps (media work); unset: the workflow's own. */
  taskQueues?: { media?: string };
  /**
   * A reprint an operator made of another order (a quality claim): nothing is paid, nothing is
   * refunded, no confirmation is emailed; `payment` names only the provider and currency.
   */
  reprintOf?: string;
  /** The namespace has the order search attributes (ORDER_SEARCH_ATTRIBUTES): keep them up to date. */
  indexed?: boolean;
}

export type OrderRefund =
  | { status: 'not_needed' }
  | { status: 'pending'; error?: string }
  | { status: 'refunded'; refundId: string; amountCents: number }
  | { status: 'failed'; error: string };

export interface TimelineEntry {
  /** ISO 8601, workflow time. */
  at: string;
  status: OrderStatus;
  /** What happened, for a person to read. */
  note?: string;
}

export interface OrderView {
  orderId: string;
  animationId: string;
  status: OrderStatus;
  timeline: TimelineEntry[];
  product: Product;
  shipping: ShippingAddress;
  /** Blob key of the print-ready PDF, once rendered. */
  printFileKey?: string;
  printerId: string;
  vendorOrderId?: string;
  tracking?: Tracking;
  payment?: { paymentIntentId: string; amountCents: number; currency: string; paidAt: string };
  refund?: OrderRefund;
  /** Why the order failed or was cancelled. */
  error?: string;
  /** The order this one reprints, for no payment. */
  reprintOf?: string;
}

/** The payment webhook: the customer paid (deduplicated by event id inside the workflow too). */
export const paymentReceivedSignal = defineSignal<[PaymentReceived]>('paymentReceived');
/** A printer webhook, normalized by its adapter. Duplicates and late arrivals never move the order back. */
export const printerEventSignal = defineSignal<[PrinterEvent]>('printerEvent');
/** From the parent animation workflow: the buddy is made; here is the art to print. */
export const artReadySignal = defineSignal<[{ artKey: string }]>('artReady');
/** From the parent animation workflow: the buddy could not be made; cancel and refund. */
export const animationFailedSignal = defineSignal<[{ reason: string }]>('animationFailed');

/**
 * From the operator console: an order waiting out a printer outage submits again now, with its
 * retries started afresh (submitting is idempotent at the printer). Ignored at any other time.
 */
export const retrySubmissionSignal = defineSignal('retrySubmission');

/** Cancel, allowed until the order is submitted to the printer; returns the order as it then stands. */
export const cancelOrderUpdate = defineUpdate<OrderView, [{ reason?: string }]>('cancelOrder');
/** Replace the shipping address, allowed until the order is submitted to the printer. */
export const changeShippingUpdate = defineUpdate<OrderView, [ShippingAddress]>('changeShipping');
export const orderStatusQuery = defineQuery<OrderView>('orderStatus');

/** The failure type update validators reject with once the order is at the printer (the API's 409). */
export const ORDER_LOCKED = 'OrderLocked';
