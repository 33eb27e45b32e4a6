/**
 * A local stand-in for fal.ai that speaks its wire format over real HTTP, so the real
 * @fal-ai/client (pointed here by FAL_BASE_URL) is what the tests exercise.
 *
 * - Queue API: POST /{endpoint} → {request_id, status_url, response_url, cancel_url,
 *   queue_position}; GET /{owner}/{alias}/requests/{id}/status → IN_QUEUE | IN_PROGRESS |
 *   COMPLETED (a failed job: COMPLETED with `error` and `error_type`); GET …/requests/{id} → the
 *   output (a failed job: its error status and `{detail}`); PUT …/requests/{id}/cancel.
 * - Storage: POST /storage/upload/initiate → {upload_url, file_url}; PUT the bytes; GET the file.
 * - `Authorization: Key <key>` on every queue and storage call.
 * - The "models" do real work on the inputs, with sharp and ffmpeg: the image editor tints and
 *   posterises (and grows the canvas for a 2:3 aspect ratio), background removal keeps an
 *   ellipse, the video model bounces the image over white for 5 s (H.264), and video matting keys
 *   the white out into VP9 with alpha.
 * - Test controls: `jobMs` (how long a job runs), `hold(endpoint)`/`release()` (jobs stay IN_PROGRESS),
 *   `failNext(endpoint)`, `respond(...)` (scripted HTTP answers such as 429 with Retry-After or
 *   500), and logs of submissions and requests.
 * - Misbehaving results: `answerNextWith(endpoint, url)` makes the next job's output point at any
 *   URL (another host); `serveOddFile(...)` serves a file that redirects, declares a size it
 *   never sends, or never ends; `oddReads` tells whether the client hung up on it.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';

const exec = promisify(execFile);

interface Job {
  id: string;
  endpoint: string;
  input: Record<string, unknown>;
  submittedAt: number;
  outcome?: { output: unknown } | { error: string; status: number };
  cancelled?: boolean;
}

/** A file served badly on purpose. */
export type OddFile =
  | { redirectTo: string }
  /** Declares `declaredBytes` in Content-Length, sends a first chunk, then waits for the client. */
  | { declaredBytes: number }
  /** No Content-Length, and chunks until the client hangs up. */
  | { endless: true };

interface ScriptedAnswer {
  method?: string;
  /** Matches when the request path contains this. */
  path?: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  times: number;
}

export interface FakeFalOptions {
  key: string;
  ffmpegPath?: string;
  /** How long a job runs before it completes (the first third of it queued). */
  jobMs?: number;
}

export class FakeFal {
  url = '';
  /** `lifecycle`: the object-lifecycle header the client sent, parsed. */
  readonly submissions: { endpoint: string; input: Record<string, unknown>; at: number; lifecycle?: unknown }[] = [];
  readonly uploads: { contentType: string; lifecycle?: unknown }[] = [];
  readonly requests: { method: string; path: string; status: number; at: number }[] = [];
  private readonly jobs = new Map<string, Job>();
  private readonly files = new Map<string, { type: string; data: Buffer }>();
  private readonly scripted: ScriptedAnswer[] = [];
  private readonly failing = new Map<string, string>();
  private readonly held = new Map<string, { promise: Promise<void>; release: () => void }>();
  private readonly outputUrls = new Map<string, string>();
  private readonly oddFiles = new Map<string, OddFile>();
  /** Per odd file: bytes sent, and whether the client closed the connection before the end. */
  readonly oddReads = new Map<string, { sent: number; clientClosed: boolean }>();
  private server?: Server;

