/**
 * A local stand-in for Prodigi's Print API v4.0 over real HTTP, speaking its wire format as our
 * research found it (scratch/research-print-vendors.md):
 *
 * - `X-API-Key` on every call, else 401. Every answer carries `outcome` and `traceParent`.
 * - `POST /v4.0/orders`: 400 `ValidationFailed` (with `failures`) for unknown SKUs or missing
 *   recipient fields; a repeated `idempotencyKey` returns the existing order with outcome
 *   `AlreadyExists`; otherwise `Created`, stage InProgress.
 * - `GET /v4.0/orders/{id}`, `GET /v4.0/orders?merchantReferences=…`, `GET …/actions`,
 *   `POST …/actions/cancel` (`Cancelled`, or `FailedToCancel` once in production; HTTP 200 both).
 * - Controls: `respond` (5xx, 429 next), `dropAnswer` (carried out, answer lost), `advance` (the
 *   order's next stage: downloaded → in production → shipped → complete, or a failed download),
 *   and `callback(...)`: a CloudEvent posted to the order's own `callbackUrl` (whose query carries
 *   the order's token), or to another `url` (a leaked one, a forged token), or `cloudEvent(...)`
 *   to build one without sending it.
 */
import { randomBytes } from 'node:crypto';
import { FakeVendorServer, postRaw, type Answer, type Incoming } from './vendor-server.js';

export const PRODIGI_STICKER_SKUS = ['GLOBAL-STI-3X3', 'GLOBAL-STI-4X4'];

type Detail = 'NotStarted' | 'InProgress' | 'Complete' | 'Error';
export interface FakeProdigiOrder {
  id: string;
  created: string;
  lastUpdated: string;
  callbackUrl: string | null;
  merchantReference: string | null;
  idempotencyKey: string | null;
  shippingMethod: string;
  status: {
    stage: 'InProgress' | 'Complete' | 'Cancelled';
    issues: { objectId: string; errorCode: string, description: string }[];
    details: Record<'downloadAssets' | 'printReadyAssetsPrepared' | 'allocateProductionLocation' | 'inProduction' | 'shipping', Detail>;
  };
  charges: unknown[];
  shipments: { id: string; status: string; carrier: { name: string; service: string }; tracking: { url: string; number: string }; dispatchDate: string; items: unknown[] }[];
  recipient: Record<string, unknown>;
  items: Record<string, unknown>[];
}

export type ProdigiStep = 'downloaded' | 'inProduction' | 'shipped' | 'complete' | 'downloadFailed';

const trace = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
const ok = (status: number, body: Record<string, unknown>): Answer => ({ status, body: { ...body, traceParent: trace() } });

export class FakeProdigi extends FakeVendorServer {
  readonly orders: FakeProdigiOrder[] = [];

  constructor(private readonly opts: { apiKey: string }) {
    super();
  }

  ordersWithReference(merchantReference: string) {
    return this.orders.filter((o) => o.merchantReference === merchantReference);
  }

  order(merchantReference: string): FakeProdigiOrder {
    const order = this.ordersWithReference(merchantReference)[0];
    if (!order) throw new Error(`fake Prodigi has no order ${merchantReference}`);
    return order;
  }

  /** Moves the order on, as Prodigi's lab would. */
  advance(merchantReference: string, step: ProdigiStep) {
    const o = this.order(merchantReference);
    const d = o.status.details;
    o.lastUpdated = new Date().toISOString();
    if (step === 'downloadFailed') {
      d.downloadAssets = 'Error';
      o.status.issues.push({ objectId: `ast_${o.id}`, errorCode: 'order.items.assets.FailedToDownloaded', description: 'We could not download the asset after 10 attempts' });
      return;
    }
    d.downloadAssets = d.printReadyAssetsPrepared = d.allocateProductionLocation = 'Complete';
    if (step === 'downloaded') return;
    d.inProduction = 'InProgress';
    if (step === 'inProduction') return;
    d.inProduction = 'Complete';
    d.shipping = 'InProgress';
    o.shipments = [
      {
        id: `shp_${o.id.slice(4)}`,
        status: 'Shipped',
        carrier: { name: 'Royal Mail', service: 'Tracked 48' },
        tracking: { url: 'https://www.royalmail.com/track-your-item#/tracking-results/RM123456785GB', number: 'RM123456785GB' },
        dispatchDate: new Date().toISOString(),
        items: [],
      },
    ];
    if (step === 'shipped') return;
    d.shipping = 'Complete';
    o.status.stage = 'Complete';
  }

  /** A CloudEvent about the order as it now stands. */
  cloudEvent(merchantReference: string, opts: { type?: string; time?: string; id?: string } = {}): string {
    const o = this.order(merchantReference);
    return JSON.stringify({
      specversion: '1.0',
      type: opts.type ?? `com.prodigi.order.status.stage.changed#${o.status.stage}`,
      source: 'https://api.prodigi.com/v4.0/Orders/',
      id: opts.id ?? `evt_${randomBytes(6).toString('hex')}`,
      time: opts.time ?? new Date().toISOString(),
      datacontenttype: 'application/json',
      subject: o.id,
      data: { order: o },
    });
  }

