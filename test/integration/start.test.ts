/**
 * `npm start` as a user runs it: the embedded stack comes up and prints its URLs, answers /readyz,
 * serves the Temporal UI and one /metrics with the worker's SDK metrics and the app's; Ctrl-C leaves nothing listening; a second start reuses the data;
 * a port already taken gives a clear message; even a SIGKILL leaves no orphan Temporal server.
 */
import { Client, Connection } from '@temporalio/client';
import { mkdtemp, readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { portIsFree } from '../../src/temporal/ports.js';
import { eventually, freePort, launchEntry, type Launched } from '../support/processes.js';
import { temporalCliPath } from '../support/temporal.js';

let env: Record<string, string>;
let ports: { app: number; temporal: number; ui: number; metrics: number };

beforeAll(async () => {
  ports = { app: await freePort(), temporal: await freePort(), ui: await freePort(), metrics: await freePort() };
  env = {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? os.homedir(),
    PORT: String(ports.app),
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    METRICS_PORT: String(ports.metrics),
    DATA_DIR: await mkdtemp(path.join(os.tmpdir(), 'stickerflow-start-')),
    TEMPORAL_CLI_PATH: temporalCliPath(),
    LOG_LEVEL: 'warn',
  };
});

const launch = (extraEnv: Record<string, string> = {}) => launchEntry('start', { ...env, ...extraEnv });

async function untilRunning(s: Launched, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (!s.output().includes('Press Ctrl-C to stop.')) {
    if (s.child.exitCode !== null) throw new Error(`start exited early:\n${s.output()}`);
    if (Date.now() > deadline) throw new Error(`start did not get ready:\n${s.output()}`);
    await sleep(200);
  }
}

async function allPortsFree(): Promise<boolean> {
  const free = await Promise.all([ports.app, ports.temporal, ports.ui, ports.metrics].map((p) => portIsFree(p)));
  return free.every(Boolean);
}

describe('npm start (embedded stack)', () => {
  it('starts, prints its URLs, is ready, serves the Temporal UI, and Ctrl-C stops everything', async () => {
    const s = launch();
    await untilRunning(s);
    expect(s.output()).toContain(`App:          http://localhost:${ports.app}`);
    expect(s.output()).toContain(`Temporal UI:  http://localhost:${ports.ui}`);
    expect(s.output()).toContain('Models:       local, on this CPU');

    const ready = await fetch(`http://127.0.0.1:${ports.app}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { temporal: 'ok', database: 'ok' } });
    expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);

    // One scrape target for the one process: the app's request counters and the worker's pollers.
    expect(s.output()).toContain(`Metrics:      http://127.0.0.1:${ports.metrics}/metrics`);
    let scraped = '';
    const both = await eventually(async () => {
      scraped = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
      return /^stickerflow_http_requests_total\{method="GET",route="\/readyz",status="200"\} [1-9]/m.test(scraped) && /^temporal_num_pollers\{.*\} [1-9]/m.test(scraped);
    });
    expect(both, scraped).toBe(true);

    // The operator console, with the token generated for this machine and printed once here.
    expect(s.output()).toContain(`Operator:     http://localhost:${ports.app}/ops`);
    expect(s.output()).toMatch(/Emails: {7}written to .*outbox \(set SMTP_URL to send them\)/);
    const token = /token (\S+) \(kept in (.+ops-token)\)/.exec(s.output());
    expect(token, s.output()).not.toBeNull();
    expect((await readFile(token![2]!, 'utf8')).trim()).toBe(token![1]);
    expect((await fetch(`http://127.0.0.1:${ports.app}/ops/api/summary`)).status).toBe(401);
    const summary = await fetch(`http://127.0.0.1:${ports.app}/ops/api/summary`, { headers: { authorization: `Bearer ${token![1]}` } });
    expect(summary.status).toBe(200);

    // Leave a workflow behind (on a queue no worker polls) to find again after the restart.
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    await new Client({ connection }).workflow.start('parkedWorkflow', { taskQueue: 'nobody-polls-this', workflowId: 'survives-restart' });
    await connection.close();

    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    expect(await allPortsFree()).toBe(true);
  });

  it('a second start continues on the same data', async () => {
    const s = launch();
    await untilRunning(s);
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    const description = await new Client({ connection }).workflow.getHandle('survives-restart').describe();
    expect(description.status.name).toBe('RUNNING');
    await connection.close();
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(await allPortsFree()).toBe(true);
  });

  it('refuses to start on a taken port with a clear message, not a stack trace', async () => {
    const blocker = net.createServer().listen(ports.app, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const s = launch();
      expect(await s.exited).toBe(1);
      expect(s.output()).toContain(`${ports.app} (stickerflow API and pages)`);
      expect(s.output()).toContain('set PORT to another port');
      expect(s.output()).not.toMatch(/\n\s+at /);
      expect(await portIsFree(ports.temporal)).toBe(true);
    } finally {
      blocker.close();
    }
  });

  it('refuses a bad configuration by variable name', async () => {
    const s = launch({ TEMPORAL_UI_PORT: 'not-a-port' });
    expect(await s.exited).toBe(1);
    expect(s.output()).toContain('TEMPORAL_UI_PORT');
    expect(s.output()).not.toMatch(/\n\s+at /);
  });

  it('leaves no Temporal server behind even when killed with SIGKILL', async () => {
    const s = launch();
    await untilRunning(s);
    s.child.kill('SIGKILL');
    await s.exited;
    expect(await eventually(allPortsFree)).toBe(true);
  });
});
