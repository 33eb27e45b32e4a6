/**
 * AnimationWorkflow on the real time-skipping server, with mocked pipeline activities and the
 * real ledger and alert activities behind the charge-once / refund-once wrapper.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Activities, AnimationActivities } from '../../src/activities/index.js';
import { type Database } from '../../src/db/database.js';
import { CreditLedger } from '../../src/ledger/ledger.js';
import type { FrameSet } from '../../src/media/frames.js';
import { animationEventsQuery, animationStatusQuery, animationWorkflowId, type AnimationInput } from '../../src/workflows/animation/api.js';
import { AnimationWorkflow } from '../../src/workflows/animation/workflow.js';
import { openLedger, paidWorkActivities } from '../support/ledger.js';
import { RecordingAlertChannel } from '../support/recording-alerts.js';
import { bundle, timeSkippingEnv } from '../support/temporal.js';

const workflowsPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/workflows/index.ts');

let env: TestWorkflowEnvironment;
let db: Database;
let ledger: CreditLedger;
let alerts: RecordingAlertChannel;
let customerId: string;
let calls: string[];
/** What each `discardAnimationFiles` call was told to keep (not in `calls`: it runs after every step). */
let discards: string[][];

beforeAll(async () => {
  [env, { db, ledger }] = await Promise.all([timeSkippingEnv(), openLedger()]);
});
afterAll(async () => {
  await env?.teardown();
  await db?.close();
});
beforeEach(async () => {
  alerts = new RecordingAlertChannel();
  customerId = `cus_${randomUUID()}`;
  calls = [];
  discards = [];
  await ledger.openAccount(customerId, 3);
});

const frames: FrameSet = { prefix: 'animations/x/frames', count: 120, fps: 24, width: 512, height: 512 };

/** A pipeline whose every step succeeds, recording the calls; tests override single steps. */
function pipeline(): AnimationActivities {
  const rec = <A extends unknown[], R>(name: string, fn: (...a: A) => R) => async (...a: A) => {
    calls.push(name);
    return fn(...a);
  };
  return {
    moderatePhoto: rec('moderatePhoto', () => ({ safe: true, scores: { Neutral: 0.98 } })),
    analyzePhoto: rec('analyzePhoto', () => ({ framing: 'bust' as const, box: { left: 10, top: 10, width: 200, height: 300 }, subjects: 1 })),
    cartoonizePhoto: rec('cartoonizePhoto', (i: { animationId: string }) => ({ imageKey: `animations/${i.animationId}/cartoon.png` })),
    expandToFullBody: rec('expandToFullBody', (i: { animationId: string }) => ({ imageKey: `animations/${i.animationId}/cartoon-full-body.png` })),
    segmentImage: rec('segmentImage', (i: { animationId: string }) => ({ cutoutKey: `animations/${i.animationId}/cutout.png`, coverage: 0.4 })),
    submitAnimation: rec('submitAnimation', (i: { animationId: string }) => ({ backend: 'test', jobId: `job-${i.animationId}` })),
    pollAnimation: rec('pollAnimation', () => ({ polls: 1 })),
    fetchAnimationFrames: rec('fetchAnimationFrames', () => frames),
    transcodeAnimation: rec('transcodeAnimation', (i: { animationId: string; format: string }) => ({ key: `animations/${i.animationId}/buddy.${i.format}`, bytes: 1000 })),
    renderPoster: rec('renderPoster', (i: { animationId: string }) => ({ key: `animations/${i.animationId}/poster.png`, bytes: 100 })),
    discardAnimationFiles: async (i: { keep: string[] }) => {
      discards.push(i.keep);
      return { deleted: 3 };
    },
  };
}

