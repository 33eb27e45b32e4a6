/**
 * The operator console (`/ops`, server-rendered HTML) and its JSON API (`/ops/api/…`). Thin: the
 * reads come from the database records (OpsQueries), the actions go to OpsActions, which hands
 * each to Temporal. Everything needs OPS_TOKEN: the API as a bearer token; the pages as a bearer
 * token or a session cookie got by signing in with it, whose value is an expiry and an HMAC over
 * it under a key derived from the token (changing the token signs everyone out). Pages that
 * change something are POSTs from our own origin, each with a request id made when its
 * confirmation page was drawn, so a double click does the action once.
 */
import Router from '@koa/router';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { lstat, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from 'koa';
import { z } from 'zod';
import { EMAIL_KINDS, IDEMPOTENCY_KEY, MAX_IDEMPOTENCY_KEY_LENGTH, type EmailKind } from '../email/port.js';
import type { Logger } from '../logger.js';
import { SHOPPER_LINK_SECONDS, type PrintFileUrls } from '../orders/print-file-url.js';
import { ORDER_ID } from '../orders/repository.js';
import { OPS_ACTIONS, OPS_REQUEST_ID, OpsActionRefused, type AvailableAction, type OpsActionKind, type OpsActionResult, type OpsActions } from '../ops/port.js';
import type { OpsQueries, OrderDetail } from '../ops/queries.js';
import { sendHtml } from '../web/layout.js';
import {
  confirmPage,
  dashboardPage,
  emailsPage,
  errorPage,
  loginPage,
  opsStylesheet,
  ordersPage,
  orderPage,
  OPS_PATHS,
  type ConsoleLinks,
  type Flash,
} from '../web/ops-pages.js';
import { ORDER_STATUSES, orderWorkflowId } from '../workflows/sticker-order/api.js';
import { readForm, readJson } from './body.js';
import { HttpError } from './errors.js';

export interface OpsRouteDeps {
  /** Always set (the composition root generates one when OPS_TOKEN is unset). */
  opsToken: string;
  queries: OpsQueries;
  actions: OpsActions;
  /** Signs the print-file link an order's page offers. */
  printFileUrls: PrintFileUrls;
  temporalUiUrl: string;
  namespace: string;
  /** For the Origin check of the pages' POSTs and Secure cookies when https. */
  publicUrl: string;
  /** DATA_DIR/outbox when the embedded outbox is used: the console shows the .eml files named in emails_sent. */
  outboxDir?: string;
  /** No progress this long: the order is listed as stuck. */
  stallAfterMs: number;
  logger: Logger;
}

export const OPS_SESSION_COOKIE = 'sf_ops_session';
const FLASH_COOKIE = 'sf_ops_flash';
const ACTOR_COOKIE = 'sf_ops_actor';
export const OPS_SESSION_SECONDS = 12 * 3600;
const MAX_EML_BYTES = 25 * 1024 * 1024;

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const equalSecrets = (given: string, expected: string) => timingSafeEqual(sha256(given), sha256(expected));
const bearerOf = (ctx: Context) => /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];

/** A fresh request id for a form (OPS_REQUEST_ID: 24 base64url characters). */
export const newRequestId = () => randomBytes(18).toString('base64url');

/** Where a sign-in may send the operator on: a console page, nothing else. */
const safeNext = (next: string | null | undefined) => (next && /^\/ops(?:[/?][^\s\\]*)?$/.test(next) && !next.startsWith('//') ? next : OPS_PATHS.dashboard);

/** Query parameters as zod sees them: empty fields (a form's blank select) are absent. */
const queryOf = (ctx: Context) => Object.fromEntries(Object.entries(ctx.query).filter(([, v]) => v !== ''));

function parseOr400<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HttpError(400, 'invalid_request', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
}

const ordersQuery = z.strictObject({
  status: z.enum(ORDER_STATUSES).optional(),
  q: z.string().trim().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().regex(ORDER_ID, 'must be an order id (or_…)').optional(),
});
const emailsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().regex(IDEMPOTENCY_KEY).max(MAX_IDEMPOTENCY_KEY_LENGTH).optional(),
});
const alertsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.coerce.number().int().positive().optional(),
});

const actionName = z.enum(OPS_ACTIONS);
const actionBody = z.strictObject({
  requestId: z.string({ error: 'is required' }).regex(OPS_REQUEST_ID, 'must be 8 to 64 letters, digits, _ or -'),
  reason: z.string().trim().max(500).optional(),
  actor: z.string().trim().min(1).max(100).optional(),
  kind: z.enum(EMAIL_KINDS).optional(),
});
type ActionBody = z.infer<typeof actionBody>;

