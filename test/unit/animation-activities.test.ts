/**
 * The animation activities' checks of model output and their heartbeats, with a scripted model
 * back end; transcoding with the real ffmpeg; and the local back end's pure decisions.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeEach, describe, expect, it } from 'vitest';
import { alphaCoverage, createAnimationActivities } from '../../src/activities/animation.js';
import { openPGlite } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { ProviderSlots } from '../../src/limits/provider-slots.js';
import { frameKey, type FrameSet } from '../../src/media/frames.js';
import { verdictFrom } from '../../src/models/local/moderation.js';
import type { JobState, ModelBackend } from '../../src/models/port.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { callActivity } from '../support/activities.js';

let blobs: LocalBlobStore;
const call = callActivity;
beforeEach(async () => {
  blobs = new LocalBlobStore(await mkdtemp(path.join(os.tmpdir(), 'act-blobs-')));
});

const png = (w: number, h: number, alpha = 1, color = '#3a6') =>
  sharp({ create: { width: w, height: h, channels: 4, background: { ...hex(color), alpha } } }).png().toBuffer();
const hex = (c: string) => ({ r: parseInt(c.slice(1, 2), 16) * 17, g: parseInt(c.slice(2, 3), 16) * 17, b: parseInt(c.slice(3, 4), 16) * 17 });
/** A cut-out: an opaque disc on a transparent square. */
const disc = (side: number) =>
  sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><circle cx="${side / 2}" cy="${side / 2}" r="${side / 3}" fill="#e63"/></svg>`)).png().toBuffer();

function backend(over: Partial<ModelBackend>): ModelBackend {
  const no = () => Promise.reject(new Error('not scripted'));
  return {
    name: 'scripted',
    moderate: no,
    analyze: no,
    cartoonize: no,
    expandToFullBody: no,
    removeBackground: no,
    submitAnimation: no,
    animationState: no,
    cancelAnimation: no,
    fetchAnimation: no,
    ...over,
  } as ModelBackend;
}

const failureType = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return { type: (err as ApplicationFailure).type, nonRetryable: (err as ApplicationFailure).nonRetryable, message: (err as Error).message };
};

async function withPhoto(w = 400, h = 300) {
  await blobs.put('animations/a/photo.png', Readable.from([await png(w, h)]));
  return 'animations/a/photo.png';
}

describe('analyzePhoto checks the analysis', () => {
  const run = async (analysis: Awaited<ReturnType<ModelBackend['analyze']>>) => {
    const acts = createAnimationActivities({ blobs, models: backend({ analyze: async () => analysis }), ffmpegPath: 'ffmpeg' });
    return call(new MockActivityEnvironment(), acts.analyzePhoto, { photoKey: await withPhoto() });
  };
  const box = { left: 50, top: 20, width: 200, height: 260 };
  it('passes one clear subject', async () => {
    expect(await run({ framing: 'bust', box, subjects: 1 })).toEqual({ framing: 'bust', box, subjects: 1 });
  });
  it.each([
    ['nobody', { framing: 'bust' as const, box, subjects: 0 }, 'NoSubject'],
    ['a crowd', { framing: 'bust' as const, box, subjects: 3 }, 'SeveralSubjects'],
    ['a box outside the photo', { framing: 'bust' as const, box: { ...box, left: 390 }, subjects: 1 }, 'InvalidModelOutput'],
    ['a speck of a subject', { framing: 'bust' as const, box: { left: 1, top: 1, width: 10, height: 10 }, subjects: 1 }, 'SubjectTooSmall'],
  ])('refuses %s, non-retryably', async (_n, analysis, type) => {
    expect(await failureType(run(analysis))).toMatchObject({ type, nonRetryable: true });
  });
});

describe('segmentImage checks the cut-out', () => {
  const run = async (cutout: Buffer) => {
    await blobs.put('animations/a/cartoon.png', Readable.from([await png(200, 200)]));
    const acts = createAnimationActivities({ blobs, models: backend({ removeBackground: async () => cutout }), ffmpegPath: 'ffmpeg' });
    return call(new MockActivityEnvironment(), acts.segmentImage, { animationId: 'a', imageKey: 'animations/a/cartoon.png' });
  };
  it('keeps a real cut-out, trimmed to the subject', async () => {
    const result = await run(await disc(300));
    expect(result.coverage).toBeGreaterThan(0.3);
    const stored = await sharp(await buffer(await blobs.get(result.cutoutKey))).metadata();
    expect(stored.width).toBeLessThan(300); // transparent margin trimmed
  });
  it.each([
    ['an empty mask', () => png(200, 200, 0), 'EmptyMask'],
    ['nothing removed', () => png(200, 200, 1), 'InvalidModelOutput'],
    ['no alpha channel', () => sharp({ create: { width: 200, height: 200, channels: 3, background: '#fff' } }).png().toBuffer(), 'InvalidModelOutput'],
    ['not an image', async () => Buffer.from('<html>error</html>'), 'InvalidModelOutput'],
  ])('refuses %s', async (_n, make, type) => {
    expect(await failureType(run(await make()))).toMatchObject({ type, nonRetryable: true });
  });
});

describe('expandToFullBody', () => {
  const expand = async (w: number, h: number) => {
    await blobs.put('animations/a/cartoon.png', Readable.from([await png(200, 200)]));
    const acts = createAnimationActivities({ blobs, models: backend({ expandToFullBody: async () => png(w, h) }), ffmpegPath: 'ffmpeg' });
    return call(new MockActivityEnvironment(), acts.expandToFullBody, { animationId: 'a', imageKey: 'animations/a/cartoon.png' });
  };
  it.each([
    ['the same image', 200, 200],
    ['a larger image of the same shape', 400, 400],
  ])('refuses %s: not taller in shape than the bust', async (_n, w, h) => {
    expect(await failureType(expand(w, h))).toMatchObject({ type: 'InvalidModelOutput', nonRetryable: true });
  });
  it.each([
    ['taller in pixels (local)', 200, 420],
    ['a 2:3 image of the same pixel budget (fal)', 164, 246],
  ])('accepts %s', async (_n, w, h) => {
    expect(await expand(w, h)).toEqual({ imageKey: 'animations/a/cartoon-full-body.png' });
  });
});

describe('pollAnimation', () => {
  it('heartbeats each state until the job completes', async () => {
    const states: JobState[] = [{ state: 'queued' }, { state: 'running', progress: 0.5 }, { state: 'completed' }];
    const acts = createAnimationActivities({ blobs, models: backend({ animationState: async () => states.shift()! }), ffmpegPath: 'ffmpeg', pollIntervalMs: 1 });
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    expect(await call(env, acts.pollAnimation, { job: { backend: 'scripted', jobId: 'j1' } })).toEqual({ polls: 3 });
    expect(beats).toEqual([
      { polls: 1, state: { state: 'queued' } },
      { polls: 2, state: { state: 'running', progress: 0.5 } },
      { polls: 3, state: { state: 'completed' } },
    ]);
  });
  it('a failed job fails the step for good', async () => {
    const acts = createAnimationActivities({ blobs, models: backend({ animationState: async () => ({ state: 'failed', error: 'GPU on fire' }) }), ffmpegPath: 'ffmpeg' });
    const run = call(new MockActivityEnvironment(), acts.pollAnimation, { job: { backend: 'scripted', jobId: 'j1' } });
    expect(await failureType(run)).toMatchObject({ type: 'AnimationJobFailed', nonRetryable: true, message: 'the animation job failed: GPU on fire' });
  });
  it('cancelled (the workflow was): cancels the job at the provider, then reports the cancellation', async () => {
    const cancelled: string[] = [];
    const models = backend({
      animationState: async () => ({ state: 'running' }),
      cancelAnimation: async (job) => void cancelled.push(job.jobId),
    });
    const acts = createAnimationActivities({ blobs, models, ffmpegPath: 'ffmpeg', pollIntervalMs: 5 });
    const env = new MockActivityEnvironment();
    env.once('heartbeat', () => env.cancel('CANCELLED'));
    const err = await call(env, acts.pollAnimation, { job: { backend: 'scripted', jobId: 'j9' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(cancelled).toEqual(['j9']);
  });
});

describe('transcoding with ffmpeg', () => {
  async function frames(count: number): Promise<FrameSet> {
    for (let i = 0; i < count; i++) {
      const x = 10 + i * 4;
      const frame = await sharp({ create: { width: 128, height: 128, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
        .composite([{ input: await disc(40), left: x % 80, top: 40 }])
        .png()
        .toBuffer();
      await blobs.put(frameKey('animations/t/frames', i), Readable.from([frame]));
    }
    return { prefix: 'animations/t/frames', count, fps: 24, width: 128, height: 128 };
  }
  const probe = async (data: Buffer, ext: string) => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'probe-')), `x.${ext}`);
    await writeFile(file, data);
    return JSON.parse((await promisify(execFile)('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file])).stdout);
  };

  it('makes a VP9 WebM with alpha, an animated WebP and a GIF, and a poster', async () => {
    const set = await frames(24);
    const acts = createAnimationActivities({ blobs, models: backend({}), ffmpegPath: 'ffmpeg' });
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const webm = await call(env, acts.transcodeAnimation, { animationId: 't', frames: set, format: 'webm' });
    // One heartbeat per frame copied, then ffmpeg's progress while it encodes, ending on the last frame.
    expect(beats.slice(0, 24)).toEqual(expect.arrayContaining(Array.from({ length: 24 }, (_, frame) => ({ frame }))));
    expect(beats.slice(24).at(-1)).toEqual({ frame: 24 });
    const info = await probe(await buffer(await blobs.get(webm.key)), 'webm');
    expect(info.streams[0]).toMatchObject({ codec_name: 'vp9', width: 128, height: 128 });
    expect(info.streams[0].tags.ALPHA_MODE ?? info.streams[0].tags.alpha_mode).toBe('1');
    expect(Number(info.format.duration)).toBeCloseTo(1, 1);

    const webp = await call(env, acts.transcodeAnimation, { animationId: 't', frames: set, format: 'webp' });
    expect(await sharp(await buffer(await blobs.get(webp.key)), { animated: true }).metadata()).toMatchObject({ pages: 12, hasAlpha: true }); // 12 fps: every other frame
    const gif = await call(env, acts.transcodeAnimation, { animationId: 't', frames: set, format: 'gif' });
    expect(await sharp(await buffer(await blobs.get(gif.key)), { animated: true }).metadata()).toMatchObject({ format: 'gif', pages: 24 });
    const poster = await call(env, acts.renderPoster, { animationId: 't', frames: set });
    expect(await alphaCoverage(await buffer(await blobs.get(poster.key)))).toBeGreaterThan(0.02);
  });

  it('reports ffmpeg\'s own words when it fails', async () => {
    const set = await frames(2);
    const acts = createAnimationActivities({ blobs, models: backend({}), ffmpegPath: '/bin/false' });
    await expect(call(new MockActivityEnvironment(), acts.transcodeAnimation, { animationId: 't', frames: set, format: 'webm' })).rejects.toThrow(
      /^ffmpeg exited with 1/,
    );
  });
});

describe('local back end decisions', () => {
  it('moderation: explicit content and near-certain suggestive content are refused', () => {
    expect(verdictFrom({ Neutral: 0.97, Drawing: 0.02, Porn: 0.01 }).safe).toBe(true);
    expect(verdictFrom({ Porn: 0.4, Hentai: 0.2, Neutral: 0.4 })).toMatchObject({ safe: false, reason: expect.stringContaining('nudity') });
    expect(verdictFrom({ Sexy: 0.9, Neutral: 0.1 })).toMatchObject({ safe: false, reason: expect.stringContaining('suggestive') });
    expect(verdictFrom({ Sexy: 0.6, Neutral: 0.4 }).safe).toBe(true);
  });
});

describe('the provider limit around an animation job', () => {
  /** Provider slots on a fresh embedded database, and a cut-out to submit. */
  async function slotsAndCutout() {
    const db = await openPGlite();
    await migrate(db);
    await blobs.put('animations/a/cutout.png', Readable.from([await disc(64)]));
    return { db, slots: new ProviderSlots(db) };
  }

  it('submit waits its turn (ProviderBusy, retryable) while the slots are full; fetch frees the slot', async () => {
    const { db, slots } = await slotsAndCutout();
    const frame = await disc(64);
    const acts = createAnimationActivities({
      blobs,
      ffmpegPath: 'ffmpeg',
      providerLimit: { slots, concurrency: 1, leaseMs: 60_000 },
      models: backend({
        submitAnimation: async (i) => ({ backend: 'scripted', jobId: `job-${i.idempotencyKey}` }),
        fetchAnimation: async (_job, onFrame) => {
          for (let i = 0; i < 120; i++) await onFrame(frame, i);
          return { fps: 24, frames: 120 };
        },
      }),
    });
    const env = new MockActivityEnvironment();
    const job = await call(env, acts.submitAnimation, { animationId: 'first', cutoutKey: 'animations/a/cutout.png' });
    expect(await failureType(call(env, acts.submitAnimation, { animationId: 'second', cutoutKey: 'animations/a/cutout.png' }))).toMatchObject({
      type: 'ProviderBusy',
      nonRetryable: false,
    });
    await call(env, acts.fetchAnimationFrames, { animationId: 'first', job });
    expect(await slots.inUse('scripted')).toBe(0);
    expect(await call(env, acts.submitAnimation, { animationId: 'second', cutoutKey: 'animations/a/cutout.png' })).toEqual({ backend: 'scripted', jobId: 'job-second' });
    await db.close();
  });

  it('a job that fails, or is cancelled, frees its slot at once', async () => {
    const { db, slots } = await slotsAndCutout();
    const states: Record<string, JobState> = { 'job-failing': { state: 'failed', error: 'no GPU' }, 'job-slow': { state: 'running' } };
    const acts = createAnimationActivities({
      blobs,
      ffmpegPath: 'ffmpeg',
      pollIntervalMs: 5,
      providerLimit: { slots, concurrency: 2, leaseMs: 60_000 },
      models: backend({
        submitAnimation: async (i) => ({ backend: 'scripted', jobId: `job-${i.idempotencyKey}` }),
        animationState: async (job) => states[job.jobId]!,
        cancelAnimation: async () => undefined,
      }),
    });
    const env = new MockActivityEnvironment();
    const failing = await call(env, acts.submitAnimation, { animationId: 'failing', cutoutKey: 'animations/a/cutout.png' });
    const slow = await call(env, acts.submitAnimation, { animationId: 'slow', cutoutKey: 'animations/a/cutout.png' });
    expect(await slots.inUse('scripted')).toBe(2);
    await call(env, acts.pollAnimation, { job: failing, animationId: 'failing' }).catch(() => undefined);
    expect(await slots.inUse('scripted')).toBe(1);
    const cancelling = new MockActivityEnvironment();
    cancelling.once('heartbeat', () => cancelling.cancel('CANCELLED'));
    await call(cancelling, acts.pollAnimation, { job: slow, animationId: 'slow' }).catch(() => undefined);
    expect(await slots.inUse('scripted')).toBe(0);
    await db.close();
  });
});

describe('discardAnimationFiles', () => {
  const put = (key: string) => blobs.put(key, Readable.from([Buffer.from(key)]));
  const keys = async (folder: string) => (await blobs.list(folder)).map((b) => b.key).sort();

  it('deletes everything in the folder but what it keeps, frames included; again, it finds nothing to do', async () => {
    const kept = ['buddy.webm', 'buddy.webp', 'buddy.gif', 'poster.png', 'cutout.png'].map((n) => `animations/an_1/${n}`);
    const made = ['photo.png', 'cartoon.png', 'cartoon-full-body.png', ...Array.from({ length: 40 }, (_, i) => `frames/${String(i).padStart(4, '0')}.png`)];
    for (const key of [...kept, ...made.map((n) => `animations/an_1/${n}`), 'animations/an_12/photo.png', 'orders/or_1/print.pdf']) await put(key);
    const acts = createAnimationActivities({ blobs, models: backend({}), ffmpegPath: 'ffmpeg' });

    expect(await call(new MockActivityEnvironment(), acts.discardAnimationFiles, { animationId: 'an_1', keep: kept })).toEqual({ deleted: made.length });
    expect(await keys('animations/an_1')).toEqual([...kept].sort());
    // Another animation whose id begins the same, and other folders, are not touched.
    expect(await blobs.stat('animations/an_12/photo.png')).toBeDefined();
    expect(await blobs.stat('orders/or_1/print.pdf')).toBeDefined();

    // A retry after it had done its work (its completion lost): nothing left to delete, no error.
    expect(await call(new MockActivityEnvironment(), acts.discardAnimationFiles, { animationId: 'an_1', keep: kept })).toEqual({ deleted: 0 });
    // A failed animation keeps nothing; an animation without files is no error.
    expect(await call(new MockActivityEnvironment(), acts.discardAnimationFiles, { animationId: 'an_1', keep: [] })).toEqual({ deleted: kept.length });
    expect(await keys('animations/an_1')).toEqual([]);
    expect(await call(new MockActivityEnvironment(), acts.discardAnimationFiles, { animationId: 'an_none', keep: [] })).toEqual({ deleted: 0 });
  });

  it('a step cancelled with its workflow writes nothing after the cancellation', async () => {
    await withPhoto();
    let release!: () => void;
    const acts = createAnimationActivities({
      blobs,
      models: backend({ cartoonize: () => new Promise<Buffer>((r) => (release = () => void png(64, 64).then(r))) }),
      ffmpegPath: 'ffmpeg',
    });
    const env = new MockActivityEnvironment();
    const subject = { framing: 'bust' as const, box: { left: 0, top: 0, width: 100, height: 100 }, subjects: 1 };
    const step = call(env, acts.cartoonizePhoto, { animationId: 'a', photoKey: 'animations/a/photo.png', subject });
    await new Promise((r) => setTimeout(r, 20));
    env.cancel('CANCELLED');
    release(); // the model answers after all
    expect(await step.catch((e: unknown) => e)).toBeInstanceOf(CancelledFailure);
    expect(await blobs.stat('animations/a/cartoon.png')).toBeUndefined();
  });
});
