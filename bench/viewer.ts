/**
 * The QR viewer as a phone meets it: buddies made from the sample photos by the real local
 * pipeline, served by the real viewer route (with the app's security middleware, PGlite and
 * local files) over loopback. Measures the page's size, the animation bytes each kind of phone
 * downloads (WebM where VP9 alpha plays, the animated WebP elsewhere), and time to first byte.
 */
import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnimationRepository } from '../src/animations/repository.js';
import { createApp } from '../src/api/app.js';
import { Customers } from '../src/customers/customers.js';
import { openPGlite } from '../src/db/database.js';
import { migrate } from '../src/db/migrations.js';
import { CreditLedger } from '../src/ledger/ledger.js';
import { createLogger } from '../src/logger.js';
import { LocalBlobStore } from '../src/storage/local.js';
import { viewerRoutes } from '../src/web/viewer.js';
import { localPipeline } from './pipeline.js';

type Row = { name: string; value: string; target: string; met: boolean | undefined; note: string };
const here = path.dirname(fileURLToPath(import.meta.url));
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;

export async function benchViewer(opts: { quick: boolean; log: (l: string) => void }): Promise<Row[]> {
  const { log } = opts;
  log('QR viewer (real buddies, real route, loopback)…');
  const blobs = new LocalBlobStore(await mkdtemp(path.join(os.tmpdir(), 'bench-viewer-')));
  const db = await openPGlite();
  await migrate(db);
  const animations = new AnimationRepository(db);
  const customerId = await new Customers(db, new CreditLedger(db), 10).create();
  const pipeline = localPipeline(blobs);
  const photos = [
    { label: 'astronaut (bust)', file: 'astronaut.png' },
    ...(opts.quick ? [] : [{ label: 'camera (standing)', file: 'camera.png' }]),
  ];
  const buddies: { label: string; token: string }[] = [];
  for (const p of photos) {
    const { record } = await animations.create(customerId);
    const started = performance.now();
    await pipeline(record.id, path.join(here, '../test/fixtures/photos', p.file));
    log(`  ${p.label}: made in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    buddies.push({ label: p.label, token: record.viewerToken });
  }

  const app = createApp({ logger: createLogger('error'), probes: [], routers: [viewerRoutes({ animations, blobs, publicUrl: 'https://stickers.example' })] });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rows: Row[] = [];
  try {
    const sizes: { label: string; html: number; webm: number; webp: number }[] = [];
    for (const b of buddies) {
      const html = await (await fetch(`${base}/a/${b.token}`)).text();
      const files = [...html.matchAll(/(?:src|data-webp)="([^"]+\.(webm|webp))"/g)].map((m) => m[1]!);
      const bytes = async (kind: string) => {
        const url = files.find((f) => f.endsWith(`.${kind}`));
        if (!url) throw new Error(`the viewer page names no ${kind}`);
        return (await (await fetch(new URL(url, base))).arrayBuffer()).byteLength;
      };
      sizes.push({ label: b.label, html: Buffer.byteLength(html), webm: await bytes('webm'), webp: await bytes('webp') });
    }
    const worst = (k: 'html' | 'webm' | 'webp') => Math.max(...sizes.map((s) => s[k]));
    const each = (k: 'html' | 'webm' | 'webp') => sizes.map((s) => `${s.label} ${kb(s[k])}`).join(', ');
    rows.push({ name: 'viewer page HTML (largest)', value: `${(worst('html') / 1024).toFixed(1)} KB`, target: '≤ 20 KB', met: worst('html') <= 20 * 1024, note: 'inline CSS and script, one request' });
    rows.push({ name: 'viewer animation, WebM with alpha (largest)', value: kb(worst('webm')), target: '≤ 600 KB', met: worst('webm') <= 600 * 1024, note: each('webm') });
    rows.push({ name: 'viewer animation, WebP fallback (largest)', value: kb(worst('webp')), target: '≤ 600 KB', met: worst('webp') <= 600 * 1024, note: each('webp') });

    // Time to first byte of the page, one keep-alive client after a warm-up, as a phone's
    // repeated scans would see it from the server's side.
    const url = `${base}/a/${buddies[0]!.token}`;
    for (let i = 0; i < 50; i++) await (await fetch(url)).arrayBuffer();
    const n = opts.quick ? 500 : 2000;
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const res = await fetch(url);
      times.push(performance.now() - t0);
      await res.arrayBuffer();
    }
    times.sort((a, b) => a - b);
    const p95 = quantile(times, 0.95);
    rows.push({
      name: 'viewer page TTFB on loopback (p95)',
      value: `${p95.toFixed(2)} ms`,
      target: '≤ 20 ms',
      met: p95 <= 20,
      note: `${n} requests; p50 ${quantile(times, 0.5).toFixed(2)} ms, p99 ${quantile(times, 0.99).toFixed(2)} ms`,
    });
  } finally {
    await new Promise((r) => server.close(r));
    await db.close();
  }
  return rows;
}
