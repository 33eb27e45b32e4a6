/**
 * The shopper's pages, served by the API (no front-end server): upload (`/`), live progress
 * (`/animations/:id`), sticker checkout (`/animations/:id/order`), the order page (`/orders/:id`,
 * reached through its private link `#token=…`) and their assets (`/assets/…`). Thin: a page is
 * HTML plus a script; all live and private data comes from the API.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AnimationRepository } from '../animations/repository.js';
import { HttpError } from '../api/errors.js';
import { siteAssets } from './assets.js';
import { sendHtml } from './layout.js';
import { checkoutPage, notFoundPage, orderPage, progressPage, uploadPage } from './views.js';

export interface PageRoutesDeps {
  animations: AnimationRepository;
  /** Shown on the upload page and checked there before uploading. */
  maxUploadBytes: number;
}

export function pageRoutes(deps: PageRoutesDeps): Router {
  const router = new Router();
  // Bundle now, at start-up; a failure surfaces (and is retried) on the first page request.
  siteAssets().catch(() => undefined);

  router.get('/assets/:file', async (ctx) => {
    const asset = (await siteAssets()).byUrl.get(ctx.path);
    if (!asset) throw new HttpError(404, 'not_found', 'no such asset');
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.type = asset.contentType;
    ctx.body = asset.body;
  });

  router.get('/', async (ctx) => sendHtml(ctx, 200, uploadPage(await siteAssets(), deps.maxUploadBytes)));

  /** The animation of an id that exists; malformed ids are simply not found. */
  const animationOr404 = async (ctx: Context) => {
    const id = ctx.params.id!;
    const record = id.length <= 64 ? await deps.animations.get(id) : undefined;
    if (!record) sendHtml(ctx, 404, notFoundPage('buddy'));
    return record;
  };

  router.get('/animations/:id', async (ctx) => {
    const [record, assets] = await Promise.all([animationOr404(ctx), siteAssets()]);
    if (record) sendHtml(ctx, 200, progressPage(assets, record.id));
  });

  router.get('/animations/:id/order', async (ctx) => {
    const [record, assets] = await Promise.all([animationOr404(ctx), siteAssets()]);
    if (record) sendHtml(ctx, 200, checkoutPage(assets, record.id));
  });

  // The same shell for every id: the order is read by the page's script with the token from the
  // private link's fragment, which never reaches this server (nor a Referer).
  router.get('/orders/:id', async (ctx) => sendHtml(ctx, 200, orderPage(await siteAssets()), { private: true }));

  return router;
}
