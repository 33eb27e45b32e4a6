/**
 * AnimationWorkflow: a photo becomes a 5-second transparent animated buddy.
 *
 * Charge one credit (PaidWork) → moderate → analyze → cartoonize (→ expand a bust to a full body
 * when wanted) → segment → animate (submit → poll → fetch; the job id lives in history, so a
 * worker crash never resubmits) → transcode (WebM, WebP, GIF and poster in parallel). Any failure
 * refunds once, alerts the operator and fails with the cause. Large data moves as blob keys.
 * When it ends, the uploaded photo and everything made on the way are deleted: all but the
 * finished files and the print art once the buddy is made, everything once it has failed.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  type ActivityOptions,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { ALERT } from '../shared/activity-options.js';
import { describeFailure, PaidWork } from '../shared/paid-work.js';
import { Progress } from '../shared/progress.js';
import { RECORD } from '../shared/activity-options.js';
import { startRecording } from '../shared/recorder.js';
import { animationFailedSignal, artReadySignal, orderWorkflowId, STICKER_ORDER_WORKFLOW_TYPE } from '../sticker-order/api.js';
import {
  ANIMATION_FAILED,
  ANIMATION_STEPS,
  orderStickersUpdate,
  animationEventsQuery,
  animationStatusQuery,
  type AnimationAssets,
  type AnimationInput,
  type AnimationStatus,
} from './api.js';

/** Model calls: a minute or two each, a few retries; validation failures are non-retryable. */
const MODELS: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 4 },
};

/**
 * Submitting a job is idempotent (keyed by the animation id), so retrying it is safe; it also
 * waits its turn while the provider's cluster-wide slots are full (ProviderBusy), hence no
 * attempt limit inside a generous deadline.
 */
const SUBMIT: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '6 hours',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/**
 * Polling waits for a slow provider: it heartbeats, so a dead worker is noticed within the
 * heartbeat timeout and another resumes the same job; it retries without limit inside a
 * generous overall deadline.
 */
const POLL: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  scheduleToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/**
 * Media work is CPU-bound and local: a few minutes, heartbeating every frame, so a worker that
 * dies mid-transcode is noticed within 20 seconds and the step restarts on another.
 */
const MEDIA: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 3 },
};

/**
 * Deleting the photo and the intermediates: quick, and kept trying through a storage outage for
 * a day (the files are never served meanwhile); then the operator is told to delete them.
 */
const DISCARD: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
};

/**
 * Workflow changes, each behind its patch so histories recorded before it still replay:
 * - the animation's files are discarded when it ends (`discardAnimationFiles`);
 * - the transcode step waits for all four outputs before failing, so no file is written after
 *   that discard.
 */
const DISCARD_FILES_PATCH = 'discard-animation-files';
/** The workflow's status is written to the database as it moves (`startRecording`). */
const RECORDS_PATCH = 'records-in-database';
const SETTLED_TRANSCODE_PATCH = 'transcode-settles-before-failing';

