/**
 * The Printful adapter (API v2, plus one v1 call): an order is a draft created with our order
 * id as `external_id`, then confirmed (which charges and submits it). Every submission first
 * looks the order up by `@<external_id>`, so a retry never makes a second one, and a draft left
 * unconfirmed by a lost answer gets confirmed. Webhooks are verified as Printful signs them
 * (hex HMAC-SHA256 of the raw body, keyed with the hex-decoded secret) and carry no event id:
 * one is derived from their content, so a redelivery dedupes.
 *
 * Cancelling: v2 has no cancel for a confirmed order (its DELETE deletes drafts only), so a
 * `pending`/`onhold` order is cancelled with v1's `DELETE /orders/{id}`; from `inprocess` on it
 * is too late.
 */
import { createHash } from 'node:crypto';
import type { Product, SizeInches } from '../../orders/product.js';
import { REGION_CODE_COUNTRIES } from '../../orders/catalog.js';
import { createOnce, credentialsRefused, describeError, fresh, header, hmacSha256Hex, isRecord, parseJsonObject, safeEqual, vendorRequest, type VendorResponse } from '../http.js';
import {
  MalformedWebhook,
  PrintRejected,
  type PrintAdapter,
  type PrinterEvent,
  type PrinterEventType,
  type PrintOrderRequest,
  type PrintOrderSnapshot,
  type Tracking,
  type WebhookRequest,
} from '../port.js';

export interface PrintfulOptions {
  token: string;
  /** The webhook configuration's `secret_key`, hex. */
  webhookSecret: string;
  /** For account-level tokens (`X-PF-Store-Id`). */
  storeId?: string;
  baseUrl: string;
  timeoutMs?: number;
  /** Webhooks whose `occurred_at` is older are refused (Printful retries for about 23 hours). */
  webhookMaxAgeMs?: number;
}

/**
 * Kiss-cut stickers (catalog product 358), cut along the artwork's outline, so every shape we
 * sell maps to the same variant of its size. Printful makes 3″, 4″ and 5.5″ (and 15″×3.75″): no 2″.
 */
const KISS_CUT_VARIANT: Partial<Record<SizeInches, number>> = { 3: 10163, 4: 10164 };

/** The catalog variant of a product; PrintRejected for what Printful does not make. */
export function printfulVariant(product: Product): number {
  const variant = KISS_CUT_VARIANT[product.sizeInches];
  if (!variant) {
    throw new PrintRejected(`Printful does not make ${product.sizeInches}-inch stickers (its kiss-cut stickers are 3, 4 or 5.5 inches)`);
  }
  return variant;
}

type PfStatus = 'draft' | 'pending' | 'failed' | 'canceled' | 'onhold' | 'inprocess' | 'partial' | 'fulfilled';

interface PfOrder {
  id: number;
  external_id: string | null;
  status: PfStatus;
}

interface PfShipment {
  carrier?: string | null;
  service?: string | null;
  tracking_number?: string | null;
  tracking_url?: string | null;
  shipment_status?: string;
  delivery_status?: string;
}

const TYPE_OF: Record<PfStatus, PrinterEventType | undefined> = {
  draft: undefined,
  pending: 'accepted',
  onhold: 'accepted', // a problem to sort out with Printful: the stall alert tells the operator
  inprocess: 'in_production',
  partial: 'shipped',
  fulfilled: 'shipped',
  failed: 'failed',
  canceled: 'cancelled',
};

const VENDOR = 'Printful';

export class PrintfulPrintAdapter implements PrintAdapter {
  readonly id = 'printful';
  private readonly key: Buffer;

  constructor(private readonly opts: PrintfulOptions) {
    this.key = Buffer.from(opts.webhookSecret, 'hex');
  }

  async submit(order: PrintOrderRequest): Promise<PrintOrderSnapshot> {
    const variant = printfulVariant(order.product);
    let pf =
      (await this.lookup(order.orderId)) ??
      (await createOnce(
        () => this.createDraft(order, variant),
        () => this.lookup(order.orderId),
      ));
    if (pf.status === 'draft') {
      const draft = pf;
      pf = await createOnce(
        async () => this.accepted(await this.call('POST', `/v2/orders/${draft.id}/confirmation`), 'confirm the order'),
        async () => {
          const found = await this.lookup(order.orderId);
          return found?.status === 'draft' ? undefined : found;
        },
      );
    }
    return snapshot(pf);
  }

  async status(orderId: string): Promise<PrintOrderSnapshot | undefined> {
    const pf = await this.lookup(orderId);
    if (!pf) return undefined;
    const snap = snapshot(pf);
    if (snap.type !== 'shipped') return snap;
    const res = await this.call('GET', `/v2/orders/${pf.id}/shipments`);
    const shipments = (res.status === 200 && Array.isArray((res.body as { data?: unknown }).data) ? (res.body as { data: PfShipment[] }).data : []).filter(
      (s) => s.shipment_status !== 'canceled',
    );
    const shipped = shipments.find((s) => s.tracking_number);
    const delivered = pf.status === 'fulfilled' && shipments.length > 0 && shipments.every((s) => s.delivery_status === 'delivered');
    return { ...snap, ...(delivered && { type: 'delivered' }), ...(shipped && { tracking: tracking(shipped) }) };
  }

