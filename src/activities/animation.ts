/**
 * The animation pipeline's activities. Each reads its inputs from the blob store by key, calls
 * the model back end or ffmpeg, checks what came back, and writes its output under the
 * animation's prefix. Outputs have fixed keys, so a retried activity overwrites its own earlier
 * attempt instead of leaving litter. Invalid input or model output fails non-retryably with a
 * stable type; everything else is retried by the workflow's policy. No step deletes its own
 * inputs: the workflow discards them all at the end (`discardAnimationFiles`), once nothing can
 * retry a step that reads them.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import sharp, { type Metadata } from 'sharp';
import { frameKey, type FrameSet } from '../media/frames.js';
import { transcodeFrames, type AnimationFormat } from '../media/transcode.js';
import { ModelError, type AnimationJob, type ModelBackend, type ModerationVerdict, type SubjectAnalysis } from '../models/port.js';
import { animationFolder, animationKey, ART_FILE, FINISHED_FILES } from '../animations/repository.js';
import type { ProviderSlots } from '../limits/provider-slots.js';
import { animationStepDuration } from '../metrics/registry.js';
import type { BlobStore } from '../storage/port.js';

export interface AnimationActivityDeps {
  blobs: BlobStore;
  models: ModelBackend;
  ffmpegPath: string;
  /** Pause between two status checks of an animation job. */
  pollIntervalMs?: number;
  /** The cluster-wide cap on animation jobs running at the provider at once. */
  providerLimit?: { slots: ProviderSlots; concurrency: number; leaseMs: number };
}

/**
 * Model failures keep their stable type; non-retryable ones stop the workflow's retries. While
 * the call waits for a model thread (another animation's step may hold it) or runs on one, the
 * activity heartbeats, so a heartbeat timeout means a lost worker, not a busy one.
 */
async function modelCall<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), 5000);
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ModelError) {
      throw ApplicationFailure.create({
        type: err.type,
        message: err.message,
        nonRetryable: !err.retryable,
        nextRetryDelay: err.retryAfterMs,
      });
    }
    throw err;
  } finally {
    clearInterval(beat);
  }
}

const invalid = (type: string, message: string) => ApplicationFailure.nonRetryable(message, type);

/** A model output must be an image we can decode, of a plausible size. */
async function checkImage(png: Buffer, what: string): Promise<Metadata> {
  try {
    const meta = await sharp(png).metadata();
    if (!meta.width || !meta.height || meta.width < 32 || meta.height < 32) throw new Error(`${meta.width}×${meta.height}`);
    return meta;
  } catch (err) {
    throw invalid('InvalidModelOutput', `${what} is not a usable image (${(err as Error).message})`);
  }
}

/** Share of pixels that are (mostly) opaque: 0 = all transparent, 1 = nothing removed. */
export async function alphaCoverage(png: Buffer): Promise<number> {
  const { data, info } = await sharp(png).ensureAlpha().extractChannel('alpha').raw().toBuffer({ resolveWithObject: true });
  let opaque = 0;
  for (let i = 0; i < data.length; i++) if (data[i]! >= 128) opaque++;
  return opaque / (info.width * info.height);
}

/**
 * The same steps, each attempt timed into `stickerflow_animation_step_duration_seconds` by its
 * name, the back end that did the work (`backendOf`) and how it ended.
 */
function timedSteps<T extends Record<string, (input: never) => Promise<unknown>>>(steps: T, backendOf: (step: keyof T) => string): T {
  const timed = Object.entries(steps).map(([step, run]) => {
    const labels = { step, backend: backendOf(step) };
    return [
      step,
      async (input: never) => {
        const end = animationStepDuration.startTimer(labels);
        try {
          const result = await run(input);
          end({ outcome: 'ok' });
          return result;
        } catch (err) {
          // A cancelled step ends with CancelledFailure (the SDK aborts its signal with one too).
          end({ outcome: err instanceof CancelledFailure ? 'cancelled' : 'error' });
          throw err;
        }
      },
    ];
  });
  return Object.fromEntries(timed) as T;
}

