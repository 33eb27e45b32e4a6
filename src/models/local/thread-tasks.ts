/**
 * What a model thread runs (piscina loads this module in each thread): the local back end's
 * CPU-heavy steps by name. Arguments and results are plain data and Buffers, so a changed model
 * function means a changed line here and nothing else. Each model loads once per thread, on the
 * thread's first call that needs it (the model modules keep their own lazy singletons).
 */
import { analyze } from './analysis.js';
import { renderFrames, type AnimationSpec } from './animate.js';
import { removeBackground } from './background.js';
import type { Figure } from './figure.js';
import { moderate } from './moderation.js';
import { cartoonize } from './stylize.js';
import { lowerThreadPriority, threadReply, type TaskRequest, type ThreadReply } from './threads.js';

lowerThreadPriority();

export const modelTasks = {
  moderate,
  analyze,
  cartoonize,
  removeBackground,
  /** The frames in order, all at once: a callback cannot cross the thread boundary. */
  async renderFrames(cutout: Buffer, figure: Figure | undefined, spec: AnimationSpec): Promise<{ fps: number; frames: Buffer[] }> {
    const frames: Buffer[] = [];
    const { fps } = await renderFrames(cutout, figure, async (png) => void frames.push(png), spec);
    return { fps, frames };
  },
};

export type ModelTasks = typeof modelTasks;

/** piscina's entry: one task, its answer (or its error) as plain data. */
export default function runTask(request: TaskRequest): Promise<ThreadReply> {
  return threadReply(modelTasks, request);
}