  async cancel(orderId: string): Promise<boolean> {
    const pf = await this.lookup(orderId);
    if (!pf || pf.status === 'canceled' || pf.status === 'failed') return true; // nothing will be printed
    if (pf.status === 'inprocess' || pf.status === 'partial' || pf.status === 'fulfilled') return false;
    // A draft is deleted (v2); a confirmed order is cancelled through v1, which refunds the charge.
    const res = await this.call('DELETE', pf.status === 'draft' ? `/v2/orders/${pf.id}` : `/orders/${pf.id}`);
    if (res.status >= 200 && res.status < 300) return true;
    const now = await this.lookup(orderId);
    return !now || now.status === 'canceled';
  }

  verifyWebhook(req: WebhookRequest): boolean {
    const signature = header(req.headers, 'x-pf-webhook-signature');
    if (!signature || !safeEqual(signature.toLowerCase(), hmacSha256Hex(this.key, req.rawBody))) return false;
    return fresh(parseJsonObject(req.rawBody)?.occurred_at, this.opts.webhookMaxAgeMs ?? 3 * 86_400_000);
  }

  parseWebhook(req: WebhookRequest): PrinterEvent[] {
    const body = parseJsonObject(req.rawBody);
    const data = body?.data;
    if (!body || typeof body.type !== 'string' || typeof body.occurred_at !== 'string' || !isRecord(data)) {
      throw new MalformedWebhook('expected {type, occurred_at, data}');
    }
    const order = isRecord(data.order) ? data.order : undefined;
    if (typeof order?.external_id !== 'string') return []; // not one of ours (made in Printful's dashboard)
    const reason = typeof data.reason === 'string' ? data.reason : undefined;
    let type: PrinterEventType | undefined;
    let track: Tracking | undefined;
    switch (body.type) {
      case 'order_created':
      case 'order_updated':
        type = TYPE_OF[order.status as PfStatus];
        if (type === 'shipped') type = undefined; // shipment_sent brings the tracking
        break;
      case 'order_failed':
        type = 'failed';
        break;
      case 'order_canceled':
        type = 'cancelled';
        break;
      case 'shipment_sent':
        type = 'shipped';
        if (isRecord(data.shipment) && data.shipment.tracking_number) track = tracking(data.shipment as PfShipment);
        break;
      case 'shipment_delivered':
        type = 'delivered';
        break;
    }
    if (!type) return [];
    // `retries` changes between deliveries of one event; what happened does not.
    const eventId = `pf_${createHash('sha256').update(`${body.type}\n${body.occurred_at}\n${JSON.stringify(data)}`).digest('hex').slice(0, 40)}`;
    return [
      {
        eventId,
        orderId: order.external_id,
        type,
        at: body.occurred_at,
        ...(track && { tracking: track }),
        ...((type === 'failed' || type === 'cancelled') && { reason: reason ?? `Printful reports the order ${type}` }),
      },
    ];
  }

  /** The order with our id as external id, or undefined (404). */
  private async lookup(orderId: string): Promise<PfOrder | undefined> {
    const res = await this.call('GET', `/v2/orders/@${encodeURIComponent(orderId)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`Printful answered ${res.status} to an order lookup: ${describeError(res.body)}`);
    return (res.body as { data: PfOrder }).data;
  }

  private async createDraft(order: PrintOrderRequest, variant: number): Promise<PfOrder> {
    const s = order.shipping;
    const res = await this.call('POST', '/v2/orders', {
      external_id: order.orderId,
      shipping: 'STANDARD',
      recipient: {
        name: s.name,
        address1: s.line1,
        ...(s.line2 && { address2: s.line2 }),
        city: s.city,
        zip: s.postalCode,
        // A code where Printful wants one (US, CA, AU); elsewhere the region's name.
        ...(s.region && (REGION_CODE_COUNTRIES.includes(s.country) ? { state_code: s.region } : { state_name: s.region })),
        country_code: s.country,
        email: order.email,
      },
      order_items: [
        {
          source: 'catalog',
          catalog_variant_id: variant,
          quantity: order.product.quantity,
          placements: [{ placement: 'default', technique: 'digital', layers: [{ type: 'file', url: order.printFileUrl }] }],
        },
      ],
    });
    return this.accepted(res, 'create the order');
  }

  /** The order of a 2xx answer; any other answer is a refusal for good. */
  private accepted(res: VendorResponse, what: string): PfOrder {
    if (res.status >= 200 && res.status < 300) return (res.body as { data: PfOrder }).data;
    const detail = isRecord(res.body) ? (res.body.detail ?? res.body.details ?? res.body.title) : undefined;
    throw new PrintRejected(`Printful would not ${what} (${res.status}): ${typeof detail === 'string' ? detail : describeError(res.body)}`);
  }

  private async call(method: string, path: string, json?: unknown): Promise<VendorResponse> {
    const res = await vendorRequest(VENDOR, `${this.opts.baseUrl}${path}`, {
      method,
      json,
      headers: { authorization: `Bearer ${this.opts.token}`, ...(this.opts.storeId && { 'x-pf-store-id': this.opts.storeId }) },
      timeoutMs: this.opts.timeoutMs ?? 30_000,
    });
    if (res.status === 401 || res.status === 403) throw credentialsRefused(VENDOR, res);
    return res;
  }
}

function snapshot(pf: PfOrder): PrintOrderSnapshot {
  const type = TYPE_OF[pf.status];
  return {
    orderId: pf.external_id ?? '',
    vendorOrderId: String(pf.id),
    type,
    ...((type === 'failed' || type === 'cancelled') && { reason: `Printful reports the order ${pf.status}` }),
  };
}

function tracking(s: PfShipment): Tracking {
  return { carrier: [s.carrier, s.service].filter(Boolean).join(' ') || 'unknown', number: String(s.tracking_number), ...(s.tracking_url && { url: s.tracking_url }) };
}
