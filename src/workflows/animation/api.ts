/**
 * The animation workflow's public contract, shared by the workflow, the worker and the API:
 * its type name, id scheme, input, queries and the shape of its status. Names here are written
 * into histories: never rename them.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { OrderInput } from '../sticker-order/api.js';
import type { RefundState } from '../shared/paid-work.js';
import type { ProgressEvent, StepState } from '../shared/progress.js';
import type { Charge } from '../../ledger/ledger.js';

export const ANIMATION_WORKFLOW_TYPE = 'AnimationWorkflow';
export const animationWorkflowId = (animationId: string) => `animation:${animationId}`;

export const ANIMATION_STEPS = ['moderate', 'analyze', 'cartoonize', 'expand', 'segment', 'animate', 'transcode'] as const;
export type AnimationStep = (typeof ANIMATION_STEPS)[number];

export interface AnimationInput {
  animationId: string;
  customerId: string;
  /** Blob key of the upright, working-size PNG of the uploaded photo. */
  photoKey: string;
  /** Expand a bust to a full body (a second generation) before animating. */
  fullBody: boolean;
  /** Task queues for the model and the ffmpeg steps; unset: the workflow's own. */
  taskQueues?: { ai?: string; media?: string };
}

export interface AnimationAssets {
  webm: string;
  webp: string;
  gif: string;
  poster: string;
  /** The still cut-out (PNG with alpha) print files are made from; absent in older animations. */
  art?: string;
}

export interface AnimationStatus {
  animationId: string;
  status: 'running' | 'succeeded' | 'failed';
  step?: string;
  steps: StepState[];
  charge?: Charge;
  refund?: RefundState;
  /** Blob keys of the finished animation. */
  assets?: AnimationAssets;
  error?: { step: string; message: string };
}

export const animationStatusQuery = defineQuery<AnimationStatus>('animationStatus');
/** Progress events after the given id (0 for all): what the SSE route streams. */
export const animationEventsQuery = defineQuery<ProgressEvent[], [afterId: number]>('animationEvents');

/**
 * Order stickers while the animation runs: the workflow starts the order as its child (which
 * outlives it) and returns once the child exists. Rejected (ANIMATION_FAILED) once the animation
 * has failed. The input is the order's, without the art, which the child receives when ready.
 */
export const orderStickersUpdate = defineUpdate<{ workflowId: string }, [Omit<OrderInput, 'artKey'>]>('orderStickers');
export const ANIMATION_FAILED = 'AnimationFailed';
