/**
 * `POST /webhooks/printers/:printerId`: verifies a printer's webhook over its raw bytes, checks
 * every event names an order of that printer, and hands each new event to the order's workflow
 * as a signal. It holds no order logic: the workflow decides what an event means (and ignores
 * duplicates and late arrivals). Nothing changes unless the whole delivery is acceptable.
 */
import Router from '@koa/router';
import type { Middleware } from 'koa';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { countWebhooks } from '../metrics/http.js';
import type { OrderRepository, WebhookEvents } from '../orders/repository.js';
import { MalformedWebhook, type PrintAdapter, type PrinterEvent, type WebhookRequest } from '../print-adapters/port.js';
import { orderWorkflowId, printerEventSignal } from '../workflows/sticker-order/api.js';
import { readRawBody } from './body.js';
import { HttpError } from './errors.js';
import { noLimit } from './rate-limit.js';

export interface PrinterWebhookDeps {
  adapters: ReadonlyMap<string, PrintAdapter>;
  orders: Pick<OrderRepository, 'get'>;
  events: WebhookEvents;
  temporal: Client;
  /** Guards deliveries per sending address, before the body is read. */
  limitWebhooks?: Middleware;
}

export const printerEventSource = (printerId: string) => `printer:${printerId}`;

export function printerWebhookRoutes(deps: PrinterWebhookDeps): Router {
  const router = new Router();

  // Only printers we configured name a source: a made-up id in the path must not make a series.
  const sourceOf = (printerId: string) => (deps.adapters.has(printerId) ? printerEventSource(printerId) : 'printer:unknown');

  router.post('/webhooks/printers/:printerId', countWebhooks((ctx) => sourceOf(ctx.params.printerId!)), deps.limitWebhooks ?? noLimit, async (ctx) => {
    const adapter = deps.adapters.get(ctx.params.printerId!);
    if (!adapter) {
      ctx.req.resume();
      throw new HttpError(404, 'unknown_printer', `no printer ${ctx.params.printerId}`);
    }
    const req: WebhookRequest = {
      rawBody: await readRawBody(ctx),
      headers: ctx.headers,
      query: Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v])),
    };
    if (!adapter.verifyWebhook(req)) throw new HttpError(401, 'invalid_signature', 'the webhook signature is missing, wrong or too old');

    let events: PrinterEvent[];
    try {
      events = adapter.parseWebhook(req);
    } catch (err) {
      if (err instanceof MalformedWebhook) throw new HttpError(400, 'malformed_webhook', err.message);
      throw err;
    }
    for (const event of events) {
      const order = await deps.orders.get(event.orderId);
      if (order?.printerId !== adapter.id) throw new HttpError(404, 'order_not_found', `no ${adapter.id} order ${event.orderId}`);
    }

    const source = printerEventSource(adapter.id);
    let signalled = 0;
    for (const event of events) {
      if (await deps.events.seen(source, event.eventId)) continue;
      try {
        await deps.temporal.workflow.getHandle(orderWorkflowId(event.orderId)).signal(printerEventSignal, event);
        signalled++;
      } catch (err) {
        // The order's workflow has closed: there is nothing left to move.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      // Recorded only once handed over: a failure above answers 500 and the printer retries.
      await deps.events.record(source, event.eventId);
    }
    ctx.body = { received: events.length, signalled };
  });

  return router;
}
