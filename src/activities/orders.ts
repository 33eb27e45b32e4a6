/**
 * The sticker order's activities: the print file (render, preflight), the printer (submit,
 * status, cancel) and the payment (close the checkout, refund). Vendor errors become Temporal
 * failures here: refusals are final (non-retryable), outages are retried.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { counted, refunds } from '../metrics/registry.js';
import { PRINT_FILE_NAME, PRINTER_LINK_SECONDS, type PrintFileUrls } from '../orders/print-file-url.js';
import { orderKey } from '../orders/repository.js';
import type { Product, ShippingAddress } from '../orders/product.js';
import { PaymentRejected, type PaymentProvider, type RefundResult } from '../payments/port.js';
import { PrinterUnavailable, PrintRejected, type PrintAdapter, type PrintOrderSnapshot } from '../print-adapters/port.js';
import { ArtRejected, PreflightFailed, preflightPrintFile, renderPrintFile } from '../print-file/index.js';
import type { BlobStore } from '../storage/port.js';

export interface OrderActivityDeps {
  blobs: BlobStore;
  /** The print adapters by printer id. */
  printers: ReadonlyMap<string, PrintAdapter>;
  /** The payment providers by id. */
  payments: ReadonlyMap<string, PaymentProvider>;
  /** Signs the links printers download print files by (the API checks them with the same key). */
  printFileUrls: PrintFileUrls;
  pdftoppmPath?: string;
}

export interface PrintFileInput {
  orderId: string;
  artKey: string;
  product: Product;
  viewerUrl: string;
}

export interface SubmitInput {
  printerId: string;
  orderId: string;
  printFileKey: string;
  product: Product;
  shipping: ShippingAddress;
  email: string;
}

/** Our domain errors as Temporal failures: refusals end the step, outages are retried. */
async function vendorCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PrintRejected || err instanceof PaymentRejected || err instanceof ArtRejected) {
      throw ApplicationFailure.nonRetryable(err.message, err.name);
    }
    if (err instanceof PreflightFailed) {
      throw ApplicationFailure.create({ type: 'PreflightFailed', message: err.message, nonRetryable: true, details: [err.reason] });
    }
    if (err instanceof PrinterUnavailable && err.retryAfterMs !== undefined) {
      throw ApplicationFailure.create({ type: err.name, message: err.message, nextRetryDelay: err.retryAfterMs });
    }
    throw err;
  }
}

export function createOrderActivities(deps: OrderActivityDeps) {
  const printer = (id: string) => {
    const adapter = deps.printers.get(id);
    if (!adapter) throw ApplicationFailure.nonRetryable(`no print adapter "${id}" is configured`, 'UnknownPrinter');
    return adapter;
  };
  const payments = (id: string) => {
    const provider = deps.payments.get(id);
    if (!provider) throw ApplicationFailure.nonRetryable(`no payment provider "${id}" is configured`, 'UnknownPaymentProvider');
    return provider;
  };

  return {
    /** Renders the print-ready PDF from the buddy's art and stores it beside the order. */
    async renderPrintFile(input: PrintFileInput): Promise<{ printFileKey: string; bytes: number }> {
      const art = await buffer(await deps.blobs.get(input.artKey));
      Context.current().heartbeat();
      const { pdf } = await vendorCall(() =>
        renderPrintFile(art, { shape: input.product.shape, sizeInches: input.product.sizeInches, viewerUrl: input.viewerUrl }),
      );
      const printFileKey = orderKey(input.orderId, PRINT_FILE_NAME);
      await deps.blobs.put(printFileKey, Readable.from([pdf]), { contentType: 'application/pdf' });
      return { printFileKey, bytes: pdf.length };
    },

    /** Checks the stored file as a printer would: geometry, dpi, cut contour, QR readable at 300 and 150 dpi. */
    async preflightPrintFile(input: PrintFileInput & { printFileKey: string }): Promise<{ checks: string[] }> {
      const pdf = await buffer(await deps.blobs.get(input.printFileKey));
      const report = await vendorCall(() =>
        preflightPrintFile(
          pdf,
          { shape: input.product.shape, sizeInches: input.product.sizeInches, viewerUrl: input.viewerUrl },
          { pdftoppmPath: deps.pdftoppmPath },
        ),
      );
      const page = report.pageSizePt;
      return {
        checks: [
          `page ${page.width}×${page.height} pt with ${report.bleedPt} pt bleed and its TrimBox`,
          `art at ${Math.floor(report.minArtDpi)} dpi or more`,
          `one closed CutContour path of ${report.cutContour.points} points inside the bleed`,
          ...report.qr.map((q) => `QR read back at ${q.dpi} dpi`),
        ],
      };
    },

    /**
     * Places the order at the printer; idempotent by our order id (the adapter looks up before
     * resubmitting, so the vendor keeps the link of the attempt that placed it). The link names
     * the order; the route serves the file stored beside it (`printFileKey`, `orders/<id>/print.pdf`).
     */
    async submitPrintOrder(input: SubmitInput): Promise<PrintOrderSnapshot> {
      return vendorCall(() =>
        printer(input.printerId).submit({
          orderId: input.orderId,
          printFileUrl: deps.printFileUrls.sign(input.orderId, PRINTER_LINK_SECONDS),
          product: input.product,
          shipping: input.shipping,
          email: input.email,
        }),
      );
    },

    /** Asks the printer where the order stands (for webhooks that never came); null when it has no such order. */
    async fetchPrinterStatus(input: { printerId: string; orderId: string }): Promise<PrintOrderSnapshot | null> {
      return (await vendorCall(() => printer(input.printerId).status(input.orderId))) ?? null;
    },

    /** Asks the printer to cancel; false when it is too late. */
    async cancelPrintOrder(input: { printerId: string; orderId: string }): Promise<boolean> {
      return vendorCall(() => printer(input.printerId).cancel(input.orderId));
    },

    /** Closes an unpaid checkout so it can no longer be paid; 'already_paid' when the customer just paid. */
    async expireCheckout(input: { provider: string; sessionId: string }): Promise<'expired' | 'already_paid'> {
      return vendorCall(() => payments(input.provider).expireCheckout(input.sessionId));
    },

    /** Refunds the order's payment in full, once per payment whatever happens (the provider looks before it refunds). */
    async refundPayment(input: {
      provider: string;
      paymentIntentId: string;
      amountCents: number;
      idempotencyKey: string;
      reason: string;
    }): Promise<RefundResult> {
      const { provider, ...req } = input;
      const outcome = (r: RefundResult) => (r.status === 'succeeded' ? 'refunded' : 'pending');
      return counted(refunds, { kind: 'payment' }, outcome, () => vendorCall(() => payments(provider).refund(req)));
    },
  };
}
