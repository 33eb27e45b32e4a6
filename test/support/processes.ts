/** Starting and stopping the real servers the tests need (PostgreSQL, an S3-compatible server, stripe-mock). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureGoTool, isExecutable, run, type Log } from '../../src/toolchain/install.js';

export interface Running {
  url: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, child: ChildProcess, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => (sock.destroy(), resolve(true)));
      sock.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
  };
}

/** The newest PostgreSQL server binaries installed from Debian's packages. */
async function postgresBinDir(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [] as string[])).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (await isExecutable(path.join(dir, 'postgres'))) return dir;
  }
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install postgresql');
}

/** A throwaway PostgreSQL cluster on a free port (as the `postgres` user when we are root). */
export async function startPostgres(): Promise<Running> {
  const bin = await postgresBinDir();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-pg-'));
  const asRoot = process.getuid?.() === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  if (asRoot) await run('chown', ['postgres:postgres', dir]);
  await run(...wrap(path.join(bin, 'initdb'), ['-D', path.join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '--no-sync']));
  const port = await freePort();
  const [cmd, args] = wrap(path.join(bin, 'postgres'), [
    '-D', path.join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
  ]);
  const child = spawn(cmd, args, { stdio: 'ignore' });
  await waitForPort(port, child, 'PostgreSQL');
  // Accepting TCP precedes accepting queries by a moment; wait for a real answer.
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const pg = (await import('pg')).default;
  for (let i = 0; ; i++) {
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (i > 100) throw err;
      await sleep(100);
    }
  }
  return { url, stop: stopper(child) };
}

export const VERSITYGW = {
  name: 'versitygw',
  pkg: 'github.com/versity/versitygw/cmd/versitygw',
  version: 'v1.8.0',
  binary: 'versitygw',
} as const;

export const S3_TEST_CREDENTIALS = { accessKeyId: 'stickerflow-test', secretAccessKey: 'stickerflow-test-secret' };

/** The Versity S3 gateway over a temporary folder: a real S3 protocol server. */
export async function startS3Server(cacheDir: string, log: Log): Promise<Running> {
  const bin = await ensureGoTool(VERSITYGW, cacheDir, log);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-s3-'));
  const port = await freePort();
  const child = spawn(
    bin,
    ['--access', S3_TEST_CREDENTIALS.accessKeyId, '--secret', S3_TEST_CREDENTIALS.secretAccessKey, '--port', `127.0.0.1:${port}`, '--quiet', 'posix', dir],
    { stdio: 'ignore' },
  );
  await waitForPort(port, child, 'versitygw');
  return { url: `http://127.0.0.1:${port}`, stop: stopper(child) };
}

/**
 * Stripe's official API mock: stateless, answers every call of Stripe's OpenAPI spec with its
 * fixtures (and validates the parameters against the spec); it sends no webhooks.
 */
export const STRIPE_MOCK = {
  name: 'stripe-mock',
  pkg: 'github.com/stripe/stripe-mock',
  version: 'v0.203.0',
  binary: 'stripe-mock',
} as const;

/** stripe-mock on a free loopback port (plain HTTP; its HTTPS listener on another free port). */
export async function startStripeMock(cacheDir: string, log: Log): Promise<Running> {
  const bin = await ensureGoTool(STRIPE_MOCK, cacheDir, log);
  const [port, httpsPort] = [await freePort(), await freePort()];
  const child = spawn(bin, ['-http-addr', `127.0.0.1:${port}`, '-https-addr', `127.0.0.1:${httpsPort}`], { stdio: 'ignore' });
  await waitForPort(port, child, 'stripe-mock');
  return { url: `http://127.0.0.1:${port}`, stop: stopper(child) };
}

export interface Launched {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs one of our entry points (`src/bin/<entry>.ts`) as a user would, collecting its output. */
export function launchEntry(entry: string, env: Record<string, string>, args: string[] = []): Launched {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', `src/bin/${entry}.ts`, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

/** Polls `check` (a throw counts as "not yet") until it holds; false when time runs out. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
  return true;
}
