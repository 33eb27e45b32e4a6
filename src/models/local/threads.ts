/**
 * The local models' worker threads. Their CPU work (seconds of wasm, ONNX and JavaScript per
 * step) would otherwise run on the event loop that also answers HTTP and talks to Temporal.
 * A small piscina pool runs the tasks of `thread-tasks.ts`; a task waits in the pool's queue
 * while every thread is busy. Threads start on the first call and stay (their models stay
 * loaded); one that dies (out of memory, a native crash) fails its task with an ordinary,
 * retryable error and is replaced.
 */
import { readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { types } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMarkedAsUntransferable } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { ModelError } from '../port.js';
import type { ModelTasks } from './thread-tasks.js';

type TaskTable = Record<string, (...args: never[]) => Promise<unknown>>;
export interface TaskRequest {
  task: string;
  args: unknown[];
}
interface ErrorData {
  name: string;
  message: string;
  stack?: string;
  /** A ModelError's fields, so it keeps its Temporal meaning across the thread boundary. */
  type?: string;
  retryable?: boolean;
  retryAfterMs?: number;
}
export type ThreadReply = { ok: true; value: unknown } | { ok: false; error: ErrorData };

const here = fileURLToPath(import.meta.url);
/** `thread-tasks.ts` beside this file under tsx and vitest, `thread-tasks.js` in dist/. */
const defaultEntry = path.join(path.dirname(here), `thread-tasks${path.extname(here)}`);

/**
 * A thread starts with its parent's Node options. A TypeScript entry needs the tsx loader: the
 * parent has it under `tsx` and `node --import tsx` (the thread then inherits it), not under
 * vitest, whose own transform does not reach threads.
 */
function threadExecArgv(entry: string): string[] | undefined {
  if (!entry.endsWith('.ts') || process.execArgv.some((a) => /[\\/]tsx[\\/]|^tsx$/.test(a))) return undefined;
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return [...process.execArgv, '--import', tsx];
}

export class ModelThreads<Tasks extends TaskTable = ModelTasks> {
  private pool?: Piscina<TaskRequest, ThreadReply>;

  constructor(private readonly options: { size: number; /** Tests only: another task module. */ entry?: string }) {}

  /**
   * Runs `task` on a thread. Arguments are copied (the caller keeps its Buffers); results come
   * back as Buffers whose memory is handed over, not copied on this thread.
   */
  async run<K extends keyof Tasks & string>(task: K, ...args: Parameters<Tasks[K]>): Promise<Awaited<ReturnType<Tasks[K]>>> {
    const entry = this.options.entry ?? defaultEntry;
    this.pool ??= new Piscina({
      filename: entry,
      execArgv: threadExecArgv(entry),
      minThreads: this.options.size,
      maxThreads: this.options.size,
      idleTimeout: Infinity,
    });
    let reply: ThreadReply;
    try {
      reply = await this.pool.run({ task, args });
    } catch (err) {
      // The thread died under the task (piscina starts another): retryable, like a lost worker.
      throw new Error(`the model thread running ${task} stopped: ${(err as Error).message}`, { cause: err });
    }
    if (!reply.ok) throw fromErrorData(reply.error);
    return asBuffers(reply.value) as Awaited<ReturnType<Tasks[K]>>;
  }

  /** Stops the threads (a task still running fails). Safe to call twice; a later run starts afresh. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }
}

/**
 * Inside a thread, once: on a machine with few cores the event loop (HTTP, Temporal) should win
 * the CPU over model work, so this thread (and the native threads it starts, which inherit it)
 * runs at a lower priority. Linux takes a thread id where it takes a process id.
 */
export function lowerThreadPriority(): void {
  try {
    os.setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10);
  } catch {
    // Not Linux: the thread keeps the process's priority.
  }
}

/** Inside a thread: runs one task of `table` and packs its answer for the trip back. */
export async function threadReply(table: TaskTable, request: TaskRequest): Promise<ThreadReply> {
  const fn = table[request.task];
  try {
    if (!fn) throw new Error(`no model task named ${request.task}`);
    const value = await fn(...(asBuffers(request.args) as never[]));
    const transfer: ArrayBuffer[] = [];
    const reply: ThreadReply = { ok: true, value: movable(value, transfer) };
    // piscina's form for "post this value, handing over these": both symbols, marked by move().
    const moving = { [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: reply } as unknown as Parameters<typeof Piscina.move>[0];
    return Piscina.move(moving) as unknown as ThreadReply;
  } catch (err) {
    return { ok: false, error: toErrorData(err) };
  }
}

/** Buffers arrive as plain Uint8Arrays (structured clone): make them Buffers again, in place. */
function asBuffers(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(asBuffers);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asBuffers(v)]));
  return value;
}

/**
 * Lists the memory of every byte array in `value` for transfer. An array that shares its memory
 * (Node's small-Buffer pool) or whose memory cannot move (sharp's native buffers) is copied first,
 * here on the model thread, so the main thread never copies.
 */
function movable(value: unknown, transfer: ArrayBuffer[]): unknown {
  if (value instanceof Uint8Array) {
    const own = value.buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
    const bytes = own && !isMarkedAsUntransferable(value.buffer) && !transfer.includes(value.buffer as ArrayBuffer) ? value : new Uint8Array(value);
    transfer.push(bytes.buffer as ArrayBuffer);
    return bytes;
  }
  if (Array.isArray(value)) return value.map((v) => movable(v, transfer));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, movable(v, transfer)]));
  return value;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !types.isTypedArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

function toErrorData(err: unknown): ErrorData {
  if (err instanceof ModelError) return { name: err.name, message: err.message, stack: err.stack, type: err.type, retryable: err.retryable, retryAfterMs: err.retryAfterMs };
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

function fromErrorData(data: ErrorData): Error {
  const err = data.type !== undefined ? new ModelError(data.type, data.message, data.retryable, data.retryAfterMs) : new Error(data.message);
  if (data.type === undefined) err.name = data.name;
  if (data.stack) err.stack = data.stack;
  return err;
}
