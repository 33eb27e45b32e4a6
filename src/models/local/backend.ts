/**
 * The local back end (the default): models that ship inside npm packages run on the CPU —
 * nsfwjs for moderation, @vladmandic/human for the subject, the ISNet matting model on
 * onnxruntime for the cut-out — and the cartoon look and the rigged 5-second animation are image
 * operations. No key, no network. All of it runs on model threads, off the event loop. The
 * "animation job" is the cut-out itself: rendering is deterministic, so any worker can fetch it,
 * and submitting twice is the same job.
 */
import { buffer } from 'node:stream/consumers';
import type { BlobStore } from '../../storage/port.js';
import type { AnimationJob, JobState, ModelBackend, ModerationVerdict, SubjectAnalysis } from '../port.js';
import { ModelError } from '../port.js';
import { DEFAULT_SPEC, type AnimationSpec } from './animate.js';
import { figureOf } from './figure.js';
import { ModelThreads } from './threads.js';

export class LocalModelBackend implements ModelBackend {
  readonly name = 'local';
  /** The models run on these threads (MODEL_THREADS), never on the event loop. */
  private readonly threads: ModelThreads;

  constructor(private readonly deps: { blobs: BlobStore; animation?: AnimationSpec; threads?: number }) {
    this.threads = new ModelThreads({ size: deps.threads ?? 1 });
  }

  moderate(image: Buffer): Promise<ModerationVerdict> {
    return this.threads.run('moderate', image);
  }

  analyze(image: Buffer): Promise<SubjectAnalysis> {
    return this.threads.run('analyze', image);
  }

  cartoonize(image: Buffer, subject: SubjectAnalysis): Promise<Buffer> {
    return this.threads.run('cartoonize', image, subject);
  }

  /**
   * The local back end keeps a bust a bust and animates it as one (head, breathing, blink): it
   * has no generative model to draw the rest of a person, and the API asks it for no expansion.
   */
  async expandToFullBody(): Promise<Buffer> {
    throw new ModelError('ExpansionUnsupported', 'the local back end keeps a bust a bust; it cannot draw a full body');
  }

  removeBackground(image: Buffer): Promise<Buffer> {
    return this.threads.run('removeBackground', image);
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
    const { fps, frames } = await this.threads.run('renderFrames', cutout, figureOf(cutout), this.deps.animation ?? DEFAULT_SPEC);
    for (const [index, png] of frames.entries()) await onFrame(png, index);
    return { fps, frames: frames.length };
  }

  /** Stops the model threads (the worker calls this when it stops). */
  close(): Promise<void> {
    return this.threads.close();
  }
}
