import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, redactConfig, SETTING_NAMES } from '../../src/config.js';
import { freePort, launchEntry } from '../support/processes.js';

describe('config', () => {
  it('has defaults for the embedded stack', () => {
    const c = loadConfig({ HOME: '/home/u' });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 3000, publicUrl: 'http://localhost:3000', trustProxy: false, uploadsPerMinute: 10, newCustomersPerHour: 5 });
    expect(c.temporal).toMatchObject({ address: undefined, devServerPort: 7233, uiPort: 8233, uiUrl: 'http://localhost:8233', namespace: 'default', tls: false });
    expect(c.dataDir).toMatch(/\/data$/);
    expect(c.toolCacheDir).toBe('/home/u/.cache/stickerflow');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.storage).toEqual({ driver: 'local', root: `${c.dataDir}/blobs` });
    expect(c.starterCredits).toBe(3);
  });

  it('reads every documented variable', () => {
    const c = loadConfig({
      PORT: '8080',
      DATA_DIR: '/srv/data',
      TEMPORAL_PORT: '17233',
      TEMPORAL_UI_PORT: '18233',
      TEMPORAL_ADDRESS: 'ns.tmprl.cloud:7233',
      TEMPORAL_API_KEY: 'k',
      DATABASE_URL: 'postgres://u:p@db:5432/sf',
      STORAGE_DRIVER: 's3',
      S3_BUCKET: 'b',
      S3_FORCE_PATH_STYLE: 'true',
      STARTER_CREDITS: '5',
      XDG_CACHE_HOME: '/cache',
    });
    expect(c.http.port).toBe(8080);
    expect(c.dataDir).toBe('/srv/data');
    expect(c.temporal).toMatchObject({ devServerPort: 17233, uiPort: 18233, address: 'ns.tmprl.cloud:7233', tls: true, uiUrl: 'http://localhost:18233' });
    expect(c.storage).toMatchObject({ driver: 's3', bucket: 'b', forcePathStyle: true });
    expect(c.starterCredits).toBe(5);
    expect(c.toolCacheDir).toBe('/cache/stickerflow');
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).http.port).toBe(3000);
  });

  it('lists every problem at once, by variable name', () => {
    const problems = (env: NodeJS.ProcessEnv) => {
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      return expect.unreachable();
    };
    const typeErrors = problems({ PORT: 'abc', DATABASE_URL: 'mysql://x', TEMPORAL_UI_PORT: '99999' });
    for (const name of ['PORT', 'DATABASE_URL', 'TEMPORAL_UI_PORT']) expect(typeErrors).toContain(name);
    const pairErrors = problems({ STORAGE_DRIVER: 's3', PUSHOVER_TOKEN: 't', S3_ACCESS_KEY_ID: 'a' });
    for (const name of ['S3_BUCKET', 'PUSHOVER_USER', 'S3_SECRET_ACCESS_KEY']) expect(pairErrors).toContain(name);
  });

  it('redacts secrets for printing', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://app:hunter2@db/sf',
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/SLACKSECRET',
      PUSHOVER_TOKEN: 'POTOKEN',
      PUSHOVER_USER: 'POUSER',
      TEMPORAL_API_KEY: 'APIKEY',
      FAL_KEY: 'key-id:FALSECRET',
    });
    const text = JSON.stringify(redactConfig(c));
    for (const secret of ['hunter2', 'SLACKSECRET', 'POTOKEN', 'POUSER', 'APIKEY', 'FALSECRET']) expect(text).not.toContain(secret);
    expect(text).toContain('postgres://app:***@db/sf');
    expect(text).toContain('https://hooks.slack.com/***');
  });

  it('chooses the model back end: local by default, fal when a key is set, never fal without one', () => {
    expect(loadConfig({}).models).toEqual({ backend: 'local', concurrency: 4, threads: 1, fal: undefined });
    expect(loadConfig({ MODEL_THREADS: '3' }).models.threads).toBe(3);
    for (const bad of ['0', '1.5', 'two']) expect(() => loadConfig({ MODEL_THREADS: bad })).toThrow(/MODEL_THREADS/);
    expect(loadConfig({ FAL_KEY: 'k:s' }).models).toMatchObject({ backend: 'fal', fal: { key: 'k:s' } });
    expect(loadConfig({ FAL_KEY: 'k:s', MODEL_BACKEND: 'local' }).models.backend).toBe('local');
    expect(loadConfig({ FAL_KEY: 'k:s', FAL_BASE_URL: 'http://127.0.0.1:9999/' }).models.fal).toMatchObject({ key: 'k:s', baseUrl: 'http://127.0.0.1:9999' });
    expect(() => loadConfig({ MODEL_BACKEND: 'fal' })).toThrow(/FAL_KEY: required when MODEL_BACKEND=fal/);
    expect(() => loadConfig({ MODEL_BACKEND: 'replicate' })).toThrow(/MODEL_BACKEND/);
  });

  it('payments: local by default; Stripe needs both its secret key and its webhook secret', () => {
    expect(loadConfig({}).payments).toEqual({ provider: 'local', webhookSecret: undefined, stripe: undefined });
    const key = 'sk_test_51Config0123456789';
    const secret = 'whsec_config_0123456789';
    expect(
      loadConfig({ PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: key, STRIPE_WEBHOOK_SECRET: secret, STRIPE_API_URL: 'http://127.0.0.1:12111/' }).payments,
    ).toEqual({ provider: 'stripe', webhookSecret: secret, stripe: { secretKey: key, apiUrl: 'http://127.0.0.1:12111' } });
    expect(() => loadConfig({ PAYMENT_PROVIDER: 'stripe' })).toThrow(
      /STRIPE_SECRET_KEY: required when PAYMENT_PROVIDER=stripe[\s\S]*STRIPE_WEBHOOK_SECRET: required when PAYMENT_PROVIDER=stripe/,
    );
    expect(() => loadConfig({ PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: key })).toThrow(/STRIPE_WEBHOOK_SECRET: required/);
    expect(() => loadConfig({ PAYMENT_PROVIDER: 'stripe', STRIPE_WEBHOOK_SECRET: secret })).toThrow(/STRIPE_SECRET_KEY: required/);
    // The error names the problem, never the key it was given.
    let message = '';
    try {
      loadConfig({ PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: key, STRIPE_WEBHOOK_SECRET: 'not-a-whsec' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/STRIPE_WEBHOOK_SECRET: must start with whsec_/);
    expect(message).not.toContain(key);
  });

  describe('a real printer with local payments is refused', () => {
    const PRINTFUL = { PRINTER: 'printful', PRINTFUL_API_TOKEN: 'pf-token', PRINTFUL_WEBHOOK_SECRET: 'ab'.repeat(32) };
    const PRODIGI = { PRINTER: 'prodigi', PRODIGI_API_KEY: 'prodigi-key', PRODIGI_CALLBACK_SECRET: 'prodigi-callback-secret-0123456789abcdef' };
    const STRIPE = { PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: 'sk_test_51Config0123456789', STRIPE_WEBHOOK_SECRET: 'whsec_config_0123456789' };
    const refusal = (env: NodeJS.ProcessEnv) => {
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
      }
      return expect.unreachable('the configuration was accepted');
    };

    it.each([
      ['Printful', PRINTFUL],
      ['Prodigi', PRODIGI],
    ])('%s with the default PAYMENT_PROVIDER, or local said out loud: one paragraph naming PAYMENT_PROVIDER', (_name, printer) => {
      for (const env of [printer, { ...printer, PAYMENT_PROVIDER: 'local' }]) {
        const problems = refusal(env);
        expect(problems).toHaveLength(1);
        const [problem] = problems;
        expect(problem).toMatch(/^PAYMENT_PROVIDER: /);
        expect(problem).toContain(`PRINTER=${printer.PRINTER}`);
        expect(problem).toContain('PAYMENT_PROVIDER=stripe');
        expect(problem).not.toContain('\n'); // one paragraph
        // It names settings, never their values.
        for (const secret of Object.values(printer).filter((v) => v.length > 8)) expect(problem).not.toContain(secret);
      }
    });

    it('the same printers with Stripe, and the simulator with local payments, are accepted', () => {
      expect(loadConfig({ ...PRINTFUL, ...STRIPE }).printer.id).toBe('printful');
      expect(loadConfig({ ...PRODIGI, ...STRIPE }).printer.id).toBe('prodigi');
      expect(loadConfig({}).printer.id).toBe('sim');
      expect(loadConfig({ PRINTER: 'sim', ...STRIPE }).payments.provider).toBe('stripe');
    });

    it.each(['start', 'api'])('`%s` exits non-zero with that paragraph, before listening', async (entry) => {
      const port = await freePort();
      const run = launchEntry(entry, {
        PATH: process.env.PATH!,
        HOME: process.env.HOME ?? os.homedir(),
        DATA_DIR: await mkdtemp(path.join(os.tmpdir(), 'stickerflow-unsafe-')),
        PORT: String(port),
        // Nothing answers at these: a configuration let through fails later, and differently.
        DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
        TEMPORAL_ADDRESS: '127.0.0.1:9',
        LOG_LEVEL: 'info',
        ...PRINTFUL,
      });
      expect(await run.exited).toBe(1);
      expect(run.output()).toMatch(/PAYMENT_PROVIDER: .*PRINTER=printful.*PAYMENT_PROVIDER=stripe/);
      expect(run.output()).not.toMatch(/\n\s+at /); // a message, not a stack trace
      expect(run.output()).not.toMatch(/listening|failed to start|start failed/);
      expect(run.output()).not.toContain('stickerflow is running');
    });
  });

  it('OPS_TOKEN: optional, at least 32 characters, never printed', () => {
    expect(loadConfig({}).opsToken).toBeUndefined();
    const token = 'ops-token-0123456789abcdef0123456789';
    expect(loadConfig({ OPS_TOKEN: token }).opsToken).toBe(token);
    expect(JSON.stringify(redactConfig(loadConfig({ OPS_TOKEN: token })))).not.toContain(token);
    let message = '';
    try {
      loadConfig({ OPS_TOKEN: 'short-ops-token' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/OPS_TOKEN: must be at least 32 characters/);
    expect(message).not.toContain('short-ops-token');
  });

  it('task queues: one by default; AI and media apart when named; worker roles checked', () => {
    expect(loadConfig({}).temporal).toMatchObject({
      taskQueue: 'stickerflow',
      aiTaskQueue: 'stickerflow',
      mediaTaskQueue: 'stickerflow',
      workerRoles: ['workflows', 'ai', 'media'],
    });
    expect(loadConfig({ TEMPORAL_AI_TASK_QUEUE: 'gpu', WORKER_ROLES: ' ai, ai ,media' }).temporal).toMatchObject({
      aiTaskQueue: 'gpu',
      mediaTaskQueue: 'stickerflow',
      workerRoles: ['ai', 'media'],
    });
    expect(() => loadConfig({ WORKER_ROLES: 'ai,print' })).toThrow(/WORKER_ROLES/);
    expect(() => loadConfig({ WORKER_ROLES: ',' })).toThrow(/WORKER_ROLES: name at least one/);
  });

  it('documents every setting it reads, in .env.example and in the README', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(SETTING_NAMES.length).toBeGreaterThan(30);
    expect(SETTING_NAMES.filter((name) => !new RegExp(`^# ${name}=`, 'm').test(example))).toEqual([]);
    expect(SETTING_NAMES.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
