/** The Koa application: thin routes over workflows; no business logic lives here. */
import type Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../logger.js';
import { errorMiddleware } from './errors.js';
import { healthRoutes, type Probe } from './health.js';

export interface AppDeps {
  logger: Logger;
  probes: Probe[];
  /** Keys that sign cookies (the first signs, all verify, for rotation). */
  keys?: string[];
  routers?: Router[];
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ keys: deps.keys });
  app.proxy = false;
  app.use(errorMiddleware(deps.logger));
  for (const router of [healthRoutes(deps.probes), ...(deps.routers ?? [])]) {
    app.use(router.routes()).use(router.allowedMethods());
  }
  return app;
}
