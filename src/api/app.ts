/** The Koa application: thin routes over workflows; no business logic lives here. */
import type Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../logger.js';
import { countRequests } from '../metrics/http.js';
import { errorMiddleware } from './errors.js';
import { healthRoutes, type Probe } from './health.js';
import { securityHeaders } from './security.js';

export interface AppDeps {
  logger: Logger;
  probes: Probe[];
  /** Keys that sign cookies (the first signs, all verify, for rotation). */
  keys?: string[];
  routers?: Router[];
  /**
   * Behind one reverse proxy: a client's address is the last X-Forwarded-For entry, the one that
   * proxy appended (the entries before it are whatever the client sent).
   */
  trustProxy?: boolean;
  /** Served over HTTPS: adds Strict-Transport-Security. */
  https?: boolean;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ keys: deps.keys });
  app.proxy = deps.trustProxy ?? false;
  app.maxIpsCount = app.proxy ? 1 : 0;
  app.use(countRequests()); // outermost: it sees the status the error middleware answers with
  app.use(securityHeaders({ https: deps.https ?? false }));
  app.use(errorMiddleware(deps.logger));
  for (const router of [healthRoutes(deps.probes), ...(deps.routers ?? [])]) {
    app.use(router.routes()).use(router.allowedMethods());
  }
  return app;
}
