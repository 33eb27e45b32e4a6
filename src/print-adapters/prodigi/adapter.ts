/**
 * The Prodigi adapter (Print API v4.0): orders carry our order id as `idempotencyKey` (Prodigi
 * answers a repeat with the existing order, outcome AlreadyExists) and as `merchantReference`
 * (how we find an order again), and a per-order `callbackUrl` whose query carries that order's
 * own token. Prodigi does not sign callbacks: the token, checked in constant time against the
 * order the callback names, is what authenticates them. Callbacks are CloudEvents carrying the
 * whole order; one mapping from an order to our stage serves callbacks and status polls alike.
 * Prodigi has no "failed" stage (an Error in the status details, with issues, means it) and
 * never reports delivery.
 */
import { createHmac } from 'node:crypto';
import type { Product, SizeInches } from '../../orders/product.js';
import { createOnce, credentialsRefused, describeError, fresh, isRecord, parseJsonObject, safeEqual, vendorRequest, type VendorResponse } from '../http.js';
import {
  MalformedWebhook,
  PrintRejected,
  type PrintAdapter,
  type PrinterEvent,
  type PrintOrderRequest,
  type PrintOrderSnapshot,
  type WebhookRequest,
} from '../port.js';

export interface ProdigiOptions {
  apiKey: string;
  /** Keys each order's callback token (PRODIGI_CALLBACK_SECRET); never sent anywhere itself. */
  callbackSecret: string;
  /** `https://api.prodigi.com` (live) or `https://api.sandbox.prodigi.com`. */
  baseUrl: string;
  /** Our route, `<public url>/webhooks/printers/prodigi`. */
  callbackUrl: string;
  timeoutMs?: number;
  /** Callbacks whose CloudEvent `time` is older are refused. */
  webhookMaxAgeMs?: number;
}

/** The query parameter of the callback URL that carries the order's token. */
export const PRODIGI_TOKEN_PARAM = 'token';

/**
 * The token in one order's callback URL: HMAC-SHA256 of our order id under the callback secret,
 * base64url. It opens callbacks about that order alone, so a leaked URL (a vendor's log, a
 * support ticket) forges nothing about any other order, and the secret itself never travels.
 */
export const prodigiCallbackToken = (callbackSecret: string, orderId: string) =>
  createHmac('sha256', callbackSecret).update(orderId).digest('base64url');

/** The order a callback is about: `data.order` as the reference has it, or `data` itself as one of its fragments does. */
function callbackOrder(event: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!isRecord(event.data)) return undefined;
  return isRecord(event.data.order) ? event.data.order : event.data;
}

/**
 * UNVERIFIED placeholders: Prodigi's public reference names no sticker SKU. Confirm each with
 * `GET /v4.0/products/{sku}` before going live. Kiss-cut along the artwork, like Printful's.
 */
const STICKER_SKU: Partial<Record<SizeInches, string>> = { 3: 'GLOBAL-STI-3X3', 4: 'GLOBAL-STI-4X4' };

export function prodigiSku(product: Product): string {
  const sku = STICKER_SKU[product.sizeInches];
  if (!sku) throw new PrintRejected(`Prodigi does not make ${product.sizeInches}-inch stickers (we know its 3 and 4 inch ones)`);
  return sku;
}

type DetailState = 'NotStarted' | 'InProgress' | 'Complete' | 'Error';

interface ProdigiOrder {
  id: string;
  merchantReference?: string;
  /** Absent when the order is held by the account's pause window (outcome OnHold: only the id). */
  status?: {
    stage: 'Draft' | 'AwaitingPayment' | 'InProgress' | 'Complete' | 'Cancelled';
    details?: Partial<Record<'downloadAssets' | 'printReadyAssetsPrepared' | 'allocateProductionLocation' | 'inProduction' | 'shipping', DetailState>>;
    issues?: { objectId?: string; errorCode: string; description?: string }[];
  };
  shipments?: { id: string; status: string; carrier?: { name?: string; service?: string }; tracking?: { url?: string; number?: string } }[];
}

/** An asset Prodigi has failed to fetch once and will try again: not a failure yet. */
const TRANSIENT_ISSUES = new Set(['order.items.assets.NotDownloaded']);

/** Where a Prodigi order stands, in our words. */
export function prodigiSnapshot(o: ProdigiOrder, orderId = o.merchantReference ?? ''): PrintOrderSnapshot {
  const base = { orderId, vendorOrderId: o.id };
  if (!o.status) return base;
  const { stage, details = {}, issues = [] } = o.status;
  if (stage === 'Cancelled') return { ...base, type: 'cancelled', reason: 'Prodigi cancelled the order' };
  const hard = issues.filter((i) => !TRANSIENT_ISSUES.has(i.errorCode));
  if (Object.values(details).includes('Error') && hard.length) {
    return { ...base, type: 'failed', reason: hard.map((i) => i.description ?? i.errorCode).join('; ') };
  }
  const shipped = o.shipments?.find((s) => s.status === 'Shipped');
  if (shipped || stage === 'Complete') {
    const t = shipped?.tracking;
    return {
      ...base,
      type: 'shipped',
      ...(t?.number && { tracking: { carrier: [shipped!.carrier?.name, shipped!.carrier?.service].filter(Boolean).join(' ') || 'unknown', number: t.number, ...(t.url && { url: t.url }) } }),
    };
  }
  if (details.inProduction === 'InProgress' || details.inProduction === 'Complete') return { ...base, type: 'in_production' };
  if (stage === 'InProgress') return { ...base, type: 'accepted' };
  return base;
}

