/**
 * The fal back end through the real @fal-ai/client against the local fal fake, over HTTP: each
 * generative step, the two-request animation job, one submission per key, how rate limits,
 * server errors, refused keys and failed jobs come out — at the back end and at the activity —
 * and that results are read only from fal's hosts, never larger than the cap.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alphaCoverage, createAnimationActivities } from '../../src/activities/animation.js';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { FalModelBackend } from '../../src/models/fal/backend.js';
import { ANIMATE, EDIT_IMAGE, MATTE_VIDEO, REMOVE_BACKGROUND } from '../../src/models/fal/endpoints.js';
import { FalQueue, parseRetryAfter } from '../../src/models/fal/queue.js';
import { ModelError, type JobState } from '../../src/models/port.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { FakeFal } from '../fakes/fal.js';
import { callActivity } from '../support/activities.js';
import { openLedger } from '../support/ledger.js';

const KEY = 'fal-test-key:secret';
let fake: FakeFal;
let db: Database;

beforeAll(async () => {
  fake = await new FakeFal({ key: KEY, jobMs: 150 }).start();
  ({ db } = await openLedger());
});
afterAll(async () => {
  await fake?.stop();
  await db?.close();
});

const notLocal = { moderate: () => Promise.reject(new Error('unused')), analyze: () => Promise.reject(new Error('unused')) };
/** The hosts and cap a deployment gets by default. */
const { resultHosts, maxResultBytes } = loadConfig({ FAL_KEY: KEY }).models.fal!;
const backend = (key = KEY, opts: Partial<ConstructorParameters<typeof FalQueue>[0]> = {}) =>
  new FalModelBackend({
    queue: new FalQueue({ key, baseUrl: fake.url, db, pollIntervalMs: 50, resultHosts, maxDownloadBytes: maxResultBytes, ...opts }),
    local: notLocal,
    ffmpegPath: 'ffmpeg',
  });
const uid = () => crypto.randomUUID();

/** A photo-like input: a figure on a coloured background. */
const photo = () =>
  sharp(
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320"><rect width="320" height="320" fill="#7ab"/><circle cx="160" cy="120" r="60" fill="#fc9"/><rect x="100" y="180" width="120" height="140" fill="#c33"/></svg>`,
    ),
  )
    .png()
    .toBuffer();

