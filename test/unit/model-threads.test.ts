/**
 * The local models' thread pool under vitest (a TypeScript entry, so the threads load tsx):
 * Buffers both ways, errors keeping their Temporal meaning, a dying thread failing its task
 * with an ordinary (retryable) error and being replaced, and the real models' entry.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createAnimationActivities } from '../../src/activities/animation.js';
import { ModelThreads } from '../../src/models/local/threads.js';
import { ModelError, type ModelBackend } from '../../src/models/port.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import type { testTasks } from '../fixtures/model-thread.js';
import { callActivity } from '../support/activities.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const threads = new ModelThreads<typeof testTasks>({ size: 1, entry: path.join(fixtures, 'model-thread.ts') });
afterAll(() => threads.close());

describe('model threads', () => {
  it('carries Buffers both ways and leaves the caller its own', async () => {
    const bytes = Buffer.from('a photo, say');
    const big = Buffer.alloc(1 << 20, 7);
    const out = await threads.run('echo', bytes, { label: 'x', more: [big, Buffer.from('small')] });
    expect(out.sawBuffers).toBe(true);
    expect(Buffer.isBuffer(out.bytes) && Buffer.isBuffer(out.native) && out.more.every((b) => Buffer.isBuffer(b))).toBe(true);
    expect(out.bytes.toString()).toBe('a photo, say');
    expect(out.more[0]!.equals(big)).toBe(true);
    expect(out.native.subarray(1, 4).toString()).toBe('PNG');
    expect(bytes.toString()).toBe('a photo, say'); // arguments are copied, never detached
    expect(big.length).toBe(1 << 20);
  });

  it('a ModelError keeps its type, retryability and delay', async () => {
    const err = await threads.run('refuse').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err).toMatchObject({ type: 'PhotoRefused', message: 'not this photo', retryable: false, retryAfterMs: 1500 });
  });

  it('a thread that dies fails its task with an ordinary error, and another thread takes over', async () => {
    const before = (await threads.run('echo', Buffer.alloc(1), { label: '', more: [] })).threadId;
    const err = await threads.run('crash').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ModelError); // retried by the activity's policy
    expect((err as Error).message).toMatch(/model thread running crash stopped: .*exited with code: 3/);
    const after = await threads.run('echo', Buffer.from('again'), { label: '', more: [] });
    expect(after.bytes.toString()).toBe('again');
    expect(after.threadId).not.toBe(before);
  });

  it('a model call heartbeats while it waits for a thread or runs on one', async () => {
    const blobs = new LocalBlobStore(await mkdtemp(path.join(os.tmpdir(), 'model-threads-')));
    await blobs.put('photo.png', Readable.from([Buffer.from('png')]));
    const models = { moderate: () => sleep(5300).then(() => ({ safe: true, scores: {} })) } as unknown as ModelBackend;
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    await callActivity(env, createAnimationActivities({ blobs, models, ffmpegPath: 'ffmpeg' }).moderatePhoto, { photoKey: 'photo.png' });
    expect(beats).toBe(1); // every 5 s
  }, 15_000);

  it('runs the real models from their own entry', async () => {
    const models = new ModelThreads({ size: 1 });
    try {
      const verdict = await models.run('moderate', await readFile(path.join(fixtures, 'photos/astronaut.png')));
      expect(verdict.safe).toBe(true);
    } finally {
      await models.close();
    }
  });
});
