/**
 * A recording proxy in front of stripe-mock: every request the `stripe` package sends is kept
 * (path, query, form parameters, headers) and forwarded to stripe-mock, whose answers are Stripe's
 * own fixtures. stripe-mock is stateless and always succeeds, so a test that needs Stripe in a
 * particular state (a session paid, a refund already made, an error) queues a substitute answer
 * for the matching request, written in Stripe's wire format; each substitute is used once.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StripeRequest {
  method: string;
  /** Without the query, e.g. `/v1/checkout/sessions`. */
  path: string;
  query: URLSearchParams;
  /** The form-encoded body: `metadata[orderId]`, `line_items[0][quantity]`, … */
  params: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** True when the answer was a substitute, not stripe-mock's. */
  substituted: boolean;
}

export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Stripe's error body and headers (`request-id`, and `stripe-should-retry` when given). */
export function stripeError(
  status: number,
  error: { type: string; message: string; code?: string; param?: string },
  opts: { shouldRetry?: boolean } = {},
): Answer {
  const requestId = `req_${Math.random().toString(36).slice(2, 16)}`;
  return {
    status,
    body: {
      error: {
        ...error,
        ...(error.code && { doc_url: `https://stripe.com/docs/error-codes/${error.code.replaceAll('_', '-')}` }),
        request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}?t=1700000000`,
      },
    },
    headers: { 'request-id': requestId, ...(opts.shouldRetry !== undefined && { 'stripe-should-retry': String(opts.shouldRetry) }) },
  };
}

type Match = (r: { method: string; path: string }) => boolean;

/** `'GET /v1/refunds'`-style matcher (the path may end in `*`). */
export const on = (spec: string): Match => {
  const [method, pattern] = spec.split(' ') as [string, string];
  return (r) => r.method === method && (pattern.endsWith('*') ? r.path.startsWith(pattern.slice(0, -1)) : r.path === pattern);
};

export async function stripeProxy(upstream: string) {
  const requests: StripeRequest[] = [];
  const queue: { match: Match; answer: Answer }[] = [];

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url!, 'http://proxy');
    const at = queue.findIndex((q) => q.match({ method: req.method!, path: url.pathname }));
    const substitute = at >= 0 ? queue.splice(at, 1)[0]!.answer : undefined;
    requests.push({
      method: req.method!,
      path: url.pathname,
      query: url.searchParams,
      params: new URLSearchParams(body.toString()),
      headers: req.headers,
      substituted: Boolean(substitute),
    });
    if (substitute) {
      res.writeHead(substitute.status, { 'content-type': 'application/json', ...substitute.headers }).end(JSON.stringify(substitute.body));
      return;
    }
    try {
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)) as [string, string][],
      );
      const up = await fetch(`${upstream}${req.url}`, { method: req.method, headers, body: body.length ? body : undefined });
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await up.arrayBuffer()));
    } catch (err) {
      res.writeHead(502).end(String(err));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Answers the next request matching `spec` (e.g. `'GET /v1/checkout/sessions/cs_1'`) with `answer` instead of stripe-mock's. */
    substitute(spec: string, answer: Answer) {
      queue.push({ match: on(spec), answer });
    },
    /** Forgets the requests and any substitute not used (and says how many were left unused). */
    reset(): number {
      requests.length = 0;
      return queue.splice(0).length;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export type StripeProxy = Awaited<ReturnType<typeof stripeProxy>>;
