/**
 * fal.ai's queue API through @fal-ai/client: submit → status → result, plus file downloads.
 *
 * - Submitting happens once per idempotency key. fal takes no idempotency key of its own, so the
 *   request id is written to the database the moment fal answers; a retried step finds it there
 *   and never pays for a second job.
 * - Errors become `ModelError`s: rate limits and server errors retryable (a 429's Retry-After
 *   is honoured, waiting in place when short and through the activity's retry when long);
 *   rejected input, failed jobs and malformed answers not.
 * - `baseUrl` sends every call for fal's hosts to another server (the local fake in tests).
 * - Every request, the client's own and our downloads, goes only where `FalHosts` allows; result
 *   files are streamed with a size cap and a deadline (see `download`).
 */
import { ApiError, createFalClient, type FalClient, type StorageSettings } from '@fal-ai/client';
import { createWriteStream } from 'node:fs';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import type { Database } from '../../db/database.js';
import { ModelError, type JobState } from '../port.js';
import { FAL_API_HOSTS, FalHosts } from './hosts.js';

const FAL_ORIGINS = FAL_API_HOSTS.map((h) => `https://${h}`);
/**
 * Customers' photos and everything made from them are deleted from fal's storage after a day: we
 * copy every output into our own store as soon as its job completes.
 */
const FAL_FILE_LIFETIME: StorageSettings = { expiresIn: '1d' };
/** Longer waits than this go back to Temporal's retry instead of holding the activity. */
const MAX_INLINE_WAIT_MS = 30_000;
/** fal's request ids are UUIDs; anything else would end up in the path of our status calls. */
const REQUEST_ID = /^[\w-]{1,128}$/;
const MB = 1024 * 1024;

export interface FalQueueOptions {
  key: string;
  baseUrl?: string;
  db: Database;
  /** Host names (`*.` for any subdomain) results may be downloaded from: `FAL_RESULT_HOSTS`. */
  resultHosts: readonly string[];
  /** Largest result file accepted (`FAL_MAX_RESULT_MB`); default 100 MB. */
  maxDownloadBytes?: number;
  /** How long one download may take, body included; default 2 minutes. */
  downloadTimeoutMs?: number;
  /** Pause between two status checks while `run` waits for a short job. */
  pollIntervalMs?: number;
}

/** A failed job or a malformed answer; `retryable` when a new submission may well succeed. */
export class FalJobError extends ModelError {}

export class FalQueue {
  private readonly client: FalClient;
  private readonly hosts: FalHosts;

  constructor(private readonly opts: FalQueueOptions) {
    const { baseUrl } = opts;
    this.hosts = new FalHosts(opts.resultHosts, baseUrl);
    this.client = createFalClient({
      credentials: opts.key,
      // The client's calls and the presigned upload it PUTs our photo to, checked like downloads.
      fetch: honourRetryAfter((input, init) => {
        if (input instanceof Request) throw new Error('the fal client passed a Request; only URLs are checked');
        return this.hosts.fetch(input, init);
      }),
      requestMiddleware: async (request) => {
        if (!baseUrl) return request;
        const host = FAL_ORIGINS.find((h) => request.url.startsWith(`${h}/`));
        return host ? { ...request, url: baseUrl + request.url.slice(host.length) } : request;
      },
    });
  }

  /**
   * The request made for `key`, or a new one. `input` is only built (uploads included) when a
   * submission is really needed.
   */
  async submitOnce(endpoint: string, key: string, input: () => Promise<Record<string, unknown>>): Promise<string> {
    const known = await this.recorded(key);
    if (known) {
      if (known.endpoint !== endpoint) throw new ModelError('UnknownJob', `request ${key} was made to ${known.endpoint}, not ${endpoint}`);
      return known.requestId;
    }
    const body = await input();
    const { request_id: requestId } = await call('submit', () => this.client.queue.submit(endpoint, { input: body, storageSettings: FAL_FILE_LIFETIME }));
    if (!REQUEST_ID.test(requestId)) throw new FalJobError('InvalidModelOutput', `fal answered a malformed request id for ${endpoint}`);
    // A concurrent twin that got here first wins; its id is the one kept and returned.
    const [row] = await this.opts.db.query<{ request_id: string }>(
      `INSERT INTO provider_requests (provider, idempotency_key, endpoint, request_id) VALUES ('fal', $1, $2, $3)
       ON CONFLICT (provider, idempotency_key) DO UPDATE SET provider = EXCLUDED.provider RETURNING request_id`,
      [key, endpoint, requestId],
    );
    return row!.request_id;
  }

