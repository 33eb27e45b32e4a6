import Router from '@koa/router';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { errorMiddleware } from '../../src/api/errors.js';
import { clientKey, rateLimit } from '../../src/api/rate-limit.js';
import { DEFAULT_CSP } from '../../src/api/security.js';
import { createLogger } from '../../src/logger.js';
import { testLimiter } from '../support/limits.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(app: Koa): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Test routes; the upload route guarded as `animationRoutes` guards it (`limitUploads`). */
function routes(uploadsPerMinute?: number): Router {
  const router = new Router();
  const limit = uploadsPerMinute ? [rateLimit(testLimiter(uploadsPerMinute, 60, 'photo uploads'))] : [];
  router.get('/page', (ctx) => {
    ctx.type = 'html';
    ctx.body = '<!doctype html><p>hi</p>';
  });
  router.get('/own-policy', (ctx) => {
    ctx.set('Content-Security-Policy', "default-src 'none'");
    ctx.body = 'ok';
  });
  router.get('/cookie', (ctx) => {
    ctx.cookies.set('probe', '1', { httpOnly: true, secure: ctx.cookies.secure, signed: false });
    ctx.body = 'ok';
  });
  router.get('/boom', () => {
    throw new Error('secret detail');
  });
  router.post('/api/animations', ...limit, (ctx) => {
    ctx.status = 202;
    ctx.body = { ok: true };
  });
  return router;
}

const logger = createLogger('error', () => undefined);

describe('security headers', () => {
  it('every response carries the standard headers and the default CSP; a route may set its own policy', async () => {
    const base = await serve(createApp({ logger, probes: [], routers: [routes()] }));
    for (const path of ['/page', '/healthz', '/nowhere', '/boom']) {
      const res = await fetch(`${base}${path}`);
      expect(res.headers.get('content-security-policy'), path).toBe(DEFAULT_CSP);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      expect(res.headers.get('referrer-policy'), path).toBe('strict-origin-when-cross-origin');
      expect(res.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
      expect(res.headers.get('permissions-policy'), path).toContain('camera=()');
      expect(res.headers.get('strict-transport-security'), path).toBeNull();
    }
    const failed = await fetch(`${base}/boom`);
    expect(failed.status).toBe(500);
    expect(await failed.text()).not.toContain('secret detail');
    expect((await fetch(`${base}/own-policy`)).headers.get('content-security-policy')).toBe("default-src 'none'");
    expect(DEFAULT_CSP).not.toContain('unsafe-inline');
    expect(DEFAULT_CSP).toContain("frame-ancestors 'none'");
  });

  it('over HTTPS, browsers are told to stay on HTTPS, and cookies are Secure even where TLS ends before us', async () => {
    const base = await serve(createApp({ logger, probes: [], routers: [routes()], https: true }));
    expect((await fetch(`${base}/page`)).headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    // This test server speaks plain HTTP, as an app behind a TLS-terminating proxy does.
    expect((await fetch(`${base}/cookie`)).headers.get('set-cookie')).toMatch(/; secure; httponly$/);
    const plain = await serve(createApp({ logger, probes: [], routers: [routes()] }));
    expect((await fetch(`${plain}/cookie`)).headers.get('set-cookie')).not.toMatch(/secure/);
  });
});

describe('upload rate limit', () => {
  const upload = (base: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/api/animations`, { method: 'POST', body: 'x'.repeat(1000), headers });

  it('allows a burst of the per-minute limit per client, then answers 429 with Retry-After before reading the upload', async () => {
    const base = await serve(createApp({ logger, probes: [], routers: [routes(3)] }));
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await upload(base)).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    const refused = await upload(base);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(await refused.json()).toEqual({ error: { code: 'rate_limited', message: expect.stringContaining('at most 3 a minute') } });
    // Other routes are not limited.
    expect((await fetch(`${base}/page`)).status).toBe(200);
    // Every spelling the router accepts is the same route, and counted as such.
    for (const path of ['/api/animations/', '/API/animations', '/api/Animations/']) {
      expect((await fetch(`${base}${path}`, { method: 'POST', body: 'x' })).status, path).toBe(429);
    }
  });

  it('counts each client on its own, by X-Forwarded-For only behind a trusted proxy', async () => {
    const trusted = await serve(createApp({ logger, probes: [], routers: [routes(1)], trustProxy: true }));
    expect((await upload(trusted, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(202);
    expect((await upload(trusted, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(429);
    expect((await upload(trusted, { 'x-forwarded-for': '203.0.113.8' })).status).toBe(202);
    // The proxy appends the address it saw; what the client wrote before it changes nothing.
    expect((await upload(trusted, { 'x-forwarded-for': '1.1.1.1, 203.0.113.9' })).status).toBe(202);
    for (const spoof of ['1.1.1.2, 203.0.113.9', '10.0.0.1, 1.1.1.3, 203.0.113.9']) {
      expect((await upload(trusted, { 'x-forwarded-for': spoof })).status, spoof).toBe(429);
    }
    // Without a trusted proxy the header is the client's own claim: ignored.
    const direct = await serve(createApp({ logger, probes: [], routers: [routes(1)] }));
    expect((await upload(direct, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(202);
    expect((await upload(direct, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(429);
  });

  it('allows again once the window has passed, and counts each address on its own', async () => {
    let ip = '192.0.2.1';
    const app = new Koa();
    app.use(errorMiddleware(logger));
    app.use(async (ctx, next) => {
      Object.defineProperty(ctx.request, 'ip', { value: ip });
      await next();
    });
    app.use(rateLimit(testLimiter(2, 1, 'tries')));
    app.use((ctx) => (ctx.body = 'ok'));
    const base = await serve(app);
    const hit = async () => (await fetch(base)).status;
    expect([await hit(), await hit(), await hit()]).toEqual([200, 200, 429]);
    ip = '192.0.2.2';
    expect(await hit()).toBe(200);
    ip = '192.0.2.1';
    await new Promise((r) => setTimeout(r, 1100)); // the one-second window ends
    expect([await hit(), await hit(), await hit()]).toEqual([200, 200, 429]);
  });

  it("'mark' lets a limited request through, marked, for routes that must answer anyway", async () => {
    const router = new Router();
    router.get('/orders/:id/paid', rateLimit(testLimiter(2, 60, 'checkout returns'), { whenLimited: 'mark' }), (ctx) => {
      ctx.body = { askedProvider: !ctx.state.rateLimited };
    });
    const base = await serve(createApp({ logger, probes: [], routers: [router] }));
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push(await (await fetch(`${base}/orders/or_x/paid`)).json());
    expect(seen).toEqual([{ askedProvider: true }, { askedProvider: true }, { askedProvider: false }]);
  });

  it('groups IPv6 clients by /64 and unwraps IPv4-mapped addresses', () => {
    expect(clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:0000:0000:0000:0009')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey('10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey('10.1.2.3:51234')).toBe('10.1.2.3');
    expect(clientKey('[2001:db8:1:2::9]:443')).toBe('2001:db8:1:2::/64');
    expect(clientKey('[2001:db8:1:2::9]')).toBe('2001:db8:1:2::/64');
  });
});
