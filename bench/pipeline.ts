/**
 * Photo → finished buddy with the local back end, every step the animation workflow runs, called
 * in this process: what the pipeline benchmark times and the viewer benchmark serves.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createAnimationActivities } from '../src/activities/animation.js';
import { normalizePhoto } from '../src/media/photo.js';
import { LocalModelBackend } from '../src/models/local/backend.js';
import type { FrameSet } from '../src/media/frames.js';
import type { SubjectAnalysis } from '../src/models/port.js';
import type { BlobStore } from '../src/storage/port.js';
import { callActivity } from '../test/support/activities.js';

/** Runs the steps on one photo; the local back end keeps a bust a bust (no expansion), as the API has it do. */
export type Pipeline = (animationId: string, photo: string) => Promise<{ subject: SubjectAnalysis; frames: FrameSet }>;

export function localPipeline(blobs: BlobStore): Pipeline {
  const acts = createAnimationActivities({ blobs, models: new LocalModelBackend({ blobs }), ffmpegPath: 'ffmpeg', pollIntervalMs: 10 });
  const env = new MockActivityEnvironment();
  const run = <A, R>(fn: (a: A) => Promise<R>, a: A) => callActivity(env, fn, a);
  return async (id, photo) => {
    const working = path.join(os.tmpdir(), `bench-photo-${id}.png`);
    await normalizePhoto(photo, working);
    const photoKey = `animations/${id}/photo.png`;
    await blobs.put(photoKey, createReadStream(working));
    await rm(working, { force: true });
    await run(acts.moderatePhoto, { photoKey });
    const subject = await run(acts.analyzePhoto, { photoKey });
    const { imageKey } = await run(acts.cartoonizePhoto, { animationId: id, photoKey, subject });
    const { cutoutKey } = await run(acts.segmentImage, { animationId: id, imageKey });
    const job = await run(acts.submitAnimation, { animationId: id, cutoutKey });
    await run(acts.pollAnimation, { job });
    const frames = await run(acts.fetchAnimationFrames, { animationId: id, job });
    await Promise.all([
      ...(['webm', 'webp', 'gif'] as const).map((format) => run(acts.transcodeAnimation, { animationId: id, frames, format })),
      run(acts.renderPoster, { animationId: id, frames }),
    ]);
    return { subject, frames };
  };
}
