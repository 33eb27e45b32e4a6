/**
 * The sticker order routes (PRODUCT.md §4). Thin: validate, record the order and its access
 * token, open the checkout, and hand the order to its workflow — as the running animation's
 * child (an update on the animation workflow) or directly for a finished buddy. Status, cancel
 * and address change go to the order's workflow; the workflow decides what is still allowed.
 */
import Router from '@koa/router';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Context } from 'koa';
import { z } from 'zod';
import { ANIMATION_ID, type AnimationRepository } from '../animations/repository.js';
import { PRINT_FILE_LINK_MESSAGES, PRINT_FILE_NAME, SHOPPER_LINK_SECONDS, type PrintFileUrls } from '../orders/print-file-url.js';
import { describeProduct, priceOf, productSchema, shippingSchema } from '../orders/product.js';
import { orderKey, type OrderRecord, type OrderRepository } from '../orders/repository.js';
import type { PaymentProvider } from '../payments/port.js';
import type { BlobStore } from '../storage/port.js';
import { ANIMATION_FAILED, animationWorkflowId, orderStickersUpdate } from '../workflows/animation/api.js';
import {
  cancelOrderUpdate,
  changeShippingUpdate,
  DEFAULT_ORDER_TIMING,
  ORDER_LOCKED,
  orderStatusQuery,
  orderWorkflowId,
  STICKER_ORDER_WORKFLOW_TYPE,
  type OrderInput,
  type OrderTiming,
  type OrderView,
} from '../workflows/sticker-order/api.js';
import { failureType } from '../workflows/shared/failures.js';
import { queryStatus } from './animations.js';
import { recordedOrLive } from './recorded.js';

/** An order in one of these states moves no more: its record is the whole story. */
const ORDER_ENDED = new Set(['delivered', 'failed', 'cancelled']);
import { readJson } from './body.js';
import { HttpError } from './errors.js';

export interface OrderRoutesDeps {
  temporal: Client;
  taskQueue: string;
  /** Task queue of print-file rendering (media work), when it differs from `taskQueue`. */
  mediaTaskQueue?: string;
  animations: AnimationRepository;
  orders: OrderRepository;
  blobs: BlobStore;
  payments: PaymentProvider;
  /** Checks print-file links (and signs the shopper's), with the key the worker signs printers' links by. */
  printFileUrls: PrintFileUrls;
  /** Which printer new orders go to. */
  printerId: string;
  publicUrl: string;
  /** Timers of new orders (the payment deadline comes from ORDER_PAYMENT_MINUTES). */
  timing?: Partial<OrderTiming>;
  /** How long a checkout session can be paid (the payment deadline), so the provider closes it too. */
  checkoutMinutes?: number;
  /** The namespace has the order search attributes (ensureOrderSearchAttributes): orders keep them up to date. */
  indexOrders?: boolean;
}


const orderRequestSchema = z.strictObject({
  animationId: z.string().regex(ANIMATION_ID, 'must be an animation id (an_…)'),
  product: productSchema,
  shipping: shippingSchema,
  email: z.email('must be an email address').max(254),
});

/** The first validation problem, by field path, as a clear 400. */
function parseOr400<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
  throw new HttpError(400, 'invalid_request', problems.join('; '));
}

/**
 * When the checkout closes: at the payment deadline, kept inside the window payment providers
 * accept (Stripe: 30 minutes to 24 hours from now) with a few minutes' margin for clock skew.
 * The order's workflow closes the session at its own deadline in any case.
 */
function checkoutExpiry(minutes: number): string {
  const bounded = Math.min(Math.max(minutes, 35), 24 * 60 - 5);
  return new Date(Date.now() + bounded * 60_000).toISOString();
}

/**
 * The order's access token also rides in a cookie the browser that placed the order keeps, scoped
 * to that order's API paths, HttpOnly and SameSite=Strict: the shopper coming back from the
 * checkout sees the order even where the page could not store the token.
 */
export const ORDER_TOKEN_COOKIE = 'sf_order_token';

/**
 * The access token of a request: `Authorization: Bearer …`, or else the order's cookie. A cookie
 * rides along on any request the browser makes, so for anything but a read it counts only when
 * the request comes from this site's own pages (`Sec-Fetch-Site: same-origin`, or an `Origin` of
 * this site): SameSite=Strict alone would let a sibling subdomain post a bodiless cancel.
 */