  constructor(private readonly opts: FakeFalOptions) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => send(res, 500, { detail: `fake fal broke: ${err.message}` }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (typeof address !== 'object' || !address) throw new Error('no address');
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** The next `times` requests matching get this answer instead. */
  respond(answer: Omit<ScriptedAnswer, 'times'> & { times?: number }) {
    this.scripted.push({ times: 1, ...answer });
  }

  /** The next job submitted to `endpoint` runs, then fails with `message`. */
  failNext(endpoint: string, message = 'the model crashed') {
    this.failing.set(endpoint, message);
  }

  /** Jobs of `endpoint` stay IN_PROGRESS until released. */
  hold(endpoint: string) {
    if (this.held.has(endpoint)) return;
    let release!: () => void;
    const promise = new Promise<void>((r) => (release = r));
    this.held.set(endpoint, { promise, release });
  }

  /** Lets held jobs of `endpoint` (or of every endpoint) finish. */
  release(endpoint?: string) {
    for (const [held, { release }] of this.held) {
      if (endpoint && held !== endpoint) continue;
      release();
      this.held.delete(held);
    }
  }

  /** The next job of `endpoint` reports `url` as its output file, wherever that is. */
  answerNextWith(endpoint: string, url: string) {
    this.outputUrls.set(endpoint, url);
  }

  /** Serves `data` under the fake's own /files/, as a job's output would be; returns its URL. */
  serveFile(data: Buffer, type: string): string {
    const id = randomUUID();
    this.files.set(id, { type, data });
    return `${this.url}/files/${id}`;
  }

  /** Serves `file` under the fake's own /files/; returns its URL. */
  serveOddFile(file: OddFile): string {
    const id = `odd-${randomUUID()}`;
    this.oddFiles.set(id, file);
    return `${this.url}/files/${id}`;
  }

  submissionsTo(endpoint: string) {
    return this.submissions.filter((s) => s.endpoint === endpoint);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const at = Date.now();
    const log = (status: number) => this.requests.push({ method, path: url.pathname, status, at });
    const body = await readBody(req);

    const files = /^\/files\/([\w-]+)$/.exec(url.pathname);
    const odd = files && this.oddFiles.get(files[1]!);
    if (method === 'GET' && odd) {
      log('redirectTo' in odd ? 302 : 200);
      return this.sendOdd(files[1]!, odd, res);
    }
    if (method === 'GET' && files) {
      const file = this.files.get(files[1]!);
      log(file ? 200 : 404);
      if (!file) return send(res, 404, { detail: 'File not found' });
      res.writeHead(200, { 'content-type': file.type, 'content-length': file.data.length });
      return res.end(file.data);
    }
    const upload = /^\/uploads\/([\w-]+)$/.exec(url.pathname);
    if (method === 'PUT' && upload) {
      this.files.set(upload[1]!, { type: String(req.headers['content-type'] ?? 'application/octet-stream'), data: body });
      log(200);
      return send(res, 200, {});
    }

    const script = this.scripted.find((s) => (!s.method || s.method === method) && (!s.path || url.pathname.includes(s.path)));
    if (script) {
      if (--script.times <= 0) this.scripted.splice(this.scripted.indexOf(script), 1);
      log(script.status);
      return send(res, script.status, script.body ?? { detail: `scripted ${script.status}` }, script.headers);
    }
    if (req.headers.authorization !== `Key ${this.opts.key}`) {
      log(401);
      return send(res, 401, { detail: 'No user found for Key ID and Secret' });
    }

    if (method === 'POST' && url.pathname === '/storage/upload/initiate') {
      const { content_type: type } = JSON.parse(body.toString() || '{}') as { content_type?: string };
      if (!type) return log(422), send(res, 422, { detail: [{ loc: ['body', 'content_type'], msg: 'field required', type: 'value_error.missing' }] });
      const id = randomUUID();
      this.uploads.push({ contentType: type, lifecycle: lifecycle(req, 'x-fal-object-lifecycle') });
      log(200);
      return send(res, 200, { upload_url: `${this.url}/uploads/${id}`, file_url: `${this.url}/files/${id}` });
    }

    const request = /^\/([^/]+\/[^/]+)\/requests\/([\w-]+)(\/status|\/cancel)?$/.exec(url.pathname);
    if (request) {
      const [, appId, id, action] = request;
      const job = this.jobs.get(id!);
      if (!job || !job.endpoint.startsWith(`${appId}/`) && job.endpoint !== appId) {
        log(404);
        return send(res, 404, { detail: 'Request not found' });
      }
      const status = this.status(job);
      if (action === '/status' && method === 'GET') {
        const code = status.status === 'COMPLETED' ? 200 : 202; // fal answers 202 until the job is done
        log(code);
        return send(res, code, status, { 'x-fal-request-id': job.id });
      }
      if (action === '/cancel' && method === 'PUT') {
        if (status.status === 'COMPLETED') return log(400), send(res, 400, { status: 'ALREADY_COMPLETED' });
        job.cancelled = true;
        job.outcome = { error: 'Request was cancelled', status: 400 };
        log(202);
        return send(res, 202, { status: 'CANCELLATION_REQUESTED' });
      }
      if (!action && method === 'GET') {
        if (status.status !== 'COMPLETED') return log(400), send(res, 400, { detail: 'Request is still in progress' });
        const outcome = job.outcome!;
        if ('error' in outcome) return log(outcome.status), send(res, outcome.status, { detail: outcome.error });
        log(200);
        return send(res, 200, outcome.output, { 'x-fal-request-id': job.id });
      }
    }

    if (method === 'POST') {
      const endpoint = url.pathname.slice(1);
      const model = MODELS[endpoint];
      if (!model) return log(404), send(res, 404, { detail: `Application '${endpoint}' not found` });
      const input = JSON.parse(body.toString() || '{}') as Record<string, unknown>;
      const missing = model.required.filter((field) => input[field] === undefined);
      if (missing.length) {
        log(422);
        return send(res, 422, { detail: missing.map((f) => ({ loc: ['body', f], msg: 'field required', type: 'value_error.missing' })) });
      }
      const job: Job = { id: randomUUID(), endpoint, input, submittedAt: Date.now() };
      this.jobs.set(job.id, job);
      this.submissions.push({ endpoint, input, at: job.submittedAt, lifecycle: lifecycle(req, 'x-fal-object-lifecycle-preference') });
      this.run(job, model);
      const appId = endpoint.split('/').slice(0, 2).join('/');
      const base = `${this.url}/${appId}/requests/${job.id}`;
      log(200);
      return send(res, 200, {
        request_id: job.id,
        response_url: base,
        status_url: `${base}/status`,
        cancel_url: `${base}/cancel`,
        queue_position: 0,
      });
    }
    log(404);
    send(res, 404, { detail: 'Not Found' });
  }

  private sendOdd(id: string, file: OddFile, res: ServerResponse) {
    if ('redirectTo' in file) {
      res.writeHead(302, { location: file.redirectTo });
      return res.end();
    }
    const read = { sent: 0, clientClosed: false };
    this.oddReads.set(id, read);
    const chunk = Buffer.alloc(64 * 1024, 7);
    res.on('close', () => (read.clientClosed = !res.writableFinished));
    res.writeHead(200, { 'content-type': 'video/webm', ...('declaredBytes' in file && { 'content-length': file.declaredBytes }) });
    const more = () => {
      if (res.destroyed) return;
      const flowing = res.write(chunk);
      read.sent += chunk.length;
      // A declared size is never delivered: after the first chunk the fake waits for the client.
      if (!('endless' in file)) return;
      if (flowing) setImmediate(more);
      else res.once('drain', more);
    };
    more();
  }

  private status(job: Job) {
    const base = `${this.url}/${job.endpoint.split('/').slice(0, 2).join('/')}/requests/${job.id}`;
    if (job.outcome) {
      const failed = 'error' in job.outcome;
      return {
        status: 'COMPLETED',
        request_id: job.id,
        response_url: base,
        logs: null,
        metrics: { inference_time: (Date.now() - job.submittedAt) / 1000 },
        ...(failed && { error: (job.outcome as { error: string }).error, error_type: 'runner_error' }),
      };
    }
    const queued = Date.now() - job.submittedAt < (this.opts.jobMs ?? 300) / 3;
    return queued
      ? { status: 'IN_QUEUE', request_id: job.id, response_url: base, queue_position: 0 }
      : { status: 'IN_PROGRESS', request_id: job.id, response_url: base, logs: null };
  }

  private run(job: Job, model: FakeModel) {
    const failure = this.failing.get(job.endpoint);
    this.failing.delete(job.endpoint);
    void (async () => {
      await new Promise((r) => setTimeout(r, this.opts.jobMs ?? 300));
      await this.held.get(job.endpoint)?.promise;
      if (job.cancelled) return;
      if (failure) {
        job.outcome = { error: failure, status: 500 };
        return;
      }
      try {
        job.outcome = { output: await model.produce(job.input, this.tools(job.endpoint)) };
      } catch (err) {
        job.outcome = { error: (err as Error).message, status: 422 };
      }
    })();
  }

  private tools(endpoint: string): ModelTools {
    return {
      ffmpeg: this.opts.ffmpegPath ?? 'ffmpeg',
      fetchFile: async (fileUrl) => {
        const res = await fetch(fileUrl);
        if (!res.ok) throw new Error(`could not download ${fileUrl}: ${res.status}`);
        return Buffer.from(await res.arrayBuffer());
      },
      store: async (data, type, name) => {
        const id = randomUUID();
        this.files.set(id, { type, data });
        const meta: { width?: number; height?: number } = type.startsWith('image/') ? await sharp(data).metadata() : {};
        const elsewhere = this.outputUrls.get(endpoint);
        this.outputUrls.delete(endpoint);
        return {
          url: elsewhere ?? `${this.url}/files/${id}`,
          content_type: type,
          file_name: name,
          file_size: data.length,
          ...(meta.width && { width: meta.width, height: meta.height }),
        };
      },
    };
  }
}

interface ModelTools {
  ffmpeg: string;
  fetchFile(url: string): Promise<Buffer>;
  store(data: Buffer, type: string, name: string): Promise<Record<string, unknown>>;
}

interface FakeModel {
  required: string[];
  produce(input: Record<string, unknown>, tools: ModelTools): Promise<unknown>;
}

/** Runs ffmpeg in a scratch folder holding `inputs`; returns the file it wrote as `out`. */
async function ffmpeg(tools: ModelTools, inputs: Record<string, Buffer>, args: (dir: string) => string[], out: string) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fake-fal-'));
  try {
    for (const [name, data] of Object.entries(inputs)) await writeFile(path.join(dir, name), data);
    await exec(tools.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', ...args(dir)]);
    return await readFile(path.join(dir, out));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const MODELS: Record<string, FakeModel> = {
  'fal-ai/flux-pro/kontext': {
    required: ['prompt', 'image_url'],
    async produce(input, tools) {
      const source = await tools.fetchFile(String(input.image_url));
      let image = sharp(source).flatten({ background: '#ffffff' }).resize(512, 512, { fit: 'inside' }).median(3).modulate({ saturation: 1.5 });
      if (input.aspect_ratio === '2:3') {
        const { data, info } = await image.png().toBuffer({ resolveWithObject: true });
        image = sharp(data).extend({ bottom: Math.round(info.width * 1.5) - info.height, background: '#ffffff' });
      }
      const png = await image.png().toBuffer();
      return {
        images: [await tools.store(png, 'image/png', 'edited.png')],
        has_nsfw_concepts: [false],
        prompt: input.prompt,
        seed: 42,
        timings: {},
      };
    },
  },
  'fal-ai/birefnet/v2': {
    required: ['image_url'],
    async produce(input, tools) {
      const source = await tools.fetchFile(String(input.image_url));
      const { width = 0, height = 0 } = await sharp(source).metadata();
      const mask = Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><ellipse cx="${width / 2}" cy="${height / 2}" rx="${width * 0.35}" ry="${height * 0.45}" fill="#fff"/></svg>`,
      );
      const alpha = await sharp(mask).extractChannel('alpha').raw().toBuffer();
      // Two pipelines: sharp would apply removeAlpha after joinChannel in one.
      const rgb = await sharp(source).removeAlpha().png().toBuffer();
      const png = await sharp(rgb).joinChannel(alpha, { raw: { width, height, channels: 1 } }).png().toBuffer();
      return { image: await tools.store(png, 'image/png', 'cutout.png') };
    },
  },
  'fal-ai/kling-video/v2.1/standard/image-to-video': {
    required: ['prompt', 'image_url'],
    async produce(input, tools) {
      if (input.duration !== undefined && !['5', '10'].includes(String(input.duration))) throw new Error('duration must be "5" or "10"');
      const still = await sharp(await tools.fetchFile(String(input.image_url))).resize(400, 400, { fit: 'inside' }).png().toBuffer();
      const seconds = Number(input.duration ?? 5);
      const mp4 = await ffmpeg(
        tools,
        { 'still.png': still },
        (dir) => [
          '-f', 'lavfi', '-i', `color=white:s=480x480:d=${seconds}:r=24`,
          '-loop', '1', '-i', path.join(dir, 'still.png'),
          '-filter_complex', "[0][1]overlay=x=(W-w)/2:y='(H-h)-10-abs(sin(t*2.5))*50':shortest=1,format=yuv420p",
          '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', path.join(dir, 'video.mp4'),
        ],
        'video.mp4',
      );
      return { video: await tools.store(mp4, 'video/mp4', 'video.mp4') };
    },
  },
  'veed/video-background-removal': {
    required: ['video_url'],
    async produce(input, tools) {
      const mp4 = await tools.fetchFile(String(input.video_url));
      const webm = await ffmpeg(
        tools,
        { 'in.mp4': mp4 },
        (dir) => [
          '-i', path.join(dir, 'in.mp4'),
          '-vf', 'format=rgba,colorkey=white:0.12:0.05',
          '-c:v', 'libvpx-vp9', '-pix_fmt', 'yuva420p', '-auto-alt-ref', '0', '-deadline', 'realtime', '-cpu-used', '8',
          path.join(dir, 'out.webm'),
        ],
        'out.webm',
      );
      return { video: [await tools.store(webm, 'video/webm', 'foreground.webm')] };
    },
  },
};

function lifecycle(req: IncomingMessage, header: string): unknown {
  const value = req.headers[header];
  return typeof value === 'string' ? JSON.parse(value) : undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
