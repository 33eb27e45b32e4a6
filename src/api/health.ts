import Router from '@koa/router';

export interface Probe {
  name: string;
  check(): Promise<boolean>;
}

/** `/healthz`: the process is up. `/readyz`: every dependency (Temporal, database) answers. */
export function healthRoutes(probes: Probe[]): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const results = await Promise.all(
      probes.map(async (p) => [p.name, await p.check().catch(() => false)] as const),
    );
    const ready = results.every(([, ok]) => ok);
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results.map(([n, ok]) => [n, ok ? 'ok' : 'down'])) };
  });
  return router;
}