async function runAnimation(overrides: Partial<Activities> = {}, input: Partial<AnimationInput> = {}, during?: (id: string) => Promise<void>) {
  const taskQueue = `anim-${randomUUID()}`;
  const animationId = `an_${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundle(workflowsPath),
    activities: {
      ...paidWorkActivities(ledger, [alerts]),
      ...pipeline(),
      ...overrides,
    },
  });
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start(AnimationWorkflow, {
      taskQueue,
      workflowId: animationWorkflowId(animationId),
      args: [{ animationId, customerId, photoKey: `animations/${animationId}/photo.png`, fullBody: true, ...input }],
    });
    if (during) await during(handle.workflowId);
    const result = await handle.result().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error: error as WorkflowFailedError }),
    );
    // One query at a time: the test server answers concurrent queries of a closed workflow slowly.
    const status = await handle.query(animationStatusQuery);
    const events = await handle.query(animationEventsQuery, 0);
    return { result, status, events, animationId };
  });
}

const kinds = async () => (await ledger.entries(customerId)).map((e) => e.kind);

describe('AnimationWorkflow', () => {
  it('runs every step once for a bust wanting a full body, and reports assets and progress', async () => {
    const { result, status, events, animationId } = await runAnimation();
    expect(result).toEqual({
      ok: true,
      value: {
        webm: `animations/${animationId}/buddy.webm`,
        webp: `animations/${animationId}/buddy.webp`,
        gif: `animations/${animationId}/buddy.gif`,
        poster: `animations/${animationId}/poster.png`,
        art: `animations/${animationId}/cutout.png`,
      },
    });
    expect(calls.slice(0, 9)).toEqual([
      'moderatePhoto', 'analyzePhoto', 'cartoonizePhoto', 'expandToFullBody', 'segmentImage',
      'submitAnimation', 'pollAnimation', 'fetchAnimationFrames', calls[8],
    ]);
    expect(calls.filter((c) => c === 'transcodeAnimation')).toHaveLength(3);
    expect(status.status).toBe('succeeded');
    expect(status.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ['moderate', 'succeeded', 1], ['analyze', 'succeeded', 1], ['cartoonize', 'succeeded', 1], ['expand', 'succeeded', 1],
      ['segment', 'succeeded', 1], ['animate', 'succeeded', 1], ['transcode', 'succeeded', 1],
    ]);
    expect(status.charge?.amount).toBe(1);
    expect(status.refund).toBeUndefined();
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ type: 'finished', status: 'succeeded' });
    expect(await kinds()).toEqual(['grant', 'charge']);
    expect(alerts.sent).toHaveLength(0);
    // Once made, the buddy keeps its finished files and print art; the rest of its folder goes.
    const kept = ['buddy.webm', 'buddy.webp', 'buddy.gif', 'poster.png', 'cutout.png'].map((f) => `animations/${animationId}/${f}`);
    expect(discards).toEqual([kept]);
  });

  it('skips the expansion when the photo already shows a full body, or when not asked', async () => {
    const full = await runAnimation({
      analyzePhoto: async () => ({ framing: 'full_body', box: { left: 0, top: 0, width: 100, height: 300 }, subjects: 1 }),
    });
    expect(full.result.ok).toBe(true);
    expect(calls).not.toContain('expandToFullBody');
    expect(full.status.steps.find((s) => s.name === 'expand')?.status).toBe('skipped');
    calls = [];
    const notAsked = await runAnimation({}, { fullBody: false });
    expect(notAsked.result.ok).toBe(true);
    expect(calls).not.toContain('expandToFullBody');
  });

  it('refuses an NSFW photo: refund, alert, and a clear reason', async () => {
    const { result, status } = await runAnimation({
      moderatePhoto: async () => ({ safe: false, reason: 'nudity detected', scores: { Porn: 0.93 } }),
    });
    expect(result.ok).toBe(false);
    expect(String((result as { error: WorkflowFailedError }).error.cause?.message)).toContain('nudity detected');
    expect(status).toMatchObject({ status: 'failed', error: { step: 'moderate' }, refund: { status: 'refunded' } });
    expect(status.steps[0]).toMatchObject({ name: 'moderate', status: 'failed' });
    expect(calls).toEqual([]); // nothing after moderation ran
    expect(await kinds()).toEqual(['grant', 'charge', 'refund']);
    expect(alerts.sent.map((a) => a.failedStep)).toEqual(['moderate']);
    expect(discards).toEqual([[]]); // the refused photo is deleted with everything else
  });

  const failing: [string, keyof Activities, string][] = [
    ['moderate', 'moderatePhoto', 'moderate'],
    ['analyze', 'analyzePhoto', 'analyze'],
    ['cartoonize', 'cartoonizePhoto', 'cartoonize'],
    ['expand', 'expandToFullBody', 'expand'],
    ['segment', 'segmentImage', 'segment'],
    ['submit', 'submitAnimation', 'animate'],
    ['poll', 'pollAnimation', 'animate'],
    ['fetch', 'fetchAnimationFrames', 'animate'],
    ['transcode', 'transcodeAnimation', 'transcode'],
    ['poster', 'renderPoster', 'transcode'],
  ];
  it.each(failing)('a failure in %s refunds exactly once and alerts once', async (_label, activity, step) => {
    const { result, status, events } = await runAnimation({
      [activity]: async () => {
        throw ApplicationFailure.nonRetryable(`${activity} broke`, 'TestFailure');
      },
    });
    expect(result.ok).toBe(false);
    expect(status.error).toEqual({ step, message: `TestFailure: ${activity} broke` });
    expect(await kinds()).toEqual(['grant', 'charge', 'refund']);
    expect(alerts.sent).toHaveLength(1);
    expect(alerts.sent[0]).toMatchObject({ failedStep: step, error: `TestFailure: ${activity} broke` });
    expect(events.at(-1)).toMatchObject({ type: 'finished', status: 'failed' });
    expect(discards).toEqual([[]]);
  });

  it('a failed transcode waits for the other outputs before the files are discarded', async () => {
    const finishedBeforeDiscard: string[] = [];
    let discardedAt = -1;
    const { result } = await runAnimation({
      transcodeAnimation: async (i) => {
        if (i.format === 'webm') throw ApplicationFailure.nonRetryable('ffmpeg broke', 'TestFailure');
        await new Promise((r) => setTimeout(r, 300)); // still encoding when the WebM fails
        finishedBeforeDiscard.push(i.format);
        return { key: `animations/${i.animationId}/buddy.${i.format}`, bytes: 1 };
      },
      discardAnimationFiles: async (i) => {
        discardedAt = finishedBeforeDiscard.length;
        discards.push(i.keep);
        return { deleted: 0 };
      },
    });
    expect(result.ok).toBe(false);
    expect(discards).toEqual([[]]);
    expect(discardedAt).toBe(2); // the WebP and the GIF had both been written
  });

  it('files that cannot be deleted leave the buddy made, and the operator is told', async () => {
    const { result, status } = await runAnimation({
      discardAnimationFiles: async () => {
        throw ApplicationFailure.nonRetryable('storage refuses deletes', 'TestFailure');
      },
    });
    expect(result.ok).toBe(true);
    expect(status.status).toBe('succeeded');
    expect(await kinds()).toEqual(['grant', 'charge']);
    expect(alerts.sent).toHaveLength(1);
    expect(alerts.sent[0]).toMatchObject({ failedStep: 'discard files', error: 'TestFailure: storage refuses deletes' });
    expect(alerts.sent[0]!.title).toContain('could not be deleted');
  });

  it('retries a step that fails for a while, then succeeds with one charge', async () => {
    let attempts = 0;
    const { result } = await runAnimation({
      segmentImage: async (i) => {
        if (++attempts < 3) throw new Error('model server busy');
        return { cutoutKey: `animations/${i.animationId}/cutout.png`, coverage: 0.4 };
      },
    });
    expect(result.ok).toBe(true);
    expect(attempts).toBe(3);
    expect(await kinds()).toEqual(['grant', 'charge']);
  });

  it('never resubmits the animation job when polling fails and is retried', async () => {
    let polls = 0;
    const { result } = await runAnimation({
      pollAnimation: async () => {
        calls.push('pollAnimation');
        if (++polls < 4) throw new Error('worker lost');
        return { polls };
      },
    });
    expect(result.ok).toBe(true);
    expect(calls.filter((c) => c === 'submitAnimation')).toHaveLength(1);
    expect(polls).toBe(4);
  });

  it('refunds when cancelled while the animation is being made', async () => {
    const { result, status, events } = await runAnimation(
      {
        pollAnimation: async () => {
          // A provider that never finishes: poll and heartbeat until cancelled.
          for (;;) {
            Context.current().heartbeat();
            await Context.current().sleep(100);
          }
        },
      },
      {},
      async (workflowId) => {
        const handle = env.client.workflow.getHandle(workflowId);
        while ((await handle.query(animationStatusQuery)).step !== 'animate') await new Promise((r) => setTimeout(r, 50));
        await handle.cancel();
      },
    );
    expect(result.ok).toBe(false);
    expect((result as { error: WorkflowFailedError }).error.cause).toBeInstanceOf(CancelledFailure);
    expect(status.refund).toMatchObject({ status: 'refunded' });
    expect(await kinds()).toEqual(['grant', 'charge', 'refund']);
    expect(events.at(-1)).toMatchObject({ type: 'finished', status: 'cancelled' });
    expect(discards).toEqual([[]]); // cancelled, the files go all the same
  });

  it('replays late joiners from any event id', async () => {
    const { events } = await runAnimation();
    const after3 = events.filter((e) => e.id > 3);
    expect(after3[0]!.id).toBe(4);
    expect(events.filter((e) => e.type === 'step' && e.step === 'segment').map((e) => e.status)).toEqual(['running', 'succeeded']);
  });
});
