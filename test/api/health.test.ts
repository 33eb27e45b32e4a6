/** The API's error shape and health routes, over real HTTP. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import Router from '@koa/router';
import { createApp } from '../../src/api/app.js';
import { HttpError } from '../../src/api/errors.js';
import { createLogger } from '../../src/logger.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function serve(probes: { name: string; check(): Promise<boolean> }[], extra?: Router) {
  const logged: string[] = [];
  const app = createApp({ logger: createLogger('info', (l) => logged.push(l)), probes });
  if (extra) app.use(extra.routes());
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server!.once('listening', r));
  const base = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  return { get: (p: string) => fetch(base + p), logged };
}

describe('health routes', () => {
  it('/healthz answers while the process is up', async () => {
    const { get } = await serve([{ name: 'temporal', check: async () => false }]);
    const res = await get('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 only when every dependency answers', async () => {
    const { get } = await serve([
      { name: 'temporal', check: async () => true },
      { name: 'database', check: async () => true },
    ]);
    const res = await get('/readyz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { temporal: 'ok', database: 'ok' } });
  });

  it('/readyz is 503 naming what is down, a throwing probe counting as down', async () => {
    const { get } = await serve([
      { name: 'temporal', check: async () => true },
      { name: 'database', check: async () => Promise.reject(new Error('ECONNREFUSED')) },
    ]);
    const res = await get('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not_ready', checks: { temporal: 'ok', database: 'down' } });
  });
});

describe('errors', () => {
  it('unknown routes get the JSON error shape', async () => {
    const { get } = await serve([]);
    const res = await get('/api/nothing-here');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'no route for GET /api/nothing-here' } });
  });

  it('4xx errors show their message; 5xx errors are logged, never shown', async () => {
    const router = new Router();
    router.get('/teapot', () => {
      throw new HttpError(409, 'conflict', 'already submitted');
    });
    router.get('/boom', () => {
      throw new Error('password=hunter2 in a driver message');
    });
    const { get, logged } = await serve([], router);
    const conflict = await get('/teapot');
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toEqual({ error: { code: 'conflict', message: 'already submitted' } });
    const boom = await get('/boom');
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(logged.join('')).toContain('GET');
  });
});