export async function AnimationWorkflow(input: AnimationInput): Promise<AnimationAssets> {
  const ai = input.taskQueues?.ai;
  const models = proxyActivities<Activities>({ ...MODELS, taskQueue: ai });
  const submit = proxyActivities<Activities>({ ...SUBMIT, taskQueue: ai });
  const poll = proxyActivities<Activities>({ ...POLL, taskQueue: ai });
  const media = proxyActivities<Activities>({ ...MEDIA, taskQueue: input.taskQueues?.media });
  /** Fetching the frames is provider work, timed like media work (it heartbeats every frame). */
  const fetchFrames = proxyActivities<Activities>({ ...MEDIA, taskQueue: ai });
  const { discardAnimationFiles } = proxyActivities<Activities>({ ...DISCARD, taskQueue: ai });
  const { alertOperator } = proxyActivities<Activities>(ALERT);
  const paid = new PaidWork({ accountId: input.customerId, amount: 1, reason: `animation ${input.animationId}` });
  const progress = new Progress(ANIMATION_STEPS);
  let assets: AnimationAssets | undefined;
  let outcome: 'running' | 'succeeded' | 'failed' = 'running';

  const status = (): AnimationStatus => ({
    animationId: input.animationId,
    status: outcome,
    step: progress.current(),
    steps: progress.steps,
    charge: paid.state.charge,
    refund: paid.state.refund,
    assets,
    error: paid.state.error ? { step: paid.state.failedStep ?? 'unknown', message: paid.state.error } : undefined,
  });
  setHandler(animationStatusQuery, status);
  setHandler(animationEventsQuery, (afterId: number) => progress.after(afterId));
  const { recordAnimation } = proxyActivities<Activities>(RECORD);
  const recording = patched(RECORDS_PATCH)
    ? startRecording(status, (seq, record) => recordAnimation({ animationId: input.animationId, seq, status: record }))
    : undefined;

  // Stickers ordered while the buddy is being made: each order is a child that outlives this
  // workflow (ABANDON); it gets the art when it is ready, or hears that the animation failed.
  const orders: ChildWorkflowHandle<() => Promise<unknown>>[] = [];
  const tellOrder = async (order: ChildWorkflowHandle<() => Promise<unknown>>) => {
    try {
      if (outcome === 'succeeded') await order.signal(artReadySignal, { artKey: assets!.art ?? assets!.poster });
      else await order.signal(animationFailedSignal, { reason: paid.state.error ?? 'the animation failed' });
    } catch (err) {
      // The order has ended (cancelled by its customer, say): nothing left to tell it.
      log.warn('could not tell an order about the animation', { workflowId: order.workflowId, error: String(err) });
    }
  };
  setHandler(
    orderStickersUpdate,
    async (order) => {
      const child = await startChild(STICKER_ORDER_WORKFLOW_TYPE, {
        workflowId: orderWorkflowId(order.orderId),
        args: [order],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      orders.push(child);
      if (outcome !== 'running') await tellOrder(child);
      return { workflowId: child.workflowId };
    },
    {
      validator: (_order) => {
        if (outcome === 'failed') throw ApplicationFailure.nonRetryable('the animation failed: stickers cannot be made of it', ANIMATION_FAILED);
      },
    },
  );
  /** Before this workflow closes: every order placed so far knows the outcome. */
  const settleOrders = () =>
    CancellationScope.nonCancellable(async () => {
      await Promise.all(orders.map(tellOrder));
      await condition(allHandlersFinished);
    });

  const { animationId } = input;
  /** What the animation keeps of its folder: nothing once it failed. Never fails the workflow. */
  const discardFiles = (keep: string[]) =>
    CancellationScope.nonCancellable(async () => {
      if (!patched(DISCARD_FILES_PATCH)) return;
      try {
        await discardAnimationFiles({ animationId, keep });
      } catch (err) {
        const error = describeFailure(err);
        log.error('could not delete the animation\'s private files', { error });
        await alertOperator({
          title: `The photo and intermediates of animation ${animationId} could not be deleted`,
          failedStep: 'discard files',
          error,
          refund: 'no refund needed (the animation is not affected); delete its files by hand',
        }).catch(() => undefined);
      }
    });

  try {
    assets = await paid.run(async (step) => {
      const run = <T>(name: (typeof ANIMATION_STEPS)[number], fn: () => Promise<T>) => step(name, () => progress.track(name, fn));

      await run('moderate', async () => {
        const verdict = await models.moderatePhoto({ photoKey: input.photoKey });
        if (!verdict.safe) throw ApplicationFailure.nonRetryable(`the photo was refused: ${verdict.reason}`, 'PhotoRefused');
      });
      const subject = await run('analyze', () => models.analyzePhoto({ photoKey: input.photoKey }));
      let cartoon = await run('cartoonize', () => models.cartoonizePhoto({ animationId, photoKey: input.photoKey, subject }));
      if (input.fullBody && subject.framing === 'bust') {
        cartoon = await run('expand', () => models.expandToFullBody({ animationId, imageKey: cartoon.imageKey }));
      } else {
        progress.skip('expand', subject.framing === 'full_body' ? 'the photo already shows a full body' : 'kept a bust');
      }
      const cutout = await run('segment', () => models.segmentImage({ animationId, imageKey: cartoon.imageKey }));
      const frames = await run('animate', async () => {
        const job = await submit.submitAnimation({ animationId, cutoutKey: cutout.cutoutKey });
        await poll.pollAnimation({ job, animationId });
        return fetchFrames.fetchAnimationFrames({ animationId, job });
      });
      return run('transcode', async () => {
        const settle = patched(SETTLED_TRANSCODE_PATCH);
        const outputs = [
          media.transcodeAnimation({ animationId, frames, format: 'webm' }),
          media.transcodeAnimation({ animationId, frames, format: 'webp' }),
          media.transcodeAnimation({ animationId, frames, format: 'gif' }),
          media.renderPoster({ animationId, frames }),
        ] as const;
        if (settle) {
          const failed = (await Promise.allSettled(outputs)).find((o) => o.status === 'rejected');
          if (failed) throw failed.reason;
        }
        const [webm, webp, gif, poster] = await Promise.all(outputs);
        return { webm: webm.key, webp: webp.key, gif: gif.key, poster: poster.key, art: cutout.cutoutKey };
      });
    });
    outcome = 'succeeded';
    progress.finish('succeeded');
    await settleOrders();
    await discardFiles([assets.webm, assets.webp, assets.gif, assets.poster, assets.art!]);
    return assets;
  } catch (err) {
    outcome = 'failed';
    progress.finish(isCancellation(err) ? 'cancelled' : 'failed', paid.state.error);
    await settleOrders();
    await discardFiles([]);
    throw err;
  } finally {
    await recording?.flush();
  }
}
