/**
 * `npm run bench`: the animation pipeline's and the sticker orders' speed and memory targets, measured on this machine
 * and printed as a table. Targets are goals to compare against, not assertions: a run never fails
 * because a figure misses its target.
 */
import { Worker, DefaultLogger, Runtime } from '@temporalio/worker';
import { fork } from 'node:child_process';
import { Readable } from 'node:stream';
import { build } from 'esbuild';
import sharp from 'sharp';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { frameKey } from '../src/media/frames.js';
import { LocalBlobStore } from '../src/storage/local.js';
import { startDevServer } from '../src/temporal/dev-server.js';
import { resolveTemporalCli } from '../src/toolchain/temporal.js';
import { connectClient } from '../src/temporal/connection.js';
import { freePort } from '../test/support/processes.js';
import { benchOrders } from './orders.js';
import { localPipeline } from './pipeline.js';
import { benchViewer } from './viewer.js';
import { benchPrintFile } from './print-file.js';
import { benchResponsiveness } from './responsiveness.js';

Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
const here = path.dirname(fileURLToPath(import.meta.url));
const rows: { name: string; value: string; target: string; met: boolean | undefined; note: string }[] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = (l: string) => process.stderr.write(`${l}\n`);

/** Photo → sprite with the local back end: every step the workflow runs, in one process. */
async function photoToSprite(runs: number) {
  log('photo → sprite (local back end)…');
  const pipeline = localPipeline(new LocalBlobStore(await mkdtemp(path.join(os.tmpdir(), 'bench-pipeline-'))));
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    await pipeline(`an_bench${r}`, path.join(here, '../test/fixtures/photos/astronaut.png'));
    times.push(performance.now() - started);
    log(`  run ${r + 1}: ${(times.at(-1)! / 1000).toFixed(1)} s`);
  }
  const warm = times.slice(1);
  const p50 = median(warm.length ? warm : times);
  rows.push({ name: 'photo → sprite, 512×512, local back end (p50, warm)', value: `${(p50 / 1000).toFixed(1)} s`, target: '≤ 20 s', met: p50 <= 20_000, note: `${runs} runs; first (model loading) ${(times[0]! / 1000).toFixed(1)} s` });
}

/** Temporal's cost per activity on the local dev server: chains of no-op activities. */
async function orchestrationOverhead(workflows: number, activities: number, persist: boolean) {
  log('orchestration overhead (dev server, no-op activities)…');
  const config = loadConfig();
  const exe = await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.toolCacheDir, log });
  if (exe.type !== 'existing-path') throw new Error('the benchmark needs the Temporal CLI binary');
  const server = await startDevServer({
    executable: exe.path,
    dataDir: await mkdtemp(path.join(os.tmpdir(), 'bench-temporal-')),
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
    persist,
  });
  try {
    const { NativeConnection } = await import('@temporalio/worker');
    const connection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({ connection, taskQueue: 'bench', workflowsPath: path.join(here, 'workflows.ts'), activities: { noop: async () => undefined } });
    const client = await connectClient({ address: server.address, namespace: 'default', tls: false });
    const measure = async (workflowType: string) => {
      const perActivity: number[] = [];
      await client.workflow.execute(workflowType, { taskQueue: 'bench', workflowId: `warmup-${workflowType}`, args: [5] });
      for (let w = 0; w < workflows; w++) {
        const started = performance.now();
        await client.workflow.execute(workflowType, { taskQueue: 'bench', workflowId: `${workflowType}-${w}`, args: [activities] });
        perActivity.push((performance.now() - started) / activities);
      }
      return median(perActivity);
    };
    await worker.runUntil(async () => {
      const p50 = await measure('noopChainWorkflow');
      rows.push({
        name: `orchestration overhead per activity (p50), ${persist ? 'SQLite file' : 'in memory'}`,
        value: `${p50.toFixed(1)} ms`,
        target: '≤ 10 ms',
        met: p50 <= 10,
        note: `${workflows} workflows × ${activities} sequential no-op activities on the dev server`,
      });
      if (persist) {
        const local = await measure('localNoopChainWorkflow');
        rows.push({
          name: 'orchestration overhead per local activity (p50), SQLite file',
          value: `${local.toFixed(1)} ms`,
          target: '(compare)',
          met: undefined,
          note: 'the same chain as local activities: no task-queue round trip per step',
        });
      }
    });
    await client.connection.close();
    await connection.close();
  } finally {
    await server.stop();
  }
}

