/**
 * The animation routes (PRODUCT.md §4). Thin: identify the customer, validate and store the
 * photo, start the workflow, and read its status through a query. Nothing here decides anything
 * the workflow decides.
 */
import Router from '@koa/router';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import type { Middleware } from 'koa';
import { animationKey, FINISHED_FILES, type AnimationRecord, type AnimationRepository } from '../animations/repository.js';
import type { Customers } from '../customers/customers.js';
import { presentPacks } from '../credits/packs.js';
import type { CreditLedger } from '../ledger/ledger.js';
import type { RateLimiter } from '../limits/rate-limits.js';
import { inspectPhoto, normalizePhoto, PhotoRejected, type PhotoLimits } from '../media/photo.js';
import type { BlobStore } from '../storage/port.js';
import {
  animationEventsQuery,
  animationStatusQuery,
  animationWorkflowId,
  ANIMATION_WORKFLOW_TYPE,
  type AnimationInput,
  type AnimationStatus,
} from '../workflows/animation/api.js';
import type { ProgressEvent } from '../workflows/shared/progress.js';
import { HttpError } from './errors.js';
import { noLimit } from './rate-limit.js';
import { identify } from './identity.js';
import { receiveFile } from './multipart.js';
import { recordedOrLive } from './recorded.js';

export interface AnimationRoutesDeps {
  temporal: Client;
  taskQueue: string;
  /** Task queues of the model and ffmpeg steps, when they differ from `taskQueue`. */
  stepQueues?: { ai: string; media: string };
  customers: Customers;
  ledger: CreditLedger;
  animations: AnimationRepository;
  blobs: BlobStore;
  publicUrl: string;
  maxUploadBytes: number;
  photoLimits: PhotoLimits;
  /** How often the event stream asks the workflow for news. */
  eventPollMs?: number;
  /** Guards uploads, before their body is read (a per-client rate limit). */
  limitUploads?: Middleware;
  /** How many customers one address may make (an upload makes one for a caller we do not know). */
  newCustomers: RateLimiter;
  /** Whether the 402 answer offers credit packs (see CreditRoutesDeps.onSale). */
  packsOnSale?: boolean;
  /**
   * Whether the model back end can draw a bust's missing body (fal's generative models can; the
   * local back end keeps a bust a bust and animates it as one). Unset: it can.
   */
  expandsBusts?: boolean;
}

const ID = /^an_[A-Za-z0-9_-]{22}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