export function opsRoutes(deps: OpsRouteDeps): Router {
  const router = new Router();
  const publicOrigin = new URL(deps.publicUrl).origin;
  const https = publicOrigin.startsWith('https:');
  // Keys of their own, derived from the token under labels: a session never passes for a flash, nor either for the token.
  const sessionKey = createHmac('sha256', deps.opsToken).update('stickerflow ops console sessions').digest();
  const flashKey = createHmac('sha256', deps.opsToken).update('stickerflow ops console flash').digest();
  const sign = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest('base64url');
  const signatureMatches = (key: Buffer, text: string, sig: string) => {
    const expected = Buffer.from(sign(key, text));
    const given = Buffer.from(sig);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const uiBase = deps.temporalUiUrl.replace(/\/+$/, '');
  const links: ConsoleLinks = {
    workflow: (workflowId) => `${uiBase}/namespaces/${encodeURIComponent(deps.namespace)}/workflows/${encodeURIComponent(workflowId)}`,
  };
  const hasOutbox = Boolean(deps.outboxDir);
  const emlUrl = (e: { idempotencyKey: string; transport: string; outboxFile?: string }) =>
    hasOutbox && e.transport === 'outbox' && e.outboxFile ? OPS_PATHS.eml(e.idempotencyKey) : undefined;

  const cookieOptions = (ctx: Context, maxAgeMs: number) => {
    // Secure whenever the site is https, also where TLS ends at a proxy this app does not trust.
    if (https) ctx.cookies.secure = true;
    return { path: '/ops', httpOnly: true, sameSite: 'strict' as const, secure: https, signed: false, overwrite: true, maxAge: maxAgeMs };
  };

  // --- who is asking ---

  const sessionValue = (nowMs = Date.now()) => {
    const expires = String(Math.floor(nowMs / 1000) + OPS_SESSION_SECONDS);
    return `${expires}.${sign(sessionKey, expires)}`;
  };
  const validSession = (value: string | undefined, nowMs = Date.now()) => {
    const m = value ? /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
    if (!m || !signatureMatches(sessionKey, m[1]!, m[2]!)) return false;
    return Number(m[1]) * 1000 > nowMs;
  };
  const validBearer = (ctx: Context) => {
    const token = bearerOf(ctx);
    return token !== undefined && equalSecrets(token, deps.opsToken);
  };
  /** A page's operator: a valid bearer token, or else a valid session cookie. */
  const pageAuthorized = (ctx: Context) =>
    ctx.get('authorization') ? validBearer(ctx) : validSession(ctx.cookies.get(OPS_SESSION_COOKIE, { signed: false }));

  /** A form posted from another site is refused, whatever cookie rides along. */
  const requireOwnOrigin = (ctx: Context) => {
    const origin = ctx.get('origin');
    const fetchSite = ctx.get('sec-fetch-site');
    if ((origin && origin !== publicOrigin) || (!origin && (fetchSite === 'cross-site' || fetchSite === 'same-site'))) {
      throw new HttpError(403, 'forbidden', 'this form must be sent from the console’s own pages');
    }
  };

  // --- pages ---

  const html = (ctx: Context, status: number, body: string) => sendHtml(ctx, status, body, { private: true, noindex: true });

  /** A console page: signed in (else the sign-in page, 401), its errors drawn as pages. */
  const page =
    (handler: (ctx: Context) => Promise<void>, opts: { post?: boolean } = {}) =>
    async (ctx: Context) => {
      try {
        if (opts.post) requireOwnOrigin(ctx);
        if (!pageAuthorized(ctx)) {
          ctx.set('WWW-Authenticate', 'Bearer realm="ops"');
          if (ctx.method !== 'GET' && ctx.method !== 'HEAD') ctx.req.resume();
          html(ctx, 401, loginPage({ next: ctx.method === 'GET' ? ctx.originalUrl : undefined }));
          return;
        }
        await handler(ctx);
      } catch (err) {
        if (err instanceof HttpError && err.status < 500) {
          html(ctx, err.status, errorPage(err.status, err.message));
          return;
        }
        throw err;
      }
    };

  const detailOr404 = async (id: string): Promise<OrderDetail> => {
    const detail = await deps.queries.order(id);
    if (!detail) throw new HttpError(404, 'not_found', `no order ${id}`);
    return detail;
  };

  /** The actions that apply now, or undefined when Temporal cannot say (the page still shows the order). */
  const availableActions = async (id: string): Promise<AvailableAction[] | undefined> => {
    try {
      return await deps.actions.available(id);
    } catch (err) {
      deps.logger.warn('ops: could not read the actions of an order', { orderId: id, error: String(err) });
      return undefined;
    }
  };

  const printFileUrl = (d: OrderDetail) => (d.order.view?.printFileKey ? deps.printFileUrls.sign(d.order.id, SHOPPER_LINK_SECONDS) : undefined);

  // The flash: the result of an action, carried over its redirect in a signed cookie for a minute.
  const setFlash = (ctx: Context, orderId: string, flash: Flash) => {
    const payload = Buffer.from(JSON.stringify({ orderId, ...flash, message: flash.message.slice(0, 600) })).toString('base64url');
    ctx.cookies.set(FLASH_COOKIE, `${payload}.${sign(flashKey, payload)}`, cookieOptions(ctx, 60_000));
  };
  const takeFlash = (ctx: Context, orderId: string): Flash | undefined => {
    const value = ctx.cookies.get(FLASH_COOKIE, { signed: false });
    if (!value) return undefined;
    ctx.cookies.set(FLASH_COOKIE, null, cookieOptions(ctx, 0));
    const [payload, sig] = value.split('.');
    if (!payload || !sig || !signatureMatches(flashKey, payload, sig)) return undefined;
    try {
      const { orderId: about, ...flash } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Flash & { orderId: string };
      return about === orderId ? flash : undefined;
    } catch {
      return undefined;
    }
  };
  const actorOf = (ctx: Context) => {
    const raw = ctx.cookies.get(ACTOR_COOKIE, { signed: false });
    try {
      return raw ? decodeURIComponent(raw).slice(0, 100) : undefined;
    } catch {
      return undefined;
    }
  };

  /** Carries out `action` on an existing order; OpsActionRefused passes through for the caller to show. */
  const act = async (orderId: string, action: OpsActionKind, body: ActionBody, defaultActor: string): Promise<OpsActionResult> => {
    if (action === 'resend_email' && !body.kind) throw new HttpError(400, 'invalid_request', `kind: which email to send again (${EMAIL_KINDS.join(', ')})`);
    if (action !== 'resend_email' && body.kind) throw new HttpError(400, 'invalid_request', 'kind: only for resend_email');
    const request = { orderId, requestId: body.requestId, actor: body.actor ?? defaultActor, reason: body.reason || undefined };
    const a = deps.actions;
    const result = await (action === 'refund'
      ? a.refund(request)
      : action === 'cancel'
        ? a.cancel(request)
        : action === 'retry_submission'
          ? a.retrySubmission(request)
          : action === 'resend_email'
            ? a.resendEmail({ ...request, kind: body.kind as EmailKind })
            : a.reprint(request));
    deps.logger.info('ops action', { action, orderId, requestId: body.requestId, actor: request.actor, outcome: result.outcome, repeated: result.repeated ?? false });
    return result;
  };

  router.get('/ops/assets/:file', async (ctx) => {
    const sheet = opsStylesheet();
    if (`/ops/assets/${ctx.params.file}` !== sheet.url) throw new HttpError(404, 'not_found', 'no such file');
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
    ctx.type = 'text/css; charset=utf-8';
    ctx.body = sheet.body;
  });

  router.get('/ops/login', async (ctx) => {
    if (pageAuthorized(ctx)) {
      ctx.status = 303;
      ctx.redirect(safeNext(typeof ctx.query.next === 'string' ? ctx.query.next : undefined));
      return;
    }
    html(ctx, 200, loginPage({ next: safeNext(typeof ctx.query.next === 'string' ? ctx.query.next : undefined) }));
  });

  router.post('/ops/login', async (ctx) => {
    try {
      requireOwnOrigin(ctx);
    } catch (err) {
      ctx.req.resume();
      html(ctx, 403, errorPage(403, (err as Error).message));
      return;
    }
    const form = await readForm(ctx, 8 * 1024);
    const token = form.get('token') ?? '';
    const next = safeNext(form.get('next'));
    if (!token || !equalSecrets(token, deps.opsToken)) {
      deps.logger.warn('ops: sign-in refused', { ip: ctx.ip });
      html(ctx, 401, loginPage({ error: 'That is not the operator token.', next }));
      return;
    }
    ctx.cookies.set(OPS_SESSION_COOKIE, sessionValue(), cookieOptions(ctx, OPS_SESSION_SECONDS * 1000));
    deps.logger.info('ops: signed in', { ip: ctx.ip });
    ctx.status = 303;
    ctx.redirect(next);
  });

  router.post('/ops/logout', async (ctx) => {
    ctx.req.resume();
    try {
      requireOwnOrigin(ctx);
    } catch (err) {
      html(ctx, 403, errorPage(403, (err as Error).message));
      return;
    }
    ctx.cookies.set(OPS_SESSION_COOKIE, null, cookieOptions(ctx, 0));
    ctx.status = 303;
    ctx.redirect(OPS_PATHS.login);
  });

  router.get(
    '/ops',
    page(async (ctx) => {
      const d = await deps.queries.dashboard(deps.stallAfterMs);
      html(ctx, 200, dashboardPage(d, { stallAfterMs: deps.stallAfterMs, links, hasOutbox }));
    }),
  );

  router.get(
    '/ops/orders',
    page(async (ctx) => {
      const filter = parseOr400(ordersQuery, queryOf(ctx));
      const [result, counts] = await Promise.all([deps.queries.orders(filter), deps.queries.counts()]);
      // One exact hit by id: straight to its page, as a shop's admin does.
      if (filter.q && ORDER_ID.test(filter.q) && result.orders.length === 1) {
        ctx.status = 303;
        ctx.redirect(OPS_PATHS.order(result.orders[0]!.id));
        return;
      }
      html(ctx, 200, ordersPage({ ...result, filter, counts }));
    }),
  );

  router.get(
    '/ops/orders/:id',
    page(async (ctx) => {
      const detail = await detailOr404(ctx.params.id!);
      const id = detail.order.id;
      html(
        ctx,
        200,
        orderPage({
          detail,
          actions: await availableActions(id),
          workflowId: orderWorkflowId(id),
          links,
          printFileUrl: printFileUrl(detail),
          flash: takeFlash(ctx, id),
          hasOutbox,
        }),
      );
    }),
  );

  router.get(
    '/ops/orders/:id/confirm/:action',
    page(async (ctx) => {
      const action = parseOr400(actionName, ctx.params.action);
      const detail = await detailOr404(ctx.params.id!);
      const kind = z.enum(EMAIL_KINDS).safeParse(ctx.query.kind);
      const available = (await availableActions(detail.order.id))?.find((a) => a.action === action);
      html(ctx, 200, confirmPage({ detail, action, available, requestId: newRequestId(), actor: actorOf(ctx), kind: kind.success ? kind.data : undefined }));
    }),
  );

  router.post(
    '/ops/orders/:id/actions/:action',
    page(
      async (ctx) => {
        const action = parseOr400(actionName, ctx.params.action);
        const detail = await detailOr404(ctx.params.id!);
        const id = detail.order.id;
        const form = await readForm(ctx, 16 * 1024);
        const field = (name: string) => form.get(name)?.trim() || undefined;
        const fields = { requestId: field('requestId'), reason: field('reason'), actor: field('actor'), kind: field('kind') };
        const again = (status: number, error: string) =>
          html(ctx, status, confirmPage({ detail, action, requestId: newRequestId(), actor: fields.actor, reason: fields.reason, kind: fields.kind as EmailKind | undefined, error }));
        try {
          const result = await act(id, action, parseOr400(actionBody, fields), 'console');
          if (fields.actor) ctx.cookies.set(ACTOR_COOKIE, encodeURIComponent(fields.actor), cookieOptions(ctx, 365 * 86_400_000));
          setFlash(ctx, id, { ok: true, action, message: result.message, newOrderId: result.newOrderId, repeated: result.repeated });
          ctx.status = 303;
          ctx.redirect(OPS_PATHS.order(id));
        } catch (err) {
          if (err instanceof OpsActionRefused) return again(409, err.message);
          if (err instanceof HttpError && err.status === 400) return again(400, err.message);
          throw err;
        }
      },
      { post: true },
    ),
  );

  router.get(
    '/ops/emails',
    page(async (ctx) => {
      const opts = parseOr400(emailsQuery, queryOf(ctx));
      html(ctx, 200, emailsPage({ ...(await deps.queries.emails(opts)), hasOutbox }));
    }),
  );

  /** An outbox message as text: only a file emails_sent names for that key, and only inside outboxDir. */
  router.get(
    '/ops/emails/:key/eml',
    page(async (ctx) => {
      const key = ctx.params.key!;
      const notFound = new HttpError(404, 'not_found', 'no outbox file for that email');
      if (!deps.outboxDir || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !IDEMPOTENCY_KEY.test(key)) throw notFound;
      const file = await deps.queries.outboxFileOf(key);
      if (!file || path.basename(file) !== file || !/^[A-Za-z0-9][A-Za-z0-9._-]*\.eml$/.test(file)) throw notFound;
      const root = path.resolve(deps.outboxDir);
      const resolved = path.join(root, file);
      try {
        // Through links too: the real file must be a plain file inside the real outbox.
        const [realRoot, realFile, info] = await Promise.all([realpath(root), realpath(resolved), lstat(resolved)]);
        if (!info.isFile() || path.dirname(realFile) !== realRoot || info.size > MAX_EML_BYTES) throw notFound;
        ctx.set('Cache-Control', 'no-store');
        ctx.set('X-Robots-Tag', 'noindex');
        ctx.set('Content-Disposition', `inline; filename="${file}"`);
        ctx.type = 'text/plain; charset=utf-8';
        ctx.body = await readFile(realFile);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound;
        throw err;
      }
    }),
  );

  // --- the JSON API: bearer only (a cookie would make its POSTs forgeable from other sites) ---

  const api = (handler: (ctx: Context) => Promise<unknown>) => async (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Robots-Tag', 'noindex');
    if (!validBearer(ctx)) {
      ctx.set('WWW-Authenticate', 'Bearer realm="ops"');
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') ctx.req.resume();
      throw new HttpError(401, 'unauthorized', 'send the operator token as Authorization: Bearer <OPS_TOKEN>');
    }
    ctx.body = await handler(ctx);
  };

  const withEml = <T extends { idempotencyKey: string; transport: string; outboxFile?: string }>(e: T) => ({ ...e, emlUrl: emlUrl(e) });

  router.get(
    '/ops/api/summary',
    api(async () => {
      const d = await deps.queries.dashboard(deps.stallAfterMs);
      return { ...d, emails: d.emails.map(withEml), stallAfterMs: deps.stallAfterMs };
    }),
  );

  router.get(
    '/ops/api/orders',
    api(async (ctx) => deps.queries.orders(parseOr400(ordersQuery, queryOf(ctx)))),
  );

  router.get(
    '/ops/api/orders/:id',
    api(async (ctx) => {
      const detail = await detailOr404(ctx.params.id!);
      const id = detail.order.id;
      const actions = await availableActions(id);
      return {
        ...detail,
        emails: detail.emails.map(withEml),
        actions: actions ?? null,
        ...(actions ? {} : { actionsError: 'the order’s workflow could not be asked which actions apply (is Temporal up?)' }),
        links: { console: OPS_PATHS.order(id), workflow: links.workflow(orderWorkflowId(id)), printFile: printFileUrl(detail) },
      };
    }),
  );

  router.get(
    '/ops/api/alerts',
    api(async (ctx) => {
      return deps.queries.alerts(parseOr400(alertsQuery, queryOf(ctx)));
    }),
  );

  router.get(
    '/ops/api/emails',
    api(async (ctx) => {
      const result = await deps.queries.emails(parseOr400(emailsQuery, queryOf(ctx)));
      return { ...result, emails: result.emails.map(withEml) };
    }),
  );

  router.post(
    '/ops/api/orders/:id/actions/:action',
    api(async (ctx) => {
      const action = actionName.safeParse(ctx.params.action);
      if (!action.success) throw new HttpError(400, 'invalid_action', `no action ${ctx.params.action!.slice(0, 40)}: one of ${OPS_ACTIONS.join(', ')}`);
      if (!(await deps.queries.exists(ctx.params.id!))) {
        ctx.req.resume();
        throw new HttpError(404, 'not_found', `no order ${ctx.params.id!.slice(0, 40)}`);
      }
      const body = parseOr400(actionBody, await readJson(ctx, 16 * 1024));
      try {
        return await act(ctx.params.id!, action.data, body, 'api');
      } catch (err) {
        if (err instanceof OpsActionRefused) throw new HttpError(409, 'action_refused', err.message);
        throw err;
      }
    }),
  );

  return router;
}
