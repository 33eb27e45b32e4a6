/**
 * What the print vendor fakes share: a real HTTP server on a free port, a log of requests, and
 * the failure controls — scripted answers (5xx, 429 with Retry-After) and lost answers (the
 * request is carried out, then the connection is reset, or left hanging until the client
 * times out).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface Scripted {
  method?: string;
  /** Matches when the request path (with query) contains this. */
  path?: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  times: number;
}

export interface Drop {
  method?: string;
  path?: string;
  /** reset: the connection is closed without an answer; hang: no answer until the server stops. */
  mode: 'reset' | 'hang';
  times: number;
}

export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Incoming {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: Buffer;
  json(): unknown;
}

export abstract class FakeVendorServer {
  url = '';
  readonly requests: { method: string; path: string; status: number | 'dropped' }[] = [];
  private readonly scripted: Scripted[] = [];
  private readonly drops: Drop[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private server?: Server;

  protected abstract handle(req: Incoming): Answer | Promise<Answer>;

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** The next `times` matching requests get this answer, and are not carried out. */
  respond(answer: Omit<Scripted, 'times'> & { times?: number }): void {
    this.scripted.push({ times: 1, ...answer });
  }

  /** The next `times` matching requests are carried out, but their answer is lost. */
  dropAnswer(drop: Omit<Drop, 'times' | 'mode'> & { mode?: Drop['mode']; times?: number }): void {
    this.drops.push({ times: 1, mode: 'reset', ...drop });
  }

  requestsTo(method: string, pathPart: string) {
    return this.requests.filter((r) => r.method === method && r.path.includes(pathPart));
  }

  private async serve(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const where = url.pathname + url.search;
    const matches = (r: { method?: string; path?: string }) => (!r.method || r.method === method) && (!r.path || where.includes(r.path));
    const take = <T extends { times: number }>(list: T[]) => {
      const found = list.find(matches as (r: T) => boolean);
      if (found && --found.times <= 0) list.splice(list.indexOf(found), 1);
      return found;
    };
    let answer: Answer;
    const script = take(this.scripted);
    if (script) answer = script;
    else {
      const body = Buffer.concat(chunks);
      try {
        answer = await this.handle({ method, url, headers: req.headers, body, json: () => JSON.parse(body.toString('utf8') || 'null') });
      } catch (err) {
        answer = { status: 500, body: { error: `fake vendor broke: ${(err as Error).message}` } };
      }
      const drop = take(this.drops);
      if (drop) {
        this.requests.push({ method, path: where, status: 'dropped' });
        if (drop.mode === 'reset') res.destroy();
        else this.hanging.add(res);
        return;
      }
    }
    this.requests.push({ method, path: where, status: answer.status });
    res.writeHead(answer.status, { ...(answer.body !== undefined && { 'content-type': 'application/json' }), ...answer.headers });
    res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
  }
}

/** Posts a JSON body exactly as given, for webhooks and callbacks. */
export function postRaw(url: string, rawBody: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: rawBody });
}
