/**
 * Does the API stay responsive while buddies are made? `npm start`'s embedded stack in a child
 * process (fresh data folder, free ports), two photos uploaded at once, and `GET /healthz` and
 * `GET /api/animations/:id` asked every ~50 ms until both animations end; plus the peak RSS of
 * the node process that runs the API, the worker and the model threads.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/processes.js';

type Row = { name: string; value: string; target: string; met: boolean | undefined; note: string };
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;

/** tsx's CLI runs the script in a child node: the process that holds the stack's memory. */
async function scriptPid(tsxPid: number): Promise<number | undefined> {
  const kids = (await readFile(`/proc/${tsxPid}/task/${tsxPid}/children`, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
  for (const pid of kids) {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (cmdline.some((a) => a.endsWith('src/bin/start.ts'))) return pid;
  }
  return undefined;
}

/** VmHWM (the peak) or VmRSS (now) of a process, in bytes. */
const memory = async (pid: number, field: 'VmHWM' | 'VmRSS') =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;

export async function benchResponsiveness(opts: { log: (l: string) => void; timeLimitMs?: number }): Promise<Row[]> {
  const { log } = opts;
  log('responsiveness while animating (npm start, two photos)…');
  const data = await mkdtemp(path.join(os.tmpdir(), 'bench-responsive-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src/bin/start.ts'], {
    cwd: root,
    env: {
      ...process.env,
      // As npm runs scripts: the project's Node 22 first on the PATH (tsx starts `node`).
      PATH: `${path.join(root, 'node_modules/.bin')}${path.delimiter}${process.env.PATH ?? ''}`,
      DATA_DIR: data,
      PORT: String(port),
      PUBLIC_URL: base,
      TEMPORAL_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let pid: number | undefined;
  try {
    const deadline = Date.now() + 180_000;
    while (!out.includes('stickerflow is running')) {
      if (child.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
      if (Date.now() > deadline) throw new Error(`npm start did not get ready:\n${out}`);
      await sleep(200);
    }
    pid = await scriptPid(child.pid!);
    if (!pid) throw new Error('no node process running src/bin/start.ts under tsx');
    const stackPid = pid;
    // Start-up has a peak of its own (bundling the workflows and the pages): note it, then reset
    // the high-water mark so what follows is the peak while animating.
    const [startupPeak, atRest] = [await memory(pid, 'VmHWM'), await memory(pid, 'VmRSS')];
    await writeFile(`/proc/${pid}/clear_refs`, '5');

    // One customer (an API key with the starter credits) for both uploads and every status read.
    const keyRes = await fetch(`${base}/api/customers/api-keys`, { method: 'POST' });
    if (keyRes.status !== 201) throw new Error(`api key: ${keyRes.status} ${await keyRes.text()}`);
    const auth = { authorization: `Bearer ${((await keyRes.json()) as { apiKey: string }).apiKey}` };
    const ids = await Promise.all(
      ['astronaut.png', 'camera.png'].map(async (name) => {
        const form = new FormData();
        form.append('photo', new Blob([new Uint8Array(await readFile(path.join(root, 'test/fixtures/photos', name)))], { type: 'image/png' }), name);
        const res = await fetch(`${base}/api/animations`, { method: 'POST', body: form, headers: auth });
        if (res.status !== 202) throw new Error(`upload ${name}: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { id: string }).id;
      }),
    );

    const status = new Map<string, string>();
    const finished = () => ids.every((id) => ['succeeded', 'failed'].includes(status.get(id) ?? ''));
    const stopAt = Date.now() + (opts.timeLimitMs ?? 6 * 60_000);
    const failures: string[] = [];
    /** Asks `url` every ~50 ms until both animations end; the latency of each answer. */
    const probe = async (url: () => string, onBody?: (body: unknown) => void) => {
      const times: number[] = [];
      while (!finished() && Date.now() < stopAt && failures.length < 10) {
        const started = performance.now();
        try {
          const res = await fetch(url(), { headers: auth });
          const body = await res.json();
          times.push(performance.now() - started);
          if (res.ok) onBody?.(body);
          else failures.push(`${res.status} ${JSON.stringify(body)}`);
        } catch (err) {
          failures.push(String(err));
        }
        await sleep(Math.max(0, 50 - (performance.now() - started)));
      }
      return times.sort((a, b) => a - b);
    };
    let turn = 0;
    const started = performance.now();
    const [health, reads] = await Promise.all([
      probe(() => `${base}/healthz`),
      // Alternates between the two animations, so each one's status is followed.
      probe(
        () => `${base}/api/animations/${ids[turn++ % ids.length]}`,
        (b) => status.set((b as { id: string }).id, (b as { status: string }).status),
      ),
    ]);
    const seconds = (performance.now() - started) / 1000;
    const rss = await memory(stackPid, 'VmHWM');
    const outcome = ids.map((id) => status.get(id) ?? '?').join(', ');
    if (!finished()) log(`  the animations had not finished within the time limit (${outcome})`);
    if (failures.length) log(`  ${failures.length} requests failed, first: ${failures[0]}`);
    const row = (name: string, ms: number[]): Row => ({
      name: `${name} while 2 animations run (p99)`,
      value: `${quantile(ms, 0.99).toFixed(0)} ms`,
      target: '≤ 100 ms',
      met: quantile(ms, 0.99) <= 100,
      note: `p50 ${quantile(ms, 0.5).toFixed(1)} ms, max ${(ms.at(-1) ?? NaN).toFixed(0)} ms; ${ms.length} requests over ${seconds.toFixed(0)} s (${outcome})`,
    });
    const mb = rss / 2 ** 20;
    return [
      row('GET /healthz', health),
      row('GET /api/animations/:id', reads),
      {
        name: 'worker peak RSS while animating',
        value: `${mb.toFixed(0)} MB`,
        target: '≤ 600 MB',
        met: mb <= 600,
        note: `VmHWM of the npm start process (API, worker, model threads; not the Temporal server), reset once started; ${(atRest / 2 ** 20).toFixed(0)} MB at rest, start-up peak ${(startupPeak / 2 ** 20).toFixed(0)} MB`,
      },
    ];
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(20_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        log('  npm start did not stop within 20 s of SIGTERM; killed');
        child.kill('SIGKILL');
        if (pid) process.kill(pid, 'SIGKILL');
      } else if (code !== 0) log(`  npm start exited with ${code}:\n${out}`);
    }
    await rm(data, { recursive: true, force: true });
  }
}