  async recorded(key: string): Promise<{ endpoint: string; requestId: string } | undefined> {
    const [row] = await this.opts.db.query<{ endpoint: string; request_id: string }>(
      `SELECT endpoint, request_id FROM provider_requests WHERE provider = 'fal' AND idempotency_key = $1`,
      [key],
    );
    return row && { endpoint: row.endpoint, requestId: row.request_id };
  }

  /** Forgets a failed request, so the next attempt submits a new one. */
  async forget(key: string): Promise<void> {
    await this.opts.db.query(`DELETE FROM provider_requests WHERE provider = 'fal' AND idempotency_key = $1`, [key]);
  }

  async state(endpoint: string, requestId: string): Promise<JobState> {
    const status = await call('status', () => this.client.queue.status(endpoint, { requestId, logs: false }));
    const failure = (status as { error?: unknown }).error;
    switch (status.status) {
      case 'IN_QUEUE':
        return { state: 'queued' };
      case 'IN_PROGRESS':
        return { state: 'running' };
      case 'COMPLETED':
        return failure ? { state: 'failed', error: String(failure) } : { state: 'completed' };
      default:
        throw new FalJobError('InvalidModelOutput', `fal reported an unknown status for ${requestId}: ${JSON.stringify(status)}`);
    }
  }

  /** Asks fal to stop a request; one that already finished is left as it is. */
  async cancel(endpoint: string, requestId: string): Promise<void> {
    await call('cancel', () => this.client.queue.cancel(endpoint, { requestId })).catch((err: unknown) => {
      if (!(err instanceof FalJobError)) throw err; // 4xx: already completed or unknown
    });
  }