/** Peak memory of transcoding + upload, sampled from /proc for the process and its ffmpeg. */
async function transcodeMemory(seconds: number) {
  log(`transcode + upload peak RSS (${seconds} s of frames)…`);
  const side = 512;
  const count = seconds * 24;
  const root = await mkdtemp(path.join(os.tmpdir(), 'bench-transcode-'));
  const frames = new LocalBlobStore(root);
  const disc = await sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${side / 2}" height="${side / 2}"><circle cx="${side / 4}" cy="${side / 4}" r="${side / 5}" fill="#e63"/></svg>`)).png().toBuffer();
  for (let i = 0; i < count; i++) {
    const frame = await sharp({ create: { width: side, height: side, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .composite([{ input: disc, left: Math.round((i / count) * side * 0.5), top: side / 4 }])
      .png({ compressionLevel: 1 })
      .toBuffer();
    await frames.put(frameKey('f', i), Readable.from([frame]));
  }
  // Plain JavaScript on plain node, as production runs it: the TypeScript loader alone would
  // add ~35 MB to the process. Bundled inside the project, so package imports still resolve.
  const script = path.join(here, '../node_modules/.cache/stickerflow-bench/transcode-child.mjs');
  await build({ entryPoints: [path.join(here, 'transcode-child.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: script, logLevel: 'error' });
  const child = fork(script, [root, String(count), String(side)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const rss = async (pid: number): Promise<number> => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  };
  const descendants = async (pid: number): Promise<number[]> => {
    const kids = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
    return [...kids, ...(await Promise.all(kids.map(descendants))).flat()];
  };
  let measuring = false;
  let peak = 0;
  let peakSelf = 0;
  let ms = 0;
  const timer = setInterval(async () => {
    if (!measuring || !child.pid) return;
    // The node process and its ffmpeg runs; not the TypeScript loader's esbuild service.
    const ffmpegs = [];
    for (const pid of await descendants(child.pid)) {
      if ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'ffmpeg') ffmpegs.push(pid);
    }
    const pids = [child.pid, ...ffmpegs];
    const each = await Promise.all(pids.map(rss));
    peak = Math.max(peak, each.reduce((a, b) => a + b, 0));
    peakSelf = Math.max(peakSelf, each[0] ?? 0);
  }, 20);
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { ready?: boolean; done?: boolean; ms?: number }) => {
      if (m.ready) measuring = true;
      if (m.done) ms = m.ms ?? 0;
    });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`transcode child exited ${code}`))));
  });
  clearInterval(timer);
  const mb = peak / 1024 / 1024;
  rows.push({ name: `transcode + upload peak RSS, ${seconds} s at 512×512`, value: `${mb.toFixed(0)} MB`, target: '≤ 200 MB', met: mb <= 200, note: `node ${(peakSelf / 2 ** 20).toFixed(0)} MB at most + ffmpeg; WebM + WebP + GIF in ${(ms / 1000).toFixed(1)} s` });
}

const quick = process.argv.includes('--quick');
/** `--only=print,orders` runs those parts alone: models, overhead, transcode, print, orders (orders-paid, orders-parked), viewer, responsiveness. */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const part = (name: string) => !only || only.includes(name);
if (part('models') && !process.argv.includes('--skip-models')) await photoToSprite(quick ? 2 : 4);
if (part('overhead')) {
  await orchestrationOverhead(quick ? 3 : 10, 50, true);
  await orchestrationOverhead(quick ? 3 : 10, 50, false);
}
if (part('transcode')) {
  await transcodeMemory(5);
  await transcodeMemory(quick ? 10 : 20);
}
if (part('print')) {
  log('print file render and preflight…');
  rows.push(...(await benchPrintFile({ quick })));
}
if (part('viewer')) rows.push(...(await benchViewer({ quick, log })));
if (part('responsiveness') && !process.argv.includes('--skip-models')) rows.push(...(await benchResponsiveness({ log })));
if (part('orders') || part('orders-paid') || part('orders-parked')) {
  rows.push(...(await benchOrders({ quick, paid: part('orders') || part('orders-paid'), parked: part('orders') || part('orders-parked') })));
}

const widths = [Math.max(...rows.map((r) => r.name.length), 9), 10, 9, 5];
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
console.log(`\nstickerflow benchmarks — ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`);
console.log(line(['benchmark', 'result', 'target', 'met', 'notes']));
console.log(line(widths.map((w) => '-'.repeat(w)).concat(['-----'])));
for (const r of rows) console.log(line([r.name, r.value, r.target, r.met === undefined ? '—' : r.met ? 'yes' : 'NO', r.note]));
process.exit(0);
