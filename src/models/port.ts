/**
 * The model back end: every AI step of the animation pipeline behind one interface, so the
 * workflow runs the same on the local CPU models (default) and on fal.ai. Images travel as
 * encoded buffers (PNG/JPEG of working size); the activities move them to and from the blob store.
 *
 * Errors: `ModelError` with `retryable: false` for answers that will not change on retry (bad
 * input, invalid model output); anything else is retried by the activity's policy.
 */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface ModerationVerdict {
  safe: boolean;
  /** Why it is unsafe, in words a customer can read. */
  reason?: string;
  /** Class → probability, as the classifier reported. */
  scores: Record<string, number>;
}

export interface SubjectAnalysis {
  /** "bust": head and shoulders or upper body; "full_body": legs visible. */
  framing: 'bust' | 'full_body';
  /** The one clear subject, in pixels of the analysed image. */
  box: Box;
  /** People (or faces) found; the pipeline needs exactly one clear subject. */
  subjects: number;
  /**
   * A person, or a "thing" (an animal, a toy) found without one. Absent in analyses recorded
   * before it existed, which were all of people.
   */
  kind?: 'person' | 'thing';
}

export interface AnimationJob {
  backend: string;
  jobId: string;
  /** The submission's idempotency key, for back ends that run follow-up requests under it. */
  key?: string;
}

export type JobState =
  | { state: 'queued' | 'running'; progress?: number }
  | { state: 'completed' }
  | { state: 'failed'; error: string };

export interface ModelBackend {
  readonly name: string;
  moderate(image: Buffer): Promise<ModerationVerdict>;
  analyze(image: Buffer): Promise<SubjectAnalysis>;
  /**
   * A cartoon version of the subject (PNG). `callKey`, when given, names this call for the whole
   * life of the step: a back end that pays per request makes one request per key.
   */
  cartoonize(image: Buffer, subject: SubjectAnalysis, callKey?: string): Promise<Buffer>;
  /** A second generation that extends a bust to a full body (PNG). */
  expandToFullBody(image: Buffer, callKey?: string): Promise<Buffer>;
  /** The image with its background made transparent (RGBA PNG). */
  removeBackground(image: Buffer, callKey?: string): Promise<Buffer>;
  /**
   * Starts a 5-second animation of the cut-out (given as bytes and as its blob key); idempotent
   * for one `idempotencyKey`: submitting again returns the same job, never a second one.
   */
  submitAnimation(input: { cutout: Buffer; cutoutKey: string; idempotencyKey: string }): Promise<AnimationJob>;
  animationState(job: AnimationJob): Promise<JobState>;
  /** Stops a job nobody will wait for any more (best effort: a finished job stays finished). */
  cancelAnimation(job: AnimationJob): Promise<void>;
  /** The finished animation as RGBA PNG frames, one call per frame in order. */
  fetchAnimation(job: AnimationJob, onFrame: (png: Buffer, index: number) => Promise<void>): Promise<{ fps: number; frames: number }>;
}

export class ModelError extends Error {
  constructor(
    /** Stable, permanent name: becomes the Temporal failure type. */
    public readonly type: string,
    message: string,
    public readonly retryable = false,
    /** How long the provider asked us to wait before trying again. */
    public readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ModelError';
  }
}