  /** The finished request's output, checked against the endpoint's schema. */
  async result<S extends z.ZodType>(endpoint: string, requestId: string, schema: S): Promise<z.infer<S>> {
    const { data } = await call('result', () => this.client.queue.result(endpoint, { requestId }));
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      throw new FalJobError('InvalidModelOutput', `${endpoint} answered something unexpected: ${parsed.error.issues[0]?.message}`);
    }
    return parsed.data;
  }

  /**
   * Submits (once per key), waits for the job and returns its output: for the image steps, which
   * take seconds. A failed job is forgotten, so a retry of the step submits afresh.
   */
  async run<S extends z.ZodType>(
    endpoint: string,
    key: string,
    input: () => Promise<Record<string, unknown>>,
    schema: S,
  ): Promise<z.infer<S>> {
    const requestId = await this.submitOnce(endpoint, key, input);
    for (;;) {
      const state = await this.state(endpoint, requestId);
      if (state.state === 'completed') break;
      if (state.state === 'failed') {
        await this.forget(key);
        throw new FalJobError('ModelJobFailed', `${endpoint} failed: ${state.error}`, true);
      }
      await sleep(this.opts.pollIntervalMs ?? 1000);
    }
    try {
      return await this.result(endpoint, requestId, schema);
    } catch (err) {
      if (err instanceof FalJobError && !err.retryable) await this.forget(key);
      throw err;
    }
  }

  /** Puts a file on fal's storage and returns its URL, for model inputs. */
  async upload(data: Buffer, contentType: string): Promise<string> {
    return call('upload', () =>
      this.client.storage.upload(new Blob([new Uint8Array(data)], { type: contentType }), { lifecycle: FAL_FILE_LIFETIME }),
    );
  }

  /**
   * An output image, in memory: the port hands images on as Buffers (sharp decodes them whole
   * anyway), so the cap is what bounds the memory it takes.
   */
  async download(url: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const collect = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    await this.stream(url, collect);
    return Buffer.concat(chunks);
  }

  /** An output file (the video), streamed to `file` on disk. */
  async downloadTo(url: string, file: string): Promise<void> {
    await this.stream(url, createWriteStream(file));
  }

  /**
   * Streams a result into `sink`: only from fal's hosts (every redirect hop checked), refused
   * before reading when its Content-Length is over the cap, cut off when the body grows past it,
   * and abandoned after the deadline. Too large or off the list is final; a slow or failing CDN
   * is retried by the step.
   */
  private async stream(url: string, sink: Writable): Promise<void> {
    const limit = this.opts.maxDownloadBytes ?? 100 * MB;
    const timeoutMs = this.opts.downloadTimeoutMs ?? 120_000;
    const signal = AbortSignal.timeout(timeoutMs);
    const host = URL.canParse(url) ? new URL(url).host : 'an unparseable URL';
    const tooLarge = (what: string) => new ModelError('ModelOutputTooLarge', `fal's result on ${host} ${what} the ${limit / MB} MB limit (FAL_MAX_RESULT_MB)`);
    const unavailable = (err: unknown) => {
      if (err instanceof ModelError) return err;
      const why = signal.aborted ? `took longer than ${timeoutMs / 1000} s` : `failed: ${(err as Error).message}`;
      return new ModelError('ProviderUnavailable', `downloading fal's result from ${host} ${why}`, true);
    };
    const res = await this.hosts.fetch(url, { signal }, 'file').catch((err: unknown) => {
      throw unavailable(err);
    });
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new ModelError('ProviderUnavailable', `downloading fal's result from ${host} answered ${res.status}`, res.status >= 500 || res.status === 429);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > limit) {
      await res.body.cancel();
      throw tooLarge(`is ${Math.ceil(declared / MB)} MB, over`);
    }
    let size = 0;
    const cap = new Transform({
      transform(chunk: Uint8Array, _encoding, done) {
        size += chunk.length;
        done(size > limit ? tooLarge('was cut off as it grew past') : null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>), cap, sink, { signal }).catch((err: unknown) => {
      throw unavailable(err);
    });
  }
}

/** Raised by the fetch wrapper when fal asks for a pause longer than we hold an activity for. */
class RateLimited extends Error {
  constructor(public readonly retryAfterMs: number) {
    super(`fal is rate limiting: retry after ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

/**
 * Waits out short 429s in place, as fal's Retry-After asks (the client library would retry on
 * its own schedule instead); a long one ends the call with `RateLimited`, which the client does
 * not retry, so the activity can be retried after exactly that delay.
 */
function honourRetryAfter(inner: typeof fetch): typeof fetch {
  return async (input, init) => {
    for (let waited = 0; ; ) {
      const res = await inner(input, init);
      const retryAfter = res.status === 429 ? parseRetryAfter(res.headers.get('retry-after')) : undefined;
      if (retryAfter === undefined) return res;
      await res.body?.cancel();
      if (waited + retryAfter > MAX_INLINE_WAIT_MS) throw new RateLimited(retryAfter);
      await sleep(retryAfter, undefined, { signal: init?.signal ?? undefined });
      waited += retryAfter;
    }
  };
}

/** Retry-After is seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Maps what the client throws to the port's errors, keeping the call's name for the message. */
async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RateLimited) throw new ModelError('ProviderRateLimited', err.message, true, err.retryAfterMs);
    if (err instanceof ApiError) {
      const detail = typeof err.body === 'object' && err.body && 'detail' in err.body ? JSON.stringify(err.body.detail) : err.message;
      if (err.status === 401 || err.status === 403) throw new ModelError('ProviderAuth', `fal refused the key (${err.status}) on ${what}`, false);
      if (err.status === 429 || err.status >= 500) throw new ModelError('ProviderUnavailable', `fal ${what}: ${err.status} ${detail}`, true);
      throw new FalJobError('ProviderRejected', `fal ${what}: ${err.status} ${detail}`);
    }
    if (err instanceof ModelError) throw err;
    // Network failures the client gave up on: transient.
    throw new ModelError('ProviderUnavailable', `fal ${what}: ${(err as Error).message}`, true);
  }
}
