/**
 * The fal back end: the generative steps run on fal.ai's hosted models through its queue API;
 * the cheap checks stay on the local CPU models.
 *
 * - moderate, analyze: local (nsfwjs, @vladmandic/human). They take 50–150 ms, cost nothing,
 *   and a refused photo is never sent to a third party.
 * - cartoonize, expand: FLUX.1 Kontext [pro] image editing, with a prompt each.
 * - removeBackground: BiRefNet v2.
 * - animation: one job in two requests. Kling 2.1 turns the cut-out (flattened on white) into a
 *   5-second video; when it is done, VEED's video background removal gives every frame its alpha
 *   (VP9 with alpha); `fetchAnimation` decodes that into RGBA frames. Both requests are recorded
 *   under the submission's key, so any worker, after any crash, follows the same two requests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decodeTransparentVideo } from '../../media/decode.js';
import { TranscodeError } from '../../media/ffmpeg.js';
import { DEFAULT_SPEC } from '../local/animate.js';
import type { LocalModelBackend } from '../local/backend.js';
import type { AnimationJob, JobState, ModelBackend, ModerationVerdict, SubjectAnalysis } from '../port.js';
import { ModelError } from '../port.js';
import {
  ANIMATE,
  animateOutput,
  EDIT_IMAGE,
  editImageOutput,
  MATTE_VIDEO,
  matteVideoOutput,
  PROMPTS,
  REMOVE_BACKGROUND,
  removeBackgroundOutput,
} from './endpoints.js';
import { FalJobError, type FalQueue } from './queue.js';

export interface FalBackendDeps {
  queue: FalQueue;
  /** Moderation and subject analysis stay local. */
  local: Pick<LocalModelBackend, 'moderate' | 'analyze'>;
  ffmpegPath: string;
}

const matteKey = (job: AnimationJob) => `${job.key ?? job.jobId}:matte`;

export class FalModelBackend implements ModelBackend {
  readonly name = 'fal';
  constructor(private readonly deps: FalBackendDeps) {}

  moderate(image: Buffer): Promise<ModerationVerdict> {
    return this.deps.local.moderate(image);
  }

  analyze(image: Buffer): Promise<SubjectAnalysis> {
    return this.deps.local.analyze(image);
  }

  async cartoonize(image: Buffer, _subject: SubjectAnalysis, callKey?: string): Promise<Buffer> {
    return this.edit(image, PROMPTS.cartoonize, callKey);
  }

  async expandToFullBody(image: Buffer, callKey?: string): Promise<Buffer> {
    return this.edit(image, PROMPTS.expand, callKey, '2:3');
  }

  async removeBackground(image: Buffer, callKey?: string): Promise<Buffer> {
    const { queue } = this.deps;
    const out = await queue.run(
      REMOVE_BACKGROUND,
      callKey ?? freshKey('segment'),
      async () => ({
        image_url: await queue.upload(image, 'image/png'),
        model: 'General Use (Light)',
        operating_resolution: '1024x1024',
        output_format: 'png',
        refine_foreground: true,
      }),
      removeBackgroundOutput,
    );
    return queue.download(out.image.url);
  }

  async submitAnimation(input: { cutout: Buffer; idempotencyKey: string }): Promise<AnimationJob> {
    const { queue } = this.deps;
    const key = `${input.idempotencyKey}:animate`;
    const requestId = await queue.submitOnce(ANIMATE, key, async () => {
      // Video models see no alpha: give them the character on the plain white the prompt names.
      const flat = await sharp(input.cutout).flatten({ background: '#ffffff' }).png().toBuffer();
      return {
        prompt: PROMPTS.animate,
        negative_prompt: PROMPTS.animateNegative,
        image_url: await queue.upload(flat, 'image/png'),
        duration: '5',
      };
    });
    return { backend: this.name, jobId: requestId, key };
  }

  /** The video's state, then (once it is done and the matting is submitted) the matting's. */
  async animationState(job: AnimationJob): Promise<JobState> {
    this.own(job);
    const { queue } = this.deps;
    const video = await queue.state(ANIMATE, job.jobId);
    if (video.state === 'failed') return video;
    if (video.state !== 'completed') return { state: video.state, progress: 0 };
    const matteId = await queue.submitOnce(MATTE_VIDEO, matteKey(job), async () => ({
      video_url: (await queue.result(ANIMATE, job.jobId, animateOutput)).video.url,
      output_codec: 'vp9',
      refine_foreground_edges: true,
      subject_is_person: false,
    }));
    const matte = await queue.state(MATTE_VIDEO, matteId);
    if (matte.state === 'queued' || matte.state === 'running') return { state: 'running', progress: 0.5 };
    return matte;
  }

  async cancelAnimation(job: AnimationJob): Promise<void> {
    this.own(job);
    const { queue } = this.deps;
    await queue.cancel(ANIMATE, job.jobId);
    const matte = await queue.recorded(matteKey(job));
    if (matte) await queue.cancel(MATTE_VIDEO, matte.requestId);
  }

  async fetchAnimation(job: AnimationJob, onFrame: (png: Buffer, index: number) => Promise<void>) {
    this.own(job);
    const { queue } = this.deps;
    const matte = await queue.recorded(matteKey(job));
    if (!matte) throw new ModelError('UnknownJob', `job ${job.jobId} has no finished matting yet`, true);
    const out = await queue.result(MATTE_VIDEO, matte.requestId, matteVideoOutput);
    // The video goes to disk as it arrives, never whole into memory; ffmpeg reads it from there.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-fal-'));
    try {
      const video = path.join(dir, 'matte.webm');
      await queue.downloadTo(out.video.url, video);
      const { fps, side } = DEFAULT_SPEC;
      return await decodeTransparentVideo(video, { ffmpegPath: this.deps.ffmpegPath, fps, side }, onFrame);
    } catch (err) {
      if (!(err instanceof TranscodeError)) throw err; // the caller's own checks of each frame pass through
      throw new FalJobError('InvalidModelOutput', `the matted video could not be decoded: ${(err as Error).message}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async edit(image: Buffer, prompt: string, callKey: string | undefined, aspectRatio?: string): Promise<Buffer> {
    const { queue } = this.deps;
    const out = await queue.run(
      EDIT_IMAGE,
      callKey ?? freshKey('edit'),
      async () => ({
        prompt,
        image_url: await queue.upload(image, 'image/png'),
        output_format: 'png',
        safety_tolerance: '2',
        ...(aspectRatio && { aspect_ratio: aspectRatio }),
      }),
      editImageOutput,
    );
    if (out.has_nsfw_concepts?.[0]) throw new ModelError('PhotoRefused', 'the image model flagged the result as unsafe');
    return queue.download(out.images[0]!.url);
  }

  private own(job: AnimationJob) {
    if (job.backend !== this.name) throw new ModelError('UnknownJob', `job ${job.jobId} belongs to the ${job.backend} back end`);
  }
}

/** A key for a call nobody will repeat (no step key given). */
const freshKey = (what: string) => `${what}:${crypto.randomUUID()}`;
