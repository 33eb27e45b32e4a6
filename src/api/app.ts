/** The Koa application: thin routes over workflows; no business logic lives here. */
import type Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../logger.js';
import { errorMiddleware } from './errors.js';
import { healthRoutes, type Probe } from './health.js';
import { rateLimit } from './rate-limit.js';
import { securityHeaders } from './security.js';

export interface AppDeps {
  logger: Logger;
  probes: Probe[];
  /** Keys that sign cookies (the first signs, all verify, for rotation). */
  keys?: string[];
  routers?: Router[];
  /** Behind a reverse proxy: client addresses come from X-Forwarded-For. */
  trustProxy?: boolean;
  /** Served over HTTPS: adds Strict-Transport-Security. */
  https?: boolean;
  /** Photo uploads one client address may make per minute; unset: unlimited. */
  uploadsPerMinute?: number;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ keys: deps.keys });
  app.proxy = deps.trustProxy ?? false;
  app.use(securityHeaders({ https: deps.https ?? false }));
  app.use(errorMiddleware(deps.logger));
  if (deps.uploadsPerMinute) {
    app.use(
      rateLimit({
        applies: (ctx) => ctx.method === 'POST' && ctx.path === '/api/animations',
        perMinute: deps.uploadsPerMinute,
        what: 'photo uploads',
      }),
    );
  }
  for (const router of [healthRoutes(deps.probes), ...(deps.routers ?? [])]) {
    app.use(router.routes()).use(router.allowedMethods());
  }
  return app;
}