function accessTokenOf(ctx: Context, publicUrl: string): string | undefined {
  const authorization = ctx.get('authorization');
  if (authorization) return /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
  const fromCookie = ctx.cookies.get(ORDER_TOKEN_COOKIE, { signed: false });
  if (!fromCookie || ctx.method === 'GET' || ctx.method === 'HEAD') return fromCookie;
  const origin = ctx.get('origin');
  // (Not koa's ctx.origin: in koa 3 that echoes the request's Origin header.)
  const ownOrigins = [`${ctx.protocol}://${ctx.host}`, new URL(publicUrl).origin];
  const ownPage = ctx.get('sec-fetch-site') === 'same-origin' || ownOrigins.includes(origin);
  return ownPage ? fromCookie : undefined;
}

export function orderRoutes(deps: OrderRoutesDeps): Router {
  const router = new Router();

  /** The order behind a valid access token; 404 otherwise (never says which part was wrong). */
  const authorized = async (ctx: Context): Promise<OrderRecord> => {
    const record = await deps.orders.getWithToken(ctx.params.id!, accessTokenOf(ctx, deps.publicUrl));
    if (!record) throw new HttpError(404, 'not_found', 'no order with that id and access token');
    return record;
  };
  const handle = (record: OrderRecord) => deps.temporal.workflow.getHandle(orderWorkflowId(record.id));
  const present = (record: OrderRecord, v: OrderView) => ({
    id: record.id,
    animationId: v.animationId,
    status: v.status,
    timeline: v.timeline,
    product: v.product,
    shipping: v.shipping,
    amount: { totalCents: record.amountCents, currency: record.currency },
    // Once rendered: a link of its own, as the order's status is private to its token holder.
    printFileUrl: v.printFileKey ? deps.printFileUrls.sign(record.id, SHOPPER_LINK_SECONDS) : undefined,
    tracking: v.tracking,
    payment: v.payment,
    refund: v.refund,
    error: v.error,
  });
  /**
   * The order as its record in the database has it once it has ended (Temporal may have deleted
   * the workflow since); while it runs, its workflow's live answer, or the record when the
   * workflow cannot answer quickly (workers down).
   */
  const readView = (record: OrderRecord): Promise<OrderView> =>
    recordedOrLive(
      deps.temporal,
      record.view,
      (v) => ORDER_ENDED.has(v.status),
      () => handle(record).query(orderStatusQuery),
      () => new HttpError(404, 'not_found', 'no order with that id and access token'),
    );
  /** Runs an update; the workflow's refusal after submission becomes 409. */
  const update = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const type = failureType(err);
        const message = (err.cause as Error | undefined)?.message ?? err.message;
        if (type === ORDER_LOCKED) throw new HttpError(409, 'order_locked', message);
        if (type === 'InvalidAddress') throw new HttpError(400, 'invalid_request', message);
      }
      if (err instanceof WorkflowNotFoundError) throw new HttpError(409, 'order_locked', 'the order has ended');
      throw err;
    }
  };

  router.post('/api/orders', async (ctx) => {
    const body = parseOr400(orderRequestSchema, await readJson(ctx));
    const animation = await deps.animations.get(body.animationId);
    if (!animation) throw new HttpError(404, 'not_found', 'no animation with that id');
    // From the animation's record when it has ended: reorders work whatever Temporal still remembers.
    let buddy = await queryStatus(deps.temporal, animation.id, animation.status);
    if (buddy.status === 'failed') throw new HttpError(409, 'animation_failed', 'this animation failed: stickers cannot be made of it');

    const price = priceOf(body.product);
    const { record, accessToken } = await deps.orders.create({
      animationId: animation.id,
      email: body.email,
      printerId: deps.printerId,
      paymentProvider: deps.payments.id,
      amountCents: price.totalCents,
      currency: price.currency,
    });
    try {
      const checkout = await deps.payments.createCheckout({
        orderId: record.id,
        amountCents: price.totalCents,
        currency: price.currency,
        description: describeProduct(body.product),
        email: body.email,
        successUrl: `${deps.publicUrl}/orders/${record.id}/paid?session_id={CHECKOUT_SESSION_ID}`,
        cancelUrl: `${deps.publicUrl}/animations/${animation.id}`,
        expiresAt: deps.checkoutMinutes ? checkoutExpiry(deps.checkoutMinutes) : undefined,
      });
      await deps.orders.setCheckoutSession(record.id, checkout.sessionId);
      const input: Omit<OrderInput, 'artKey'> = {
        orderId: record.id,
        animationId: animation.id,
        product: body.product,
        shipping: body.shipping,
        email: body.email,
        printerId: deps.printerId,
        viewerUrl: `${deps.publicUrl}/a/${animation.viewerToken}`,
        payment: { provider: deps.payments.id, sessionId: checkout.sessionId, amountCents: price.totalCents, currency: price.currency },
        // Captured now, whole: a later change of a default never reaches this order.
        timing: { ...DEFAULT_ORDER_TIMING, ...deps.timing },
        taskQueues: deps.mediaTaskQueue && deps.mediaTaskQueue !== deps.taskQueue ? { media: deps.mediaTaskQueue } : undefined,
        ...(deps.indexOrders && { indexed: true }),
      };
      if (buddy.status === 'running') {
        try {
          // The animation starts the order as its child and hands it the art when it is ready.
          await deps.temporal.workflow
            .getHandle(animationWorkflowId(animation.id))
            .executeUpdate(orderStickersUpdate, { args: [input], updateId: record.id });
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError && failureType(err) === ANIMATION_FAILED) {
            throw new HttpError(409, 'animation_failed', 'this animation failed: stickers cannot be made of it');
          }
          // It finished between our look and the update: start the order on its own below.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          buddy = await queryStatus(deps.temporal, animation.id);
          if (buddy.status === 'failed') throw new HttpError(409, 'animation_failed', 'this animation failed: stickers cannot be made of it');
        }
      }
      if (buddy.status === 'succeeded') {
        await deps.temporal.workflow.start(STICKER_ORDER_WORKFLOW_TYPE, {
          workflowId: orderWorkflowId(record.id),
          taskQueue: deps.taskQueue,
          args: [{ ...input, artKey: buddy.assets!.art ?? buddy.assets!.poster } satisfies OrderInput],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        });
      }
      ctx.status = 201;
      ctx.set('Location', `/api/orders/${record.id}`);
      ctx.cookies.set(ORDER_TOKEN_COOKIE, accessToken, {
        path: `/api/orders/${record.id}`,
        httpOnly: true,
        sameSite: 'strict',
        secure: ctx.cookies.secure,
        signed: false, // the token is checked against its hash: a signature would add nothing
        maxAge: 365 * 24 * 3600 * 1000,
        overwrite: true,
      });
      ctx.body = {
        id: record.id,
        status: 'awaiting_payment',
        accessToken,
        checkoutUrl: checkout.url,
        orderUrl: `${deps.publicUrl}/orders/${record.id}#token=${accessToken}`,
        amount: { totalCents: price.totalCents, currency: price.currency, unitCents: price.unitCents, shippingCents: price.shippingCents },
        links: { self: `/api/orders/${record.id}` },
      };
    } catch (err) {
      // Nothing half-made stays behind: no order row, no open checkout. (An update whose answer
      // was lost may have started the order: leave it, it cancels itself if never paid.)
      if (!(err instanceof WorkflowUpdateRPCTimeoutOrCancelledError)) {
        const session = (await deps.orders.get(record.id))?.checkoutSessionId;
        if (session) await deps.payments.expireCheckout(session).catch(() => undefined);
        await deps.orders.delete(record.id).catch(() => undefined);
      }
      throw err;
    }
  });

  router.get('/api/orders/:id', async (ctx) => {
    const record = await authorized(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = present(record, await readView(record));
  });

  router.post('/api/orders/:id/cancel', async (ctx) => {
    const record = await authorized(ctx);
    const body = ctx.get('content-length') && ctx.get('content-length') !== '0' ? await readJson(ctx) : {};
    const { reason } = parseOr400(z.strictObject({ reason: z.string().trim().max(500).optional() }), body);
    const view = await update(() => handle(record).executeUpdate(cancelOrderUpdate, { args: [{ reason }] }));
    ctx.body = present(record, view);
  });

  router.patch('/api/orders/:id/shipping', async (ctx) => {
    const record = await authorized(ctx);
    const shipping = parseOr400(shippingSchema, await readJson(ctx));
    const view = await update(() => handle(record).executeUpdate(changeShippingUpdate, { args: [shipping] }));
    ctx.body = present(record, view);
  });

  /**
   * Print files, for the printer to download, by signed link only (`expires` and `sig`); any other
   * request is 403, checked before the order is looked up, so it says nothing about which orders exist.
   */
  router.get(`/files/orders/:id/${PRINT_FILE_NAME}`, async (ctx) => {
    const problem = deps.printFileUrls.check(ctx.params.id!, ctx.query);
    if (problem) {
      ctx.set('Cache-Control', 'no-store');
      throw new HttpError(403, 'forbidden', PRINT_FILE_LINK_MESSAGES[problem]);
    }
    const record = await deps.orders.get(ctx.params.id!);
    const key = record && orderKey(record.id, PRINT_FILE_NAME);
    const info = key && (await deps.blobs.stat(key));
    if (!key || !info) throw new HttpError(404, 'not_found', 'no such file');
    ctx.set('Cache-Control', 'private, no-store');
    ctx.type = 'application/pdf';
    ctx.length = info.bytes;
    ctx.body = await deps.blobs.get(key);
  });

  return router;
}
