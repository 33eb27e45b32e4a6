/**
 * The print adapter for the printer simulator, over HTTP like any vendor: create (idempotent by
 * our order id at the simulator; a lost answer is recovered by looking the order up), status,
 * cancel, and the `Sim-Signature` webhook check and parsing.
 */
import { createOnce, credentialsRefused, describeError, header, isRecord, parseJsonObject, vendorRequest } from '../http.js';
import {
  MalformedWebhook,
  PrintRejected,
  type PrintAdapter,
  type PrinterEvent,
  type PrinterEventType,
  type PrintOrderRequest,
  type PrintOrderSnapshot,
  type WebhookRequest,
} from '../port.js';
import { SIM_SIGNATURE_HEADER, SIM_STATUSES, simApiKey, verifySimSignature, type SimCreateOrder, type SimOrder, type SimStatus } from './protocol.js';

export interface SimPrintAdapterOptions {
  /** The simulator's base URL, e.g. `http://localhost:3000/printer-sim`. */
  baseUrl: string;
  secret: string;
  timeoutMs?: number;
}

const TYPE_OF: Record<SimStatus, PrinterEventType | undefined> = {
  received: undefined,
  accepted: 'accepted',
  in_production: 'in_production',
  shipped: 'shipped',
  delivered: 'delivered',
  failed: 'failed',
  cancelled: 'cancelled',
};

export class SimPrintAdapter implements PrintAdapter {
  readonly id = 'sim';
  private readonly apiKey: string;
  private readonly baseUrl: string;

  constructor(private readonly opts: SimPrintAdapterOptions) {
    this.apiKey = simApiKey(opts.secret);
    this.baseUrl = opts.baseUrl.replace(/\/$/, '');
  }

  async submit(order: PrintOrderRequest): Promise<PrintOrderSnapshot> {
    const body: SimCreateOrder = {
      external_id: order.orderId,
      file_url: order.printFileUrl,
      product: { shape: order.product.shape, size_inches: order.product.sizeInches, quantity: order.product.quantity },
      recipient: {
        name: order.shipping.name,
        address1: order.shipping.line1,
        ...(order.shipping.line2 && { address2: order.shipping.line2 }),
        city: order.shipping.city,
        zip: order.shipping.postalCode,
        ...(order.shipping.region && { state_code: order.shipping.region }),
        country_code: order.shipping.country,
      },
      email: order.email,
    };
    return createOnce(
      async () => {
        const res = await this.call('POST', '/v1/orders', body);
        if (res.status === 200 || res.status === 201) return snapshot(res.body as SimOrder);
        throw new PrintRejected(`the printer simulator refused the order (${res.status}): ${describeError(res.body)}`);
      },
      () => this.status(order.orderId),
    );
  }

  async status(orderId: string): Promise<PrintOrderSnapshot | undefined> {
    const res = await this.call('GET', `/v1/orders/${encodeURIComponent(orderId)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`the printer simulator answered ${res.status}: ${describeError(res.body)}`);
    return snapshot(res.body as SimOrder);
  }

  async cancel(orderId: string): Promise<boolean> {
    const res = await this.call('POST', `/v1/orders/${encodeURIComponent(orderId)}/cancel`);
    if (res.status === 200 || res.status === 404) return true; // no order there: nothing will be printed
    if (res.status === 409) return false;
    throw new Error(`the printer simulator answered ${res.status} to a cancel: ${describeError(res.body)}`);
  }

  verifyWebhook(req: WebhookRequest): boolean {
    return verifySimSignature(this.opts.secret, header(req.headers, SIM_SIGNATURE_HEADER), req.rawBody);
  }

  parseWebhook(req: WebhookRequest): PrinterEvent[] {
    const body = parseJsonObject(req.rawBody);
    const order = body?.order;
    if (!body || typeof body.id !== 'string' || typeof body.created_at !== 'string' || !isRecord(order)) {
      throw new MalformedWebhook('expected {id, type, created_at, order}');
    }
    if (typeof order.external_id !== 'string' || !SIM_STATUSES.includes(order.status as SimStatus)) {
      throw new MalformedWebhook('the order has no external_id or an unknown status');
    }
    const snap = snapshot(order as unknown as SimOrder);
    if (!snap.type) return [];
    return [{ eventId: body.id, orderId: snap.orderId, type: snap.type, at: body.created_at, ...(snap.tracking && { tracking: snap.tracking }), ...(snap.reason && { reason: snap.reason }) }];
  }

  private async call(method: string, path: string, json?: unknown) {
    const res = await vendorRequest('the printer simulator', `${this.baseUrl}${path}`, {
      method,
      json,
      headers: { authorization: `Bearer ${this.apiKey}` },
      timeoutMs: this.opts.timeoutMs ?? 15_000,
    });
    if (res.status === 401 || res.status === 403) throw credentialsRefused('the printer simulator', res);
    return res;
  }
}

function snapshot(o: SimOrder): PrintOrderSnapshot {
  return {
    orderId: o.external_id,
    vendorOrderId: o.id,
    type: TYPE_OF[o.status],
    ...(o.tracking && { tracking: { carrier: o.tracking.carrier, number: o.tracking.number, url: o.tracking.url } }),
    ...(o.failure_reason && { reason: o.failure_reason }),
  };
}