const VENDOR = 'Prodigi';

export class ProdigiPrintAdapter implements PrintAdapter {
  readonly id = 'prodigi';

  constructor(private readonly opts: ProdigiOptions) {}

  async submit(order: PrintOrderRequest): Promise<PrintOrderSnapshot> {
    const sku = prodigiSku(order.product);
    const s = order.shipping;
    const callbackUrl = new URL(this.opts.callbackUrl);
    callbackUrl.searchParams.set(PRODIGI_TOKEN_PARAM, prodigiCallbackToken(this.opts.callbackSecret, order.orderId));
    const body = {
      merchantReference: order.orderId,
      idempotencyKey: order.orderId,
      callbackUrl: callbackUrl.toString(),
      shippingMethod: 'Standard',
      recipient: {
        name: s.name,
        email: order.email,
        address: { line1: s.line1, ...(s.line2 && { line2: s.line2 }), postalOrZipCode: s.postalCode, ...(s.region && { stateOrCounty: s.region }), countryCode: s.country, townOrCity: s.city },
      },
      items: [{ merchantReference: 'stickers', sku, copies: order.product.quantity, sizing: 'fillPrintArea', assets: [{ printArea: 'default', url: order.printFileUrl }] }],
    };
    return createOnce(
      async () => {
        const res = await this.call('POST', '/v4.0/orders', body);
        const answer = res.body as { outcome?: string; order?: ProdigiOrder };
        if (res.status === 200 && answer.order) return prodigiSnapshot(answer.order, order.orderId);
        throw new PrintRejected(`Prodigi refused the order (${res.status} ${answer?.outcome ?? ''}): ${describeError(res.body)}`);
      },
      () => this.status(order.orderId),
    );
  }

  async status(orderId: string): Promise<PrintOrderSnapshot | undefined> {
    const order = await this.find(orderId);
    return order && prodigiSnapshot(order, orderId);
  }

  async cancel(orderId: string): Promise<boolean> {
    const order = await this.find(orderId);
    if (!order || order.status?.stage === 'Cancelled') return true; // nothing will be printed
    const res = await this.call('POST', `/v4.0/orders/${encodeURIComponent(order.id)}/actions/cancel`);
    const outcome = (res.body as { outcome?: string } | undefined)?.outcome;
    if (res.status === 200 && outcome === 'Cancelled') return true;
    if (res.status === 200 || res.status === 400) return false; // FailedToCancel, ActionNotAvailable: too late
    throw new Error(`Prodigi answered ${res.status} to a cancel: ${describeError(res.body)}`);
  }

  /**
   * The token must be the one of the order the callback names (its merchantReference): another
   * order's token, a made-up one or the callback secret itself is refused, so the route never
   * looks further.
   */
  verifyWebhook(req: WebhookRequest): boolean {
    const given = req.query[PRODIGI_TOKEN_PARAM];
    const event = parseJsonObject(req.rawBody);
    if (!given || !event) return false;
    const orderId = callbackOrder(event)?.merchantReference;
    if (typeof orderId !== 'string' || !safeEqual(given, prodigiCallbackToken(this.opts.callbackSecret, orderId))) return false;
    return fresh(event.time, this.opts.webhookMaxAgeMs ?? 7 * 86_400_000);
  }

  parseWebhook(req: WebhookRequest): PrinterEvent[] {
    const event = parseJsonObject(req.rawBody);
    const data = event && callbackOrder(event);
    if (!event || typeof event.id !== 'string' || typeof event.time !== 'string' || !data) {
      throw new MalformedWebhook('expected a CloudEvent {id, type, time, data}');
    }
    const order = data as unknown as ProdigiOrder;
    if (typeof order.id !== 'string' || !isRecord(order.status) || typeof order.status.stage !== 'string') {
      throw new MalformedWebhook('the CloudEvent carries no order');
    }
    if (typeof order.merchantReference !== 'string') return []; // not one of ours
    const snap = prodigiSnapshot(order);
    if (!snap.type) return [];
    return [{ eventId: event.id, orderId: snap.orderId, type: snap.type, at: event.time, ...(snap.tracking && { tracking: snap.tracking }), ...(snap.reason && { reason: snap.reason }) }];
  }

  /** Our order at Prodigi, found by merchant reference (the first listed, should a reprint share the reference). */
  private async find(orderId: string): Promise<ProdigiOrder | undefined> {
    const res = await this.call('GET', `/v4.0/orders?merchantReferences=${encodeURIComponent(orderId)}&top=10`);
    if (res.status !== 200) throw new Error(`Prodigi answered ${res.status} to an order search: ${describeError(res.body)}`);
    const orders = ((res.body as { orders?: ProdigiOrder[] }).orders ?? []).filter((o) => o.merchantReference === orderId);
    return orders.at(0);
  }

  private async call(method: string, path: string, json?: unknown): Promise<VendorResponse> {
    const res = await vendorRequest(VENDOR, `${this.opts.baseUrl}${path}`, {
      method,
      json,
      headers: { 'x-api-key': this.opts.apiKey },
      timeoutMs: this.opts.timeoutMs ?? 30_000,
    });
    if (res.status === 401 || res.status === 403) throw credentialsRefused(VENDOR, res);
    return res;
  }
}
