/**
 * A local stand-in for Printful's API v2 (plus v1's order cancel) over real HTTP, speaking its
 * wire format as our research found it (scratch/research-print-vendors.md):
 *
 * - `Authorization: Bearer <token>` on every call, else 401 with an RFC 7807-like body
 *   (`{type, status, title, details}`; v1 paths answer v1's `{code, result, error}`).
 * - `POST /v2/orders` → a draft (`{data: order}`); unknown catalog variants or missing recipient
 *   fields → 400. Like Printful (as far as its docs say), it does NOT refuse a second order with
 *   the same external_id, so a test sees every duplicate an adapter would make.
 * - `GET /v2/orders/{id | @external_id}`, `POST …/confirmation` (draft → pending; 409 otherwise),
 *   `DELETE /v2/orders/{id}` (drafts, failed, cancelled only; 409 otherwise),
 *   `GET /v2/orders/{id}/shipments`, v1 `DELETE /orders/{id}` (cancels draft/pending/onhold; 400
 *   once in process).
 * - Controls: `respond` (5xx, 429 next), `dropAnswer` (carried out, answer lost), `setStatus`,
 *   `ship`, `deliver`, and `webhook(...)` / `sendWebhook(...)`: an event signed exactly as
 *   Printful signs (`x-pf-webhook-signature`: hex HMAC-SHA256 of the body, hex-decoded secret).
 */
import { createHmac } from 'node:crypto';
import { FakeVendorServer, postRaw, type Answer, type Incoming } from './vendor-server.js';

export const PRINTFUL_STICKER_VARIANTS = [10163, 10164, 10165];

export interface FakePrintfulOrder {
  id: number;
  external_id: string | null;
  store_id: number;
  status: 'draft' | 'pending' | 'failed' | 'canceled' | 'onhold' | 'inprocess' | 'partial' | 'fulfilled';
  recipient: Record<string, unknown>;
  order_items: Record<string, unknown>[];
  created_at: string;
  updated_at: string;
  shipments: Record<string, unknown>[];
}

const STORE_ID = 4242;

const problem = (status: number, title: string, details: string): Answer => ({
  status,
  body: { type: `https://developers.printful.com/docs/v2-beta/#error-${status}`, status, title, details, instance: `req_${Date.now()}` },
});

export class FakePrintful extends FakeVendorServer {
  readonly orders: FakePrintfulOrder[] = [];
  private nextId = 100_001;

  constructor(private readonly opts: { token: string; webhookSecret: string }) {
    super();
  }

  ordersWithExternalId(externalId: string) {
    return this.orders.filter((o) => o.external_id === externalId);
  }

  order(externalId: string): FakePrintfulOrder {
    const order = this.ordersWithExternalId(externalId)[0];
    if (!order) throw new Error(`fake Printful has no order ${externalId}`);
    return order;
  }

  setStatus(externalId: string, status: FakePrintfulOrder['status']) {
    const order = this.order(externalId);
    order.status = status;
    order.updated_at = new Date().toISOString();
  }

  /** Ships the order: one shipment with tracking, status fulfilled. */
  ship(externalId: string, tracking = { carrier: 'USPS', service: 'First Class', tracking_number: '9400100000000000000001', tracking_url: 'https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000001' }) {
    const order = this.order(externalId);
    order.shipments.push({
      id: 7000 + order.shipments.length,
      order_id: order.id,
      order_external_id: order.external_id,
      ...tracking,
      shipment_status: 'shipped',
      shipped_at: new Date().toISOString(),
      delivery_status: 'in_transit',
      delivered_at: null,
    });
    this.setStatus(externalId, 'fulfilled');
  }

  deliver(externalId: string) {
    for (const s of this.order(externalId).shipments) Object.assign(s, { delivery_status: 'delivered', delivered_at: new Date().toISOString() });
  }

  /** A webhook as Printful sends it: the raw body and its headers (signed with `secret`, hex). */
  webhook(
    type: string,
    externalId: string,
    opts: { reason?: string; retries?: number; occurredAt?: string; secret?: string; data?: Record<string, unknown> } = {},
  ): { rawBody: string; headers: Record<string, string> } {
    const o = this.order(externalId);
    const order = { id: o.id, external_id: o.external_id, status: o.status, store_id: o.store_id, dashboard_url: `https://www.printful.com/dashboard?order_id=${o.id}`, created_at: o.created_at, updated_at: o.updated_at };
    const shipment = o.shipments.at(-1);
    const data = {
      order,
      ...(type.startsWith('shipment_') && shipment && {
        shipment: { id: shipment.id, status: shipment.shipment_status, store_id: STORE_ID, tracking_number: shipment.tracking_number, created_at: shipment.shipped_at, ship_date: shipment.shipped_at, shipped_at: shipment.shipped_at, reshipment: false },
      }),
      ...(opts.reason && { reason: opts.reason }),
      ...opts.data,
    };
    const rawBody = JSON.stringify({ type, occurred_at: opts.occurredAt ?? new Date().toISOString(), retries: opts.retries ?? 0, store_id: STORE_ID, data });
    return { rawBody, headers: { 'x-pf-webhook-signature': signPrintful(opts.secret ?? this.opts.webhookSecret, rawBody), 'x-pf-webhook-public-key': Buffer.from('fake-public-key').toString('base64') } };
  }

