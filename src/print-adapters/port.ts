/**
 * The print adapter port: everything the order workflow and the webhook route need from a
 * print-on-demand vendor, in our own words. One adapter per vendor (`sim/`, `printful/`,
 * `prodigi/`); each speaks its vendor's wire format and maps it to these types.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Product, ShippingAddress } from '../orders/product.js';

/** Where an order stands at the printer, in the order it normally happens. */
export const PRINTER_STAGES = ['accepted', 'in_production', 'shipped', 'delivered'] as const;
export type PrinterStage = (typeof PRINTER_STAGES)[number];
/** Terminal bad outcomes: the printer could not print it, or cancelled it. */
export type PrinterOutcome = 'failed' | 'cancelled';
export type PrinterEventType = PrinterStage | PrinterOutcome;

export interface Tracking {
  carrier: string;
  number: string;
  url?: string;
}

/** A normalized printer event, from a webhook or from a status poll. */
export interface PrinterEvent {
  /**
   * Unique per event at the vendor, for deduplication. Vendors without event ids get one derived
   * from the event's content (the same delivery twice → the same id).
   */
  eventId: string;
  /** Our order id (the vendor's external id). */
  orderId: string;
  type: PrinterEventType;
  /** When it happened at the vendor (ISO 8601). */
  at: string;
  tracking?: Tracking;
  /** For failed/cancelled: the vendor's reason, human-readable. */
  reason?: string;
}

export interface PrintOrderRequest {
  /** Our order id: sent as the vendor's external id, which makes submission idempotent. */
  orderId: string;
  /** A URL the vendor can download the print-ready PDF from. */
  printFileUrl: string;
  product: Product;
  shipping: ShippingAddress;
  email: string;
}

export interface PrintOrderSnapshot {
  orderId: string;
  vendorOrderId: string;
  /** The furthest stage reached, or the terminal outcome; undefined while only received. */
  type?: PrinterEventType;
  tracking?: Tracking;
  reason?: string;
}

export interface WebhookRequest {
  /** The exact bytes received: signatures are over these, never over re-serialized JSON. */
  rawBody: Buffer;
  headers: IncomingHttpHeaders;
  /** The request's query string, for vendors that authenticate callbacks by a secret in the URL. */
  query: Record<string, string | undefined>;
}

export interface PrintAdapter {
  /** The `:printerId` of `/webhooks/printers/:printerId`, e.g. "sim", "printful". */
  readonly id: string;
  /**
   * Places the order. Idempotent: our order id is the vendor's external id, and a call whose
   * answer was lost (timeout, 5xx) looks the order up before submitting again. Rejects with
   * PrintRejected for orders the vendor will never take (bad address, unknown product), with
   * PrinterUnavailable when the vendor cannot be reached or says "later" (retry), and with a
   * plain Error when it refuses our credentials (retry: an operator has to fix the settings).
   */
  submit(order: PrintOrderRequest): Promise<PrintOrderSnapshot>;
  /** Where the order stands, asked of the vendor; undefined when the vendor has no such order. */
  status(orderId: string): Promise<PrintOrderSnapshot | undefined>;
  /**
   * Asks the vendor to cancel; resolves false when it is too late (already printing), true when
   * nothing will be printed (cancelled now or before, failed, or no such order). Idempotent.
   */
  cancel(orderId: string): Promise<boolean>;
  /** Checks the webhook's authenticity (constant-time). Never throws for bad input. */
  verifyWebhook(req: WebhookRequest): boolean;
  /**
   * The normalized events a verified webhook carries (often one; none for event kinds we ignore).
   * Throws MalformedWebhook for a body that does not parse.
   */
  parseWebhook(req: WebhookRequest): PrinterEvent[];
}

/** The vendor refused the order for good (bad address, product, file): do not retry. */
export class PrintRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrintRejected';
  }
}

/** The vendor could not be reached or answered 5xx/429: retry later. */
export class PrinterUnavailable extends Error {
  constructor(message: string, public readonly retryAfterMs?: number) {
    super(message);
    this.name = 'PrinterUnavailable';
  }
}

export class MalformedWebhook extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedWebhook';
  }
}
