/** The Koa application: thin routes over workflows; no business logic lives here. */
import Koa from 'koa';
import type { Logger } from '../logger.js';
import { errorMiddleware } from './errors.js';
import { healthRoutes, type Probe } from './health.js';

export interface AppDeps {
  logger: Logger;
  probes: Probe[];
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  app.use(errorMiddleware(deps.logger));
  const health = healthRoutes(deps.probes);
  app.use(health.routes()).use(health.allowedMethods());
  return app;
}