  sendWebhook(url: string, type: string, externalId: string, opts: Parameters<FakePrintful['webhook']>[2] = {}): Promise<Response> {
    const { rawBody, headers } = this.webhook(type, externalId, opts);
    return postRaw(url, rawBody, headers);
  }

  protected handle(req: Incoming): Answer {
    const path = req.url.pathname;
    const v1 = !path.startsWith('/v2/');
    if (req.headers.authorization !== `Bearer ${this.opts.token}`) {
      return v1
        ? { status: 401, body: { code: 401, result: 'Unauthorized', error: { reason: 'Unauthorized', message: 'Malformed Authorization header.' } } }
        : problem(401, 'Unauthorized', 'The access token provided is invalid.');
    }
    if (req.method === 'POST' && path === '/v2/orders') return this.create(req.json() as Record<string, unknown>);

    const match = /^\/(?:v2\/)?orders\/([^/]+)(\/confirmation|\/shipments)?$/.exec(path);
    const order = match ? this.find(decodeURIComponent(match[1]!)) : undefined;
    if (match && !order) {
      return v1 ? { status: 404, body: { code: 404, result: 'Not found', error: { reason: 'NotFound', message: 'Order not found' } } } : problem(404, 'Not Found', 'Order not found');
    }
    if (order && !v1) {
      const action = match![2];
      if (req.method === 'GET' && !action) return { status: 200, body: { data: view(order) } };
      if (req.method === 'GET' && action === '/shipments') return { status: 200, body: { data: order.shipments, paging: { total: order.shipments.length, offset: 0, limit: 20 } } };
      if (req.method === 'POST' && action === '/confirmation') {
        if (order.status !== 'draft') return problem(409, 'Conflict', `Order in status ${order.status} cannot be confirmed`);
        order.status = 'pending';
        return { status: 200, body: { data: view(order) } };
      }
      if (req.method === 'DELETE' && !action) {
        if (!['draft', 'failed', 'canceled'].includes(order.status)) return problem(409, 'Conflict', `Order in status ${order.status} cannot be deleted`);
        this.orders.splice(this.orders.indexOf(order), 1);
        return { status: 204 };
      }
    }
    if (order && v1 && req.method === 'DELETE') {
      if (!['draft', 'pending', 'onhold'].includes(order.status)) {
        return { status: 400, body: { code: 400, result: 'Order cannot be cancelled', error: { reason: 'BadRequest', message: `Order in status ${order.status} cannot be cancelled` } } };
      }
      order.status = 'canceled';
      return { status: 200, body: { code: 200, result: view(order) } };
    }
    return problem(404, 'Not Found', `No route ${req.method} ${path}`);
  }

  private find(id: string) {
    return id.startsWith('@') ? this.ordersWithExternalId(id.slice(1)).at(-1) : this.orders.find((o) => o.id === Number(id));
  }

  private create(body: Record<string, unknown>): Answer {
    const recipient = (body.recipient ?? {}) as Record<string, unknown>;
    const missing = ['name', 'address1', 'city', 'country_code', 'zip'].filter((f) => !recipient[f]);
    if (missing.length) return problem(400, 'Bad Request', `recipient.${missing[0]} is required`);
    // Printful needs the state code for these countries (its docs: "state_code … required for US, CA, AU").
    if (['US', 'CA', 'AU'].includes(String(recipient.country_code)) && !recipient.state_code) {
      return problem(400, 'Bad Request', 'recipient.state_code is required for this country');
    }
    const items = body.order_items as Record<string, unknown>[] | undefined;
    if (!Array.isArray(items) || !items.length) return problem(400, 'Bad Request', 'order_items must not be empty');
    for (const item of items) {
      if (!PRINTFUL_STICKER_VARIANTS.includes(item.catalog_variant_id as number)) return problem(400, 'Bad Request', `Catalog variant ${String(item.catalog_variant_id)} not found`);
      if (!(Number(item.quantity) >= 1)) return problem(400, 'Bad Request', 'quantity must be at least 1');
    }
    const now = new Date().toISOString();
    const order: FakePrintfulOrder = {
      id: this.nextId++,
      external_id: typeof body.external_id === 'string' ? body.external_id : null,
      store_id: STORE_ID,
      status: 'draft',
      recipient,
      order_items: items,
      created_at: now,
      updated_at: now,
      shipments: [],
    };
    this.orders.push(order);
    return { status: 200, body: { data: view(order) } };
  }
}

function view(o: FakePrintfulOrder) {
  const { shipments: _shipments, ...rest } = o;
  return rest;
}

export const signPrintful = (hexSecret: string, rawBody: string) => createHmac('sha256', Buffer.from(hexSecret, 'hex')).update(rawBody).digest('hex');
