/**
 * TensorFlow.js on its WebAssembly backend, for the models that ship inside npm packages
 * (nsfwjs, @vladmandic/human). Loaded once per process, on first use.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** A package's folder; works for packages whose exports map hides package.json. */
export function packageDir(name: string): string {
  const main = require.resolve(name);
  const marker = `${path.sep}node_modules${path.sep}${name.split('/').join(path.sep)}${path.sep}`;
  return main.slice(0, main.lastIndexOf(marker) + marker.length - 1);
}

export const wasmDir = () => `${packageDir('@tensorflow/tfjs-backend-wasm')}/dist/`;

let fetchShimmed = false;
/**
 * tfjs loads model files with fetch, and Node's fetch refuses file:// URLs: answer those from
 * the file system (read-only, models inside node_modules), pass every other URL through.
 */
function allowFileFetch(): void {
  if (fetchShimmed) return;
  fetchShimmed = true;
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('file://')) return realFetch(input, init);
    const body = await readFile(fileURLToPath(url));
    return new Response(body, { headers: { 'content-type': url.endsWith('.json') ? 'application/json' : 'application/octet-stream' } });
  }) as typeof fetch;
}

let ready: Promise<typeof import('@tensorflow/tfjs')> | undefined;
export function tfjs(): Promise<typeof import('@tensorflow/tfjs')> {
  ready ??= (async () => {
    allowFileFetch();
    const tf = await import('@tensorflow/tfjs');
    const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
    setWasmPaths(wasmDir());
    await tf.setBackend('wasm');
    await tf.ready();
    return tf;
  })();
  return ready;
}
