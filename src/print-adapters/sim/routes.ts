/**
 * The printer simulator's HTTP face, mounted on the app under `/printer-sim`: a vendor-like API
 * behind a bearer key (create, idempotent by external id; look up; cancel before production),
 * the operator's `POST /printer-sim/orders/:orderId/fail` (PRODUCT.md §4) where `operator` lets
 * it be, and a tracking page for the links its shipments carry.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readJson, readRawBody } from '../../api/body.js';
import { HttpError } from '../../api/errors.js';
import { SHAPES } from '../../orders/product.js';
import { safeEqual } from '../http.js';
import type { PrinterSim } from './printer.js';
import { simApiKey, type SimCreateOrder } from './protocol.js';

/**
 * Who may use the fail switch: anyone (`open`: the embedded default, where payments are local and
 * nothing real is at stake), the holder of the operator's token, or nobody (the route is absent).
 * Failing an order refunds it, so it is never open where real payments are taken.
 */
export type SimOperatorAccess = 'open' | { token: string } | 'absent';

export interface PrinterSimRouteDeps {
  sim: PrinterSim;
  /** The simulator's secret: the API key is derived from it. */
  secret: string;
  operator: SimOperatorAccess;
}

const text = (max: number) => z.string().trim().min(1).max(max);
const createSchema = z.object({
  external_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64'),
  file_url: z.url(),
  product: z.object({
    shape: z.enum(SHAPES),
    size_inches: z.union([z.literal(2), z.literal(3), z.literal(4)], { error: 'the simulator prints 2, 3 and 4 inch stickers' }),
    quantity: z.number().int().min(1).max(10_000),
  }),
  recipient: z.object({
    name: text(100),
    address1: text(200),
    address2: text(200).optional(),
    city: text(100),
    zip: text(20),
    state_code: text(100).optional(),
    country_code: z.string().regex(/^[A-Z]{2}$/),
  }),
  email: z.email(),
});

const notFound = (id: string) => new HttpError(404, 'order_not_found', `no order with external id ${id}`);

export function printerSimRoutes(deps: PrinterSimRouteDeps): Router {
  const { sim } = deps;
  const apiKey = simApiKey(deps.secret);
  const router = new Router({ prefix: '/printer-sim' });

  /** `Authorization: Bearer <expected>`, compared in constant time; 401 (body unread) otherwise. */
  const bearer = (expected: string, message: string) => async (ctx: Context, next: () => Promise<unknown>) => {
    const given = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1];
    if (!given || !safeEqual(given, expected)) {
      ctx.req.resume();
      throw new HttpError(401, 'unauthorized', message);
    }
    await next();
  };
  const authenticate = bearer(apiKey, 'send the API key as Authorization: Bearer <key>');

  router.post('/v1/orders', authenticate, async (ctx) => {
    const parsed = createSchema.safeParse(await readJson(ctx));
    if (!parsed.success) {
      throw new HttpError(422, 'invalid_order', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    }
    const { order, created } = await sim.create(parsed.data as SimCreateOrder);
    ctx.status = created ? 201 : 200;
    ctx.body = order;
  });

  router.get('/v1/orders/:externalId', authenticate, async (ctx) => {
    const order = await sim.get(ctx.params.externalId!);
    if (!order) throw notFound(ctx.params.externalId!);
    ctx.body = order;
  });

  router.post('/v1/orders/:externalId/cancel', authenticate, async (ctx) => {
    ctx.req.resume();
    const result = await sim.cancel(ctx.params.externalId!);
    if (!result.ok && result.reason === 'not_found') throw notFound(ctx.params.externalId!);
    if (!result.ok) throw new HttpError(409, 'too_late', 'the order is in production or further; it can no longer be cancelled');
    ctx.body = result.value;
  });

  if (deps.operator !== 'absent') {
    const allowed =
      deps.operator === 'open'
        ? (_ctx: Context, next: () => Promise<unknown>) => next()
        : bearer(deps.operator.token, 'send the operator token as Authorization: Bearer <OPS_TOKEN>');
    router.post('/orders/:orderId/fail', allowed, async (ctx) => {
      const raw = await readRawBody(ctx);
      let reason = 'the simulated printer could not print the order';
      if (raw.length) {
        const body = z.object({ reason: text(500).optional() }).safeParse(safeJson(raw));
        if (!body.success) throw new HttpError(400, 'invalid_body', 'send nothing, or JSON {"reason": "..."}');
        reason = body.data.reason ?? reason;
      }
      const result = await sim.fail(ctx.params.orderId!, reason);
      if (!result.ok && result.reason === 'not_found') throw notFound(ctx.params.orderId!);
      if (!result.ok) throw new HttpError(409, 'too_late', 'the order has already shipped (or ended); it can no longer fail');
      // Accepted: the failure reaches the app as a webhook, like any news from the printer.
      ctx.status = 202;
      ctx.body = result.value;
    });
  }

  router.get('/tracking/:number', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = `SimPost parcel ${ctx.params.number}: this is a simulated shipment.\n`;
  });

  return router;
}

function safeJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}
