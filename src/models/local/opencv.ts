/**
 * OpenCV for the local back end: @techstark/opencv-js (Apache-2.0), one JS file with the wasm
 * build inside. It is loaded once per thread (a module-level lazy promise, so it works the same
 * on the main thread and inside a piscina worker) and shared by every caller.
 *
 * The module object has a `then` of its own (emscripten's "ready" hook), so until that is
 * removed it must never reach `await`, `resolve()` or an async function's `return` — each would
 * wait on that `then` forever. It is loaded with `require` (an `await import()` hangs for the
 * same reason); once the runtime is initialised its `then` is deleted and the object is plain.
 */
import { createRequire } from 'node:module';
import type * as OpenCv from '@techstark/opencv-js';

export type CV = typeof OpenCv;

const LOAD_TIMEOUT_MS = 60_000;

let loading: Promise<{ cv: CV }> | undefined;

function load(): Promise<{ cv: CV }> {
  return new Promise((resolve, reject) => {
    const require = createRequire(import.meta.url);
    const cv = require('@techstark/opencv-js') as CV & { onRuntimeInitialized?: () => void };
    const timer = setTimeout(() => reject(new Error('opencv-js did not initialise')), LOAD_TIMEOUT_MS);
    const ready = () => {
      clearTimeout(timer);
      delete (cv as { then?: unknown }).then;
      resolve({ cv });
    };
    // The wasm may already be compiled (a second require in the same thread) or still compiling.
    if (typeof (cv as { Mat?: unknown }).Mat === 'function') ready();
    else cv.onRuntimeInitialized = ready;
  });
}

/** The thread's OpenCV, initialised on first use. */
export async function opencv(): Promise<CV> {
  loading ??= load().catch((error: unknown) => {
    loading = undefined; // let a later call try again
    throw error;
  });
  return (await loading).cv;
}