export function animationRoutes(deps: AnimationRoutesDeps): Router {
  const router = new Router();

  const links = (r: AnimationRecord) => ({
    self: `/api/animations/${r.id}`,
    events: `/api/animations/${r.id}/events`,
    viewer: `/a/${r.viewerToken}`,
  });
  const accepted = (r: AnimationRecord) => ({ id: r.id, status: 'running', links: links(r) });

  const load = async (id: string) => {
    const record = ID.test(id) ? await deps.animations.get(id) : undefined;
    if (!record) throw new HttpError(404, 'not_found', 'no animation with that id');
    return record;
  };

  router.post('/api/animations', deps.limitUploads ?? noLimit, async (ctx) => {
    const key = ctx.get('idempotency-key') || undefined;
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw new HttpError(400, 'bad_idempotency_key', 'Idempotency-Key must be 1–200 printable ASCII characters');
    }
    const { customerId } = await identify(ctx, deps.customers, deps.newCustomers);
    const previous = key ? await deps.animations.findByKey(customerId, key) : undefined;
    if (previous) {
      ctx.req.resume(); // the same request again: answer as before, start nothing
      ctx.status = 202;
      ctx.body = accepted(previous);
      return;
    }
    const credits = await deps.ledger.balance(customerId);
    if (credits < 1) {
      ctx.req.resume();
      throw new HttpError(
        402,
        'insufficient_credit',
        `no credit left: an animation costs 1 credit${deps.packsOnSale ? '; buy a pack with POST /api/credits/checkout' : ''}`,
        deps.packsOnSale ? { packs: presentPacks(), checkout: '/api/credits/checkout' } : undefined,
      );
    }

    const upload = await receiveFile(ctx, 'photo', deps.maxUploadBytes);
    const working = `${upload.path}.png`;
    try {
      await inspectPhoto(upload.path, deps.photoLimits).catch(asHttp);
      await normalizePhoto(upload.path, working, deps.photoLimits).catch(asHttp);
      const { record, created } = await deps.animations.create(customerId, key);
      if (!created) {
        ctx.status = 202;
        ctx.body = accepted(record);
        return;
      }
      const photoKey = animationKey(record.id, 'photo.png');
      try {
        await deps.blobs.put(photoKey, createReadStream(working), { contentType: 'image/png' });
        const input: AnimationInput = { animationId: record.id, customerId, photoKey, fullBody: deps.expandsBusts !== false && wantsFullBody(ctx.query.fullBody) };
        const { stepQueues: queues, taskQueue } = deps;
        if (queues && (queues.ai !== taskQueue || queues.media !== taskQueue)) input.taskQueues = { ...queues };
        await deps.temporal.workflow.start(ANIMATION_WORKFLOW_TYPE, {
          workflowId: animationWorkflowId(record.id),
          taskQueue: deps.taskQueue,
          args: [input],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        });
      } catch (err) {
        // Nothing half-made stays behind: no record, no photo, no workflow.
        await deps.blobs.delete(photoKey).catch(() => undefined);
        await deps.animations.delete(record.id).catch(() => undefined);
        if (err instanceof WorkflowExecutionAlreadyStartedError) throw new HttpError(409, 'conflict', 'this animation already exists');
        throw err;
      }
      ctx.status = 202;
      ctx.set('Location', links(record).self);
      ctx.body = accepted(record);
    } finally {
      await Promise.all([upload.cleanup(), rm(working, { force: true })]);
    }
  });

  router.get('/api/animations/:id', async (ctx) => {
    const record = await load(ctx.params.id!);
    const status = await queryStatus(deps.temporal, record.id, record.status);
    const viewerUrl = `${deps.publicUrl}${links(record).viewer}`;
    // The finished files are served only under the viewer token (src/web/viewer.ts), never under
    // the animation id, which travels in the page's URL; nothing else of the animation is served.
    const asset = (k: string | undefined, name: string) => (k ? `${viewerUrl}/${name}` : undefined);
    ctx.body = {
      id: record.id,
      status: status.status,
      step: status.step,
      steps: status.steps,
      charge: status.charge ? { credits: status.charge.amount, balanceAfter: status.charge.balanceAfter } : undefined,
      refund: status.refund,
      assets: {
        webm: asset(status.assets?.webm, FINISHED_FILES.webm),
        webp: asset(status.assets?.webp, FINISHED_FILES.webp),
        gif: asset(status.assets?.gif, FINISHED_FILES.gif),
        poster: asset(status.assets?.poster, FINISHED_FILES.poster),
      },
      viewerUrl,
      error: status.error,
    };
  });

  router.get('/api/animations/:id/events', async (ctx) => {
    const record = await load(ctx.params.id!);
    const handle = deps.temporal.workflow.getHandle(animationWorkflowId(record.id));
    const lastSeen = Number.parseInt(ctx.get('last-event-id') || String(ctx.query.lastEventId ?? '0'), 10);
    let after = Number.isFinite(lastSeen) && lastSeen > 0 ? lastSeen : 0;
    await queryStatus(deps.temporal, record.id, record.status); // 404s before the stream opens

    const stream = new PassThrough();
    ctx.req.socket.setTimeout(0);
    ctx.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    ctx.status = 200;
    ctx.body = stream;
    let open = true;
    ctx.req.on('close', () => (open = false));
    stream.write('retry: 2000\n\n');
    /** The end as the record tells it: for a workflow Temporal no longer has (or never answered). */
    const finishFromRecord = (status: AnimationStatus | undefined) => {
      if (!status || status.status === 'running') return false;
      const e: ProgressEvent = { id: after + 1, type: 'finished', status: status.status, message: status.error?.message };
      stream.write(`id: ${e.id}\nevent: finished\ndata: ${JSON.stringify(e)}\n\n`);
      return true;
    };
    void (async () => {
      let idle = 0;
      // The workflow's own events while Temporal has them (a late joiner resumes exactly where it left off).
      while (open) {
        const events = await handle.query(animationEventsQuery, after).catch(async (err: unknown) => {
          // Gone from Temporal (retention): the record has the end, once the workflow wrote it.
          if (err instanceof WorkflowNotFoundError && finishFromRecord((await deps.animations.get(record.id))?.status)) open = false;
          return undefined;
        });
        for (const e of events ?? []) {
          stream.write(`id: ${e.id}\nevent: ${e.type === 'finished' ? 'finished' : 'progress'}\ndata: ${JSON.stringify(e)}\n\n`);
          after = e.id;
          if (e.type === 'finished') open = false;
        }
        if (!open) break;
        if (++idle % 30 === 0) stream.write(': keep-alive\n\n');
        await new Promise((r) => setTimeout(r, deps.eventPollMs ?? 500));
      }
      stream.end();
    })();
  });

  return router;
}

/**
 * The animation's status: its record in the database once it has ended (the workflow wrote it,
 * and Temporal may have deleted the workflow since); while it runs, the live answer of its
 * workflow, and the record when the workflow cannot answer quickly (workers down).
 */
export function queryStatus(temporal: Client, animationId: string, recorded?: AnimationStatus): Promise<AnimationStatus> {
  return recordedOrLive(
    temporal,
    recorded,
    (r) => r.status !== 'running',
    () => temporal.workflow.getHandle(animationWorkflowId(animationId)).query(animationStatusQuery),
    () => new HttpError(404, 'not_found', 'no animation with that id'),
  );
}

function asHttp(err: unknown): never {
  if (err instanceof PhotoRejected) throw new HttpError(err.status, err.code, err.message);
  throw err;
}

const wantsFullBody = (v: unknown) => v === undefined || v === '1' || v === 'true';