export function createAnimationActivities(deps: AnimationActivityDeps) {
  const { blobs, models } = deps;
  const read = async (key: string) => buffer(await blobs.get(key));
  const write = (key: string, data: Buffer) => {
    // A step cancelled with its workflow (which then discards the animation's files) adds none.
    Context.current().cancellationSignal.throwIfAborted();
    return blobs.put(key, Readable.from([data]), { contentType: 'image/png' });
  };

  const steps = {
    async moderatePhoto(input: { photoKey: string }): Promise<ModerationVerdict> {
      return modelCall(async () => models.moderate(await read(input.photoKey)));
    },

    async analyzePhoto(input: { photoKey: string }): Promise<SubjectAnalysis> {
      const photo = await read(input.photoKey);
      const analysis = await modelCall(() => models.analyze(photo));
      const { width = 0, height = 0 } = await sharp(photo).metadata();
      if (analysis.subjects === 0) throw invalid('NoSubject', 'no person or character was found in the photo');
      if (analysis.subjects > 1) throw invalid('SeveralSubjects', `${analysis.subjects} people were found; use a photo of one`);
      const { box } = analysis;
      const inside = box.left >= 0 && box.top >= 0 && box.left + box.width <= width + 1 && box.top + box.height <= height + 1;
      if (!inside || box.width <= 0 || box.height <= 0) throw invalid('InvalidModelOutput', 'the subject box lies outside the photo');
      if ((box.width * box.height) / (width * height) < 0.02) {
        throw invalid('SubjectTooSmall', 'the subject is too small in the photo; crop closer to them');
      }
      return analysis;
    },

    async cartoonizePhoto(input: { animationId: string; photoKey: string; subject: SubjectAnalysis }): Promise<{ imageKey: string }> {
      const cartoon = await modelCall(async () => models.cartoonize(await read(input.photoKey), input.subject, `${input.animationId}:cartoonize`));
      await checkImage(cartoon, 'the cartoon');
      const key = animationKey(input.animationId, 'cartoon.png');
      await write(key, cartoon);
      return { imageKey: key };
    },

    async expandToFullBody(input: { animationId: string; imageKey: string }): Promise<{ imageKey: string }> {
      const source = await read(input.imageKey);
      const expanded = await modelCall(() => models.expandToFullBody(source, `${input.animationId}:expand`));
      const [before, after] = await Promise.all([sharp(source).metadata(), checkImage(expanded, 'the full-body cartoon')]);
      // Generators keep a pixel budget, so "taller" is about shape: height over width.
      const shape = (m: Metadata) => (m.height ?? 0) / (m.width || 1);
      if (shape(after) <= shape(before) * 1.1) {
        throw invalid('InvalidModelOutput', 'the full-body cartoon is no taller than the bust it came from');
      }
      const key = animationKey(input.animationId, 'cartoon-full-body.png');
      await write(key, expanded);
      return { imageKey: key };
    },

    async segmentImage(input: { animationId: string; imageKey: string }): Promise<{ cutoutKey: string; coverage: number }> {
      const cutout = await modelCall(async () => models.removeBackground(await read(input.imageKey), `${input.animationId}:segment`));
      const meta = await checkImage(cutout, 'the cut-out');
      if (!meta.hasAlpha) throw invalid('InvalidModelOutput', 'the cut-out has no alpha channel');
      const coverage = await alphaCoverage(cutout);
      if (coverage < 0.01) throw invalid('EmptyMask', 'background removal left nothing of the subject');
      if (coverage > 0.995) throw invalid('InvalidModelOutput', 'background removal removed nothing');
      // Trim the transparent margin so the animation frames the character tightly. A cut-out
      // that is tight already keeps its bytes, and with them what its PNG carries (the local
      // back end's figure, for the rig).
      const trimmed = await sharp(cutout)
        .trim({ threshold: 1 })
        .png()
        .toBuffer({ resolveWithObject: true })
        .catch(() => undefined);
      const tight = !trimmed || (trimmed.info.width === meta.width && trimmed.info.height === meta.height);
      const key = animationKey(input.animationId, ART_FILE);
      await write(key, tight ? cutout : trimmed.data);
      return { cutoutKey: key, coverage };
    },

    /**
     * Idempotent: the animation id is the provider's idempotency key, so a retry finds the same
     * job. Waits (by retrying, ProviderBusy) while the provider's cluster-wide slots are all taken.
     */
    async submitAnimation(input: { animationId: string; cutoutKey: string }): Promise<AnimationJob> {
      const limit = deps.providerLimit;
      if (limit && !(await limit.slots.acquire(models.name, input.animationId, limit.concurrency, limit.leaseMs))) {
        throw ApplicationFailure.create({
          type: 'ProviderBusy',
          message: `all ${limit.concurrency} ${models.name} slots are in use`,
          nextRetryDelay: '5 seconds',
        });
      }
      try {
        const cutout = await read(input.cutoutKey);
        return await modelCall(() => models.submitAnimation({ cutout, cutoutKey: input.cutoutKey, idempotencyKey: input.animationId }));
      } catch (err) {
        await limit?.slots.release(models.name, input.animationId);
        throw err;
      }
    },

    /**
     * Waits for the job, heartbeating its state (and renewing its provider slot). A worker that
     * dies here is replaced after the heartbeat timeout and the next attempt polls the same job:
     * nothing is submitted twice.
     */
    async pollAnimation(input: { job: AnimationJob; animationId?: string }): Promise<{ polls: number }> {
      const ctx = Context.current();
      const limit = deps.providerLimit;
      try {
        for (let polls = 1; ; polls++) {
          const state = await modelCall(() => models.animationState(input.job));
          ctx.heartbeat({ polls, state });
          if (limit && input.animationId) await limit.slots.renew(models.name, input.animationId, limit.leaseMs);
          if (state.state === 'completed') return { polls };
          if (state.state === 'failed') throw invalid('AnimationJobFailed', `the animation job failed: ${state.error}`);
          await ctx.sleep(deps.pollIntervalMs ?? 2000);
        }
      } catch (err) {
        // Cancelled (the workflow was): stop paying for a job nobody will fetch. Cancelled or
        // failed for good: the job is over, so its provider slot is free for the next one.
        const cancelled = err instanceof CancelledFailure;
        if (cancelled) await models.cancelAnimation(input.job).catch(() => undefined);
        const over = cancelled || (err instanceof ApplicationFailure && err.nonRetryable);
        if (over && input.animationId) await limit?.slots.release(models.name, input.animationId);
        throw err;
      }
    },

    async fetchAnimationFrames(input: { animationId: string; job: AnimationJob }): Promise<FrameSet> {
      const ctx = Context.current();
      const prefix = animationKey(input.animationId, 'frames');
      let size: { width: number; height: number } | undefined;
      const { fps, frames } = await modelCall(() =>
        models.fetchAnimation(input.job, async (png, index) => {
          const meta = await sharp(png).metadata();
          if (!meta.hasAlpha) throw invalid('InvalidModelOutput', `animation frame ${index} has no alpha channel`);
          size ??= { width: meta.width!, height: meta.height! };
          if (meta.width !== size.width || meta.height !== size.height) {
            throw invalid('InvalidModelOutput', `animation frame ${index} is ${meta.width}×${meta.height}, not ${size.width}×${size.height}`);
          }
          await write(frameKey(prefix, index), png);
          ctx.heartbeat({ frame: index });
        }),
      );
      if (frames < fps * 5 || !size) throw invalid('InvalidModelOutput', `the animation has ${frames} frames at ${fps} fps; 5 seconds needed`);
      await deps.providerLimit?.slots.release(models.name, input.animationId); // the provider's part is done
      return { prefix, count: frames, fps, ...size };
    },

    async transcodeAnimation(input: { animationId: string; frames: FrameSet; format: AnimationFormat }): Promise<{ key: string; bytes: number }> {
      const ctx = Context.current();
      const key = animationKey(input.animationId, FINISHED_FILES[input.format]);
      const info = await transcodeFrames({
        blobs,
        frames: input.frames,
        format: input.format,
        outKey: key,
        ffmpegPath: deps.ffmpegPath,
        onFrame: (i) => ctx.heartbeat({ frame: i }),
      });
      return { key, bytes: info.bytes };
    },

    async renderPoster(input: { animationId: string; frames: FrameSet }): Promise<{ key: string; bytes: number }> {
      const first = await read(frameKey(input.frames.prefix, 0));
      const key = animationKey(input.animationId, FINISHED_FILES.poster);
      const info = await write(key, await sharp(first).png({ compressionLevel: 9 }).toBuffer());
      return { key, bytes: info.bytes };
    },

    /**
     * Deletes every file in the animation's folder except `keep`: once the buddy is made, what
     * went into it (the uploaded photo, the cartoons, the frames) goes and its finished files
     * and print art stay; once it has failed, everything goes. Idempotent: a retry after a
     * partial run deletes what is left, one after a complete run finds nothing to do.
     */
    async discardAnimationFiles(input: { animationId: string; keep: string[] }): Promise<{ deleted: number }> {
      const keep = new Set(input.keep);
      const doomed = (await blobs.list(animationFolder(input.animationId))).filter((b) => !keep.has(b.key));
      // A few at a time: most are the ~120 frames, and S3 deletes one object per request.
      for (let i = 0; i < doomed.length; i += 16) await Promise.all(doomed.slice(i, i + 16).map((b) => blobs.delete(b.key)));
      return { deleted: doomed.length };
    },
  };
  // The steps that never call the model back end run on ffmpeg, sharp and the blob store.
  const media = new Set<keyof typeof steps>(['transcodeAnimation', 'renderPoster', 'discardAnimationFiles']);
  return timedSteps(steps, (step) => (media.has(step) ? 'media' : models.name));
}
