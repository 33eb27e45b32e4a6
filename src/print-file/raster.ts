/**
 * Rasterising a region of a PDF's first page to 8-bit grey with poppler's `pdftoppm`, launched
 * from a few long-lived shells instead of from this process. Forking copies the parent's page
 * tables: a worker holding a few hundred MB pays ~12 ms of its main thread per spawn (measured:
 * 23 ms wall, 12 ms CPU at 400 MB; 1.4 ms from a small process), twice per preflight. The shells
 * are tiny, so they fork pdftoppm for next to nothing, and this process only writes a line.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface GrayRaster {
  data: Buffer;
  width: number;
  height: number;
}

/** A region in PDF points from the page's top-left corner. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

const RASTER_TIMEOUT_S = 30;
/** Rasters in flight at once (a preflight asks for two). */
const SHELLS = 2;

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

interface Job {
  id: string;
  command: string;
  resolve: (exitCode: number) => void;
  reject: (err: Error) => void;
}

/** One shell running one job at a time; respawned if it dies. */
class Shell {
  private proc?: ChildProcessWithoutNullStreams;
  private current?: Job;
  private buffered = '';

  get idle() {
    return !this.current;
  }

  run(job: Job) {
    this.current = job;
    const proc = this.ensure();
    (proc.stdout as unknown as Socket).ref(); // a job in flight keeps the process alive until it answers
    proc.stdin.write(`${job.command}; echo "$? ${job.id}"\n`);
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.proc && this.proc.exitCode === null && !this.proc.killed) return this.proc;
    const proc = spawn('sh', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const [code, id] = line.split(' ');
        if (this.current && id === this.current.id) this.finish((job) => job.resolve(Number(code)));
      }
    });
    proc.stdin.on('error', () => undefined); // a dead shell is reported by 'exit'
    proc.on('exit', () => this.finish((job) => job.reject(new Error('the rasterizer shell exited'))));
    proc.on('error', (err) => this.finish((job) => job.reject(err)));
    // Idle shells never keep the process alive; when it exits their stdin closes and they exit too.
    proc.unref();
    for (const stream of [proc.stdin, proc.stdout, proc.stderr] as unknown as Socket[]) stream.unref();
    this.proc = proc;
    return proc;
  }

  private finish(settle: (job: Job) => void) {
    const job = this.current;
    this.current = undefined;
    if (this.proc) (this.proc.stdout as unknown as Socket).unref();
    if (job) settle(job);
    pool.next();
  }
}

const pool = new (class {
  readonly shells = Array.from({ length: SHELLS }, () => new Shell());
  readonly queue: Job[] = [];
  next() {
    for (const shell of this.shells) {
      if (!this.queue.length) return;
      if (shell.idle) shell.run(this.queue.shift()!);
    }
  }
  submit(command: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: randomBytes(8).toString('hex'), command, resolve, reject });
      this.next();
    });
  }
})();

let scratchDir: string | undefined;

/** The region of the PDF's first page at `dpi`, as 8-bit grey. */
export async function rasterizeGray(pdf: Buffer, dpi: number, pdftoppmPath: string, region: Region): Promise<GrayRaster> {
  scratchDir ??= mkdtempSync(path.join(os.tmpdir(), 'stickerflow-raster-'));
  const base = path.join(scratchDir, randomBytes(8).toString('hex'));
  const [input, output, errors] = [`${base}.pdf`, `${base}.pgm`, `${base}.err`];
  const px = (pt: number) => String(Math.round((pt * dpi) / 72));
  const args = ['-r', String(dpi), '-gray', '-x', px(region.x), '-y', px(region.y), '-W', px(region.width), '-H', px(region.height), '-f', '1', '-l', '1'];
  try {
    await writeFile(input, pdf);
    const command = `timeout -k 2 ${RASTER_TIMEOUT_S} ${quote(pdftoppmPath)} ${args.join(' ')} ${quote(input)} > ${quote(output)} 2> ${quote(errors)}`;
    const code = await pool.submit(command);
    if (code === 127) throw new Error(`pdftoppm not found at "${pdftoppmPath}": install poppler-utils`);
    if (code === 124) throw new Error(`pdftoppm took longer than ${RASTER_TIMEOUT_S} s`);
    if (code !== 0) throw new Error(`pdftoppm failed (exit ${code}): ${(await readFile(errors, 'utf8').catch(() => '')).trim()}`);
    return parsePgm(await readFile(output));
  } finally {
    await Promise.all([input, output, errors].map((f) => rm(f, { force: true })));
  }
}

function parsePgm(pgm: Buffer): GrayRaster {
  const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(pgm.subarray(0, 64).toString('latin1'));
  if (!header || header[3] !== '255') throw new Error('pdftoppm did not write an 8-bit PGM image');
  const [width, height] = [Number(header[1]), Number(header[2])];
  return { data: pgm.subarray(header[0].length, header[0].length + width * height), width, height };
}