  /** Posts a CloudEvent to the order's callback URL (or `url`), as Prodigi does: unsigned. */
  callback(merchantReference: string, opts: Parameters<FakeProdigi['cloudEvent']>[1] & { url?: string } = {}): Promise<Response> {
    const url = opts.url ?? this.order(merchantReference).callbackUrl;
    if (!url) throw new Error('the order has no callbackUrl');
    return postRaw(url, this.cloudEvent(merchantReference, opts));
  }

  protected handle(req: Incoming): Answer {
    if (req.headers['x-api-key'] !== this.opts.apiKey) return ok(401, { outcome: 'NotAuthenticated' });
    const path = req.url.pathname;
    if (path === '/v4.0/orders' && req.method === 'POST') return this.create(req.json() as Record<string, unknown>);
    if (path === '/v4.0/orders' && req.method === 'GET') {
      const refs = (req.url.searchParams.get('merchantReferences') ?? '').split(',').filter(Boolean);
      const orders = this.orders.filter((o) => !refs.length || refs.includes(o.merchantReference ?? ''));
      return ok(200, { outcome: 'Ok', orders, hasMore: false, nextUrl: null });
    }
    const match = /^\/v4\.0\/orders\/([^/]+)(\/actions(?:\/cancel)?)?$/.exec(path);
    const order = match && this.orders.find((o) => o.id === match[1]);
    if (match && !order) return ok(404, { outcome: 'EntityNotFound' });
    if (order) {
      const cancellable = order.status.stage === 'InProgress' && order.status.details.inProduction === 'NotStarted';
      if (req.method === 'GET' && !match![2]) return ok(200, { outcome: 'Ok', order });
      if (req.method === 'GET' && match![2] === '/actions') {
        return ok(200, { outcome: 'Ok', cancel: { isAvailable: cancellable ? 'Yes' : 'No' }, changeRecipientDetails: { isAvailable: cancellable ? 'Yes' : 'No' }, changeShippingMethod: { isAvailable: 'No' }, changeMetaData: { isAvailable: 'Yes' } });
      }
      if (req.method === 'POST' && match![2] === '/actions/cancel') {
        if (!cancellable) return ok(200, { outcome: 'FailedToCancel', order });
        order.status.stage = 'Cancelled';
        return ok(200, { outcome: 'Cancelled', order });
      }
    }
    return ok(404, { outcome: 'EntityNotFound' });
  }

  private create(body: Record<string, unknown>): Answer {
    const failures: Record<string, { code: string; providedValue: unknown }[]> = {};
    const recipient = (body.recipient ?? {}) as Record<string, unknown>;
    const address = (recipient.address ?? {}) as Record<string, unknown>;
    if (!recipient.name) failures['recipient.name'] = [{ code: 'NotNullOrEmpty', providedValue: recipient.name ?? null }];
    for (const f of ['line1', 'postalOrZipCode', 'countryCode', 'townOrCity']) {
      if (!address[f]) failures[`recipient.address.${f}`] = [{ code: 'NotNullOrEmpty', providedValue: address[f] ?? null }];
    }
    const items = Array.isArray(body.items) ? (body.items as Record<string, unknown>[]) : [];
    if (!items.length) failures.items = [{ code: 'NotNullOrEmpty', providedValue: null }];
    items.forEach((item, i) => {
      if (!PRODIGI_STICKER_SKUS.includes(item.sku as string)) failures[`items[${i}].sku`] = [{ code: 'NotValid', providedValue: item.sku ?? null }];
    });
    if (Object.keys(failures).length) return ok(400, { outcome: 'ValidationFailed', failures });

    const key = typeof body.idempotencyKey === 'string' ? body.idempotencyKey : null;
    const existing = key ? this.orders.find((o) => o.idempotencyKey === key) : undefined;
    if (existing) return ok(200, { outcome: 'AlreadyExists', order: existing });
    const now = new Date().toISOString();
    const order: FakeProdigiOrder = {
      id: `ord_${randomBytes(4).readUInt32BE(0)}`,
      created: now,
      lastUpdated: now,
      callbackUrl: typeof body.callbackUrl === 'string' ? body.callbackUrl : null,
      merchantReference: typeof body.merchantReference === 'string' ? body.merchantReference : null,
      idempotencyKey: key,
      shippingMethod: String(body.shippingMethod ?? 'Budget'),
      status: {
        stage: 'InProgress',
        issues: [],
        details: { downloadAssets: 'NotStarted', printReadyAssetsPrepared: 'NotStarted', allocateProductionLocation: 'NotStarted', inProduction: 'NotStarted', shipping: 'NotStarted' },
      },
      charges: [],
      shipments: [],
      recipient,
      items: items.map((item, i) => ({ id: `ori_${i}`, status: 'NotYetDownloaded', ...item })),
    };
    this.orders.push(order);
    return ok(200, { outcome: 'Created', order });
  }
}
