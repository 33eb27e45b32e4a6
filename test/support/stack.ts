/** The whole product as a user starts it (`npm start`), on free ports and a fresh data folder. */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eventually, freePort, launchEntry, type Launched } from './processes.js';
import { temporalCliPath } from './temporal.js';

export interface Stack extends Launched {
  /** The API's base URL. */
  base: string;
  work: string;
  /** Ctrl-C, then waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts `npm start`'s entry and waits until it says it is running; `env` adds settings. */
export async function launchStack(env: Record<string, string> = {}): Promise<Stack> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'stickerflow-stack-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const app = launchEntry('start', {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? os.homedir(),
    PORT: String(port),
    PUBLIC_URL: base,
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    DATA_DIR: path.join(work, 'data'),
    TEMPORAL_CLI_PATH: temporalCliPath(),
    LOG_LEVEL: 'warn',
    ...env,
  });
  if (!(await eventually(async () => app.output().includes('Press Ctrl-C'), 120_000))) throw new Error(`no start:\n${app.output()}`);
  return {
    ...app,
    base,
    work,
    async stop() {
      app.child.kill('SIGINT');
      await app.exited;
    },
  };
}