async function finish(models: FalModelBackend, job: Parameters<FalModelBackend['animationState']>[0]): Promise<JobState[]> {
  const seen: JobState[] = [];
  for (;;) {
    const state = await models.animationState(job);
    seen.push(state);
    if (state.state === 'completed' || state.state === 'failed') return seen;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const thrown = async (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as ModelError);

describe('the generative steps', () => {
  it('cartoonize uploads the photo and returns the edited image; the same key never pays twice', async () => {
    const models = backend();
    const key = `${uid()}:cartoonize`;
    const before = fake.submissionsTo(EDIT_IMAGE).length;
    const first = await models.cartoonize(await photo(), { framing: 'bust', box: { left: 0, top: 0, width: 1, height: 1 }, subjects: 1 }, key);
    const again = await models.cartoonize(await photo(), { framing: 'bust', box: { left: 0, top: 0, width: 1, height: 1 }, subjects: 1 }, key);
    expect((await sharp(first).metadata()).format).toBe('png');
    expect(again.equals(first)).toBe(true);
    const made = fake.submissionsTo(EDIT_IMAGE).slice(before);
    expect(made).toHaveLength(1);
    expect(made[0]!.input).toMatchObject({ output_format: 'png', image_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/files\//) });
  });

  it('asks fal to delete the uploaded photo and the outputs after a day', async () => {
    const [uploadsBefore, before] = [fake.uploads.length, fake.submissions.length];
    await backend().removeBackground(await photo(), `${uid()}:segment`);
    expect(fake.uploads.slice(uploadsBefore)).toEqual([{ contentType: 'image/png', lifecycle: { expiration_duration_seconds: 86_400 } }]);
    expect(fake.submissions.slice(before).map((s) => s.lifecycle)).toEqual([{ expiration_duration_seconds: 86_400 }]);
  });

  it('expandToFullBody asks for a 2:3 image and gets a taller shape', async () => {
    const out = await backend().expandToFullBody(await photo(), `${uid()}:expand`);
    const { width = 0, height = 0 } = await sharp(out).metadata();
    expect(height / width).toBeCloseTo(1.5, 1);
    expect(fake.submissionsTo(EDIT_IMAGE).at(-1)!.input).toMatchObject({ aspect_ratio: '2:3' });
  });

  it('removeBackground returns a cut-out with real transparency', async () => {
    const out = await backend().removeBackground(await photo(), `${uid()}:segment`);
    expect((await sharp(out).metadata()).hasAlpha).toBe(true);
    const coverage = await alphaCoverage(out);
    expect(coverage).toBeGreaterThan(0.2);
    expect(coverage).toBeLessThan(0.9);
    expect(fake.submissionsTo(REMOVE_BACKGROUND).at(-1)!.input).toMatchObject({ model: 'General Use (Light)', output_format: 'png' });
  });
});

describe('the animation job', () => {
  it('video, then matting, then 5 s of transparent 24 fps frames; each request made once', async () => {
    const models = backend();
    const key = uid();
    const cutout = await backend().removeBackground(await photo(), `${key}:segment`);
    const [videosBefore, mattesBefore] = [fake.submissionsTo(ANIMATE).length, fake.submissionsTo(MATTE_VIDEO).length];

    const job = await models.submitAnimation({ cutout, idempotencyKey: key });
    expect(await models.submitAnimation({ cutout, idempotencyKey: key })).toEqual(job);
    expect(fake.submissionsTo(ANIMATE).at(-1)!.input).toMatchObject({ duration: '5' });

    const states = await finish(models, job);
    expect(states.at(-1)).toEqual({ state: 'completed' });
    expect(states.some((s) => s.state === 'queued' || s.state === 'running')).toBe(true);
    expect(await models.animationState(job)).toEqual({ state: 'completed' }); // asking again submits nothing

    const frames: Buffer[] = [];
    const { fps, frames: count } = await models.fetchAnimation(job, async (png) => void frames.push(png));
    expect({ fps, count }).toEqual({ fps: 24, count: 120 });
    const meta = await sharp(frames[60]!).metadata();
    expect(meta).toMatchObject({ width: 512, height: 512, hasAlpha: true });
    const coverage = await alphaCoverage(frames[60]!);
    expect(coverage).toBeGreaterThan(0.02);
    expect(coverage).toBeLessThan(0.9); // the white around the character was keyed out

    expect(fake.submissionsTo(ANIMATE).length - videosBefore).toBe(1);
    expect(fake.submissionsTo(MATTE_VIDEO).length - mattesBefore).toBe(1);
    const matteInput = fake.submissionsTo(MATTE_VIDEO).at(-1)!.input;
    expect(matteInput).toMatchObject({ output_codec: 'vp9', video_url: expect.stringContaining('/files/') });
  }, 60_000);

  it('cancelling stops a running job at fal; cancelling a finished one changes nothing', async () => {
    const models = backend();
    fake.hold(ANIMATE);
    const job = await models.submitAnimation({ cutout: await photo(), idempotencyKey: uid() });
    await models.cancelAnimation(job);
    fake.release(ANIMATE);
    expect(fake.requests.some((r) => r.method === 'PUT' && r.path.endsWith(`/requests/${job.jobId}/cancel`) && r.status === 202)).toBe(true);
    expect((await finish(models, job)).at(-1)).toEqual({ state: 'failed', error: 'Request was cancelled' });
    await models.cancelAnimation(job); // 400 ALREADY_COMPLETED: not an error
    expect(fake.submissionsTo(MATTE_VIDEO).some((s) => JSON.stringify(s.input).includes(job.jobId))).toBe(false);
  });

  it('a failed video job is reported failed, and the poll activity stops without retrying', async () => {
    const models = backend();
    fake.failNext(ANIMATE, 'GPU out of memory');
    const job = await models.submitAnimation({ cutout: await photo(), idempotencyKey: uid() });
    expect((await finish(models, job)).at(-1)).toEqual({ state: 'failed', error: 'GPU out of memory' });

    const acts = createAnimationActivities({ blobs: await blobs(), models, ffmpegPath: 'ffmpeg', pollIntervalMs: 20 });
    const err = await thrown(callActivity(new MockActivityEnvironment(), acts.pollAnimation, { job }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'AnimationJobFailed', nonRetryable: true });
    expect(err.message).toContain('GPU out of memory');
  });
});

describe('when fal misbehaves', () => {
  beforeEach(() => fake.release());

  it('429 with a short Retry-After: waits as asked, then submits once', async () => {
    fake.respond({ method: 'POST', path: EDIT_IMAGE, status: 429, headers: { 'retry-after': '1' }, body: { detail: 'Too many requests' } });
    const before = fake.submissionsTo(EDIT_IMAGE).length;
    const started = Date.now();
    await backend().cartoonize(await photo(), { framing: 'bust', box: { left: 0, top: 0, width: 1, height: 1 }, subjects: 1 }, `${uid()}:cartoonize`);
    const attempts = fake.requests.filter((r) => r.method === 'POST' && r.path === `/${EDIT_IMAGE}` && r.at >= started);
    expect(attempts.map((a) => a.status)).toEqual([429, 200]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(950);
    expect(fake.submissionsTo(EDIT_IMAGE).length - before).toBe(1);
  });

  it('429 with a long Retry-After: the activity fails retryably with that delay, nothing submitted', async () => {
    fake.respond({ method: 'POST', path: ANIMATE, status: 429, headers: { 'retry-after': '120' } });
    const before = fake.submissionsTo(ANIMATE).length;
    const store = await blobs();
    await store.put('animations/a/cutout.png', Readable.from([await photo()]));
    const acts = createAnimationActivities({ blobs: store, models: backend(), ffmpegPath: 'ffmpeg' });
    const err = await thrown(callActivity(new MockActivityEnvironment(), acts.submitAnimation, { animationId: uid(), cutoutKey: 'animations/a/cutout.png' }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'ProviderRateLimited', nonRetryable: false, nextRetryDelay: 120_000 });
    expect(fake.submissionsTo(ANIMATE).length).toBe(before);
  });

  it('a 500 on submit is retryable and records nothing; the retry submits once', async () => {
    const models = backend();
    const key = uid();
    fake.respond({ method: 'POST', path: ANIMATE, status: 500, body: { detail: 'Internal Server Error' } });
    const err = await thrown(models.submitAnimation({ cutout: await photo(), idempotencyKey: key }));
    expect(err).toMatchObject({ type: 'ProviderUnavailable', retryable: true });
    const before = fake.submissionsTo(ANIMATE).length;
    await models.submitAnimation({ cutout: await photo(), idempotencyKey: key });
    expect(fake.submissionsTo(ANIMATE).length - before).toBe(1);
  });

  it('a 503 on a status check is retried by the client, and polling carries on', async () => {
    const models = backend();
    const job = await models.submitAnimation({ cutout: await photo(), idempotencyKey: uid() });
    fake.respond({ method: 'GET', path: `/requests/${job.jobId}/status`, status: 503 });
    expect((await finish(models, job)).at(-1)).toEqual({ state: 'completed' });
    expect(fake.requests.some((r) => r.path.endsWith(`${job.jobId}/status`) && r.status === 503)).toBe(true);
  }, 30_000);

  it('a failed image job is forgotten, so the step’s retry submits a new one', async () => {
    const models = backend();
    const key = `${uid()}:segment`;
    fake.failNext(REMOVE_BACKGROUND, 'runner crashed');
    const err = await thrown(models.removeBackground(await photo(), key));
    expect(err).toMatchObject({ type: 'ModelJobFailed', retryable: true });
    const before = fake.submissionsTo(REMOVE_BACKGROUND).length;
    expect((await sharp(await models.removeBackground(await photo(), key)).metadata()).hasAlpha).toBe(true);
    expect(fake.submissionsTo(REMOVE_BACKGROUND).length - before).toBe(1);
  });

  it('a refused key fails without retry', async () => {
    const err = await thrown(backend('wrong:key').removeBackground(await photo(), `${uid()}:segment`));
    expect(err).toMatchObject({ type: 'ProviderAuth', retryable: false });
  });

  it('input fal rejects (422) fails without retry and says why', async () => {
    fake.respond({ method: 'POST', path: EDIT_IMAGE, status: 422, body: { detail: [{ loc: ['body', 'image_url'], msg: 'could not load image', type: 'value_error' }] } });
    const err = await thrown(backend().expandToFullBody(await photo(), `${uid()}:expand`));
    expect(err).toMatchObject({ type: 'ProviderRejected', retryable: false });
    expect(err.message).toContain('could not load image');
  });
});

describe('results come only from fal’s hosts, and never larger than the cap', () => {
  beforeEach(() => fake.release());
  const subject = { framing: 'bust', box: { left: 0, top: 0, width: 1, height: 1 }, subjects: 1 } as const;

  it('a result on another host fails the step without retry, naming the host, and nothing is fetched from it', async () => {
    const other = await elsewhere();
    try {
      fake.answerNextWith(REMOVE_BACKGROUND, `${other.url}/files/cutout.png?sig=very-secret`);
      const store = await blobs();
      await store.put('animations/a/cartoon.png', Readable.from([await photo()]));
      const acts = createAnimationActivities({ blobs: store, models: backend(), ffmpegPath: 'ffmpeg' });
      const err = await thrown(callActivity(new MockActivityEnvironment(), acts.segmentImage, { animationId: uid(), imageKey: 'animations/a/cartoon.png' }));
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err).toMatchObject({ type: 'ProviderHostRefused', nonRetryable: true });
      expect(err.message).toContain(other.host);
      expect(err.message).not.toContain('very-secret');

      // A look-alike https host is refused the same way, before any connection.
      fake.answerNextWith(EDIT_IMAGE, 'https://v3.fal.media.evil.example/files/x.png');
      const lookalike = await thrown(backend().cartoonize(await photo(), subject, `${uid()}:cartoonize`));
      expect(lookalike).toMatchObject({ type: 'ProviderHostRefused', retryable: false });
      expect(lookalike.message).toContain('v3.fal.media.evil.example');
      expect(other.hits).toEqual([]);
    } finally {
      await other.stop();
    }
  });

  it('the upload URL fal presigns is checked too: the photo is never sent to another host', async () => {
    const other = await elsewhere();
    try {
      fake.respond({ method: 'POST', path: '/storage/upload/initiate', status: 200, body: { upload_url: `${other.url}/upload?sig=x`, file_url: `${other.url}/f.png` } });
      const before = fake.submissions.length;
      const err = await thrown(backend().removeBackground(await photo(), `${uid()}:segment`));
      expect(err).toMatchObject({ type: 'ProviderHostRefused', retryable: false });
      expect(err.message).toContain(other.host);
      expect(other.hits).toEqual([]);
      expect(fake.submissions.length).toBe(before);
    } finally {
      await other.stop();
    }
  });

  it('a redirect to another host is refused and not followed; one that stays on fal’s hosts is', async () => {
    const other = await elsewhere();
    try {
      fake.answerNextWith(EDIT_IMAGE, fake.serveOddFile({ redirectTo: `${other.url}/files/cartoon.png` }));
      const err = await thrown(backend().expandToFullBody(await photo(), `${uid()}:expand`));
      expect(err).toMatchObject({ type: 'ProviderHostRefused', retryable: false });
      expect(err.message).toContain(other.host);
      expect(other.hits).toEqual([]);

      const png = await photo();
      fake.answerNextWith(REMOVE_BACKGROUND, fake.serveOddFile({ redirectTo: fake.serveFile(png, 'image/png') }));
      expect((await backend().removeBackground(png, `${uid()}:segment`)).equals(png)).toBe(true);
    } finally {
      await other.stop();
    }
  });

  it('a declared size over the cap is refused before the body is read', async () => {
    const url = fake.serveOddFile({ declaredBytes: 1024 ** 3 });
    fake.answerNextWith(REMOVE_BACKGROUND, url);
    const err = await thrown(backend().removeBackground(await photo(), `${uid()}:segment`));
    expect(err).toMatchObject({ type: 'ModelOutputTooLarge', retryable: false });
    expect(err.message).toContain('is 1024 MB, over the 100 MB limit (FAL_MAX_RESULT_MB)');
    const read = fake.oddReads.get(new URL(url).pathname.split('/').at(-1)!);
    await expect.poll(() => read?.clientClosed).toBe(true);
  }, 15_000);

  it('a download that stalls is abandoned at its deadline and left to the step’s retry', async () => {
    const url = fake.serveOddFile({ declaredBytes: 1024 * 1024 });
    fake.answerNextWith(REMOVE_BACKGROUND, url);
    const err = await thrown(backend(KEY, { downloadTimeoutMs: 300 }).removeBackground(await photo(), `${uid()}:segment`));
    expect(err).toMatchObject({ type: 'ProviderUnavailable', retryable: true });
    expect(err.message).toContain('took longer than 0.3 s');
    const read = fake.oddReads.get(new URL(url).pathname.split('/').at(-1)!);
    await expect.poll(() => read?.clientClosed).toBe(true);
  }, 15_000);

  it('a matted video that grows past the cap is cut off and fails the step without retry', async () => {
    const cap = 2 * 1024 * 1024;
    const models = backend(KEY, { maxDownloadBytes: cap });
    const job = await models.submitAnimation({ cutout: await photo(), idempotencyKey: uid() });
    const url = fake.serveOddFile({ endless: true });
    fake.answerNextWith(MATTE_VIDEO, url);
    expect((await finish(models, job)).at(-1)).toEqual({ state: 'completed' });
    const err = await thrown(models.fetchAnimation(job, async () => {}));
    expect(err).toMatchObject({ type: 'ModelOutputTooLarge', retryable: false });
    const read = fake.oddReads.get(new URL(url).pathname.split('/').at(-1)!)!;
    await expect.poll(() => read.clientClosed).toBe(true);
    // Cut off, not read on: what the fake wrote includes what sat in loopback's socket buffers
    // when the client closed (seen at 8.1 MB for a 2 MB cap on a busy machine), so the bound
    // leaves room for them; an endless stream read to the end would never stop.
    expect(read.sent).toBeLessThan(cap * 16);
  }, 60_000);
});

it('Retry-After is read as seconds or as an HTTP date', () => {
  expect(parseRetryAfter('2')).toBe(2000);
  expect(parseRetryAfter(new Date(1_000_000 + 5000).toUTCString(), 1_000_000)).toBe(5000);
  expect(parseRetryAfter('soon')).toBeUndefined();
  expect(parseRetryAfter(null)).toBeUndefined();
});

/** A server on another host name (localhost, not the fake's 127.0.0.1) that records every hit. */
async function elsewhere() {
  const hits: string[] = [];
  const png = await photo();
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'image/png' }).end(png);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const host = `localhost:${port}`;
  return { url: `http://${host}`, host, hits, stop: () => new Promise((r) => server.close(r)) };
}

async function blobs() {
  return new LocalBlobStore(await mkdtemp(path.join(os.tmpdir(), 'fal-blobs-')));
}
