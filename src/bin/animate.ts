/**
 * `npm run animate -- <photo> [--api URL] [--key API_KEY] [--bust]`: animates a photo from the
 * terminal through the HTTP API, shows the steps as a progress bar, and prints the asset URLs.
 * Without --key it uses the key saved by an earlier run, or asks the API for a new one and saves
 * it (~/.config/stickerflow/cli.json, readable by you only).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ANIMATION_STEPS } from '../workflows/animation/api.js';

interface Options {
  photo: string;
  api: string;
  key?: string;
  fullBody: boolean;
  out: NodeJS.WriteStream;
}

const credentialsFile = () => path.join(os.homedir(), '.config', 'stickerflow', 'cli.json');

async function apiKey(api: string, given: string | undefined, say: (l: string) => void): Promise<string> {
  if (given) return given;
  const saved = await readFile(credentialsFile(), 'utf8').then((t) => JSON.parse(t) as Record<string, string>, () => ({}) as Record<string, string>);
  if (saved[api]) return saved[api];
  const res = await fetch(`${api}/api/customers/api-keys`, { method: 'POST' });
  if (!res.ok) throw new Error(`could not get an API key: ${res.status} ${await res.text()}`);
  const { apiKey: key, credits } = (await res.json()) as { apiKey: string; credits: number };
  await mkdir(path.dirname(credentialsFile()), { recursive: true, mode: 0o700 });
  await writeFile(credentialsFile(), JSON.stringify({ ...saved, [api]: key }, null, 2), { mode: 0o600 });
  say(`New account with ${credits} free credit(s); its API key is saved in ${credentialsFile()}`);
  return key;
}

/** One line that redraws itself on a terminal, or one line per change elsewhere. */
function progressBar(out: NodeJS.WriteStream) {
  const total = ANIMATION_STEPS.length;
  let last = '';
  return (done: number, label: string) => {
    const width = 28;
    const filled = Math.round((done / total) * width);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${label}`;
    if (line === last) return;
    last = line;
    if (out.isTTY) out.write(`\r\x1b[2K${line}`);
    else out.write(`${line}\n`);
  };
}

export async function animate(opts: Options): Promise<number> {
  const say = (l: string) => opts.out.write(`${l}\n`);
  const key = await apiKey(opts.api, opts.key, say);
  const form = new FormData();
  form.append('photo', new Blob([new Uint8Array(await readFile(opts.photo))]), path.basename(opts.photo));
  const created = await fetch(`${opts.api}/api/animations${opts.fullBody ? '' : '?fullBody=0'}`, {
    method: 'POST',
    body: form,
    headers: { authorization: `Bearer ${key}` },
  });
  const body = (await created.json()) as { id?: string; links?: { events: string; self: string }; error?: { message: string } };
  if (created.status !== 202 || !body.links) {
    say(`Refused (${created.status}): ${body.error?.message ?? 'unknown error'}`);
    return 1;
  }
  say(`Animation ${body.id}`);

  const draw = progressBar(opts.out);
  const finished = new Set<string>();
  draw(0, 'starting');
  const events = await fetch(`${opts.api}${body.links.events}`, { headers: { authorization: `Bearer ${key}` } });
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of events.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      if (!data) continue;
      const e = JSON.parse(data.slice(6)) as { type: string; step?: string; status: string };
      if (e.type === 'step' && e.step) {
        if (e.status === 'succeeded' || e.status === 'skipped') finished.add(e.step);
        draw(finished.size, e.status === 'running' ? `${e.step}…` : `${e.step} ${e.status}`);
      }
    }
  }
  if (opts.out.isTTY) opts.out.write('\n');

  const status = (await (await fetch(`${opts.api}${body.links.self}`)).json()) as {
    status: string;
    assets: Record<string, string | undefined>;
    viewerUrl: string;
    error?: { step: string; message: string };
    refund?: { status: string };
  };
  if (status.status !== 'succeeded') {
    say(`Failed at ${status.error?.step}: ${status.error?.message}`);
    if (status.refund?.status === 'refunded') say('Your credit was refunded.');
    return 1;
  }
  say('Done:');
  for (const [name, url] of Object.entries(status.assets)) say(`  ${name.padEnd(7)} ${url}`);
  say(`  viewer  ${status.viewerUrl}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('animate.ts')) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { api: { type: 'string', default: 'http://localhost:3000' }, key: { type: 'string' }, bust: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: npm run animate -- <photo> [--api URL] [--key API_KEY] [--bust]\n');
    process.exit(2);
  }
  animate({ photo: positionals[0]!, api: values.api!.replace(/\/$/, ''), key: values.key, fullBody: !values.bust, out: process.stdout }).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
