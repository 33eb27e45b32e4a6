/**
 * The one reader of `process.env`. Every setting is named, typed, defaulted and validated here;
 * the rest of the code receives a `Config` value. Workflow code never sees it.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);
const optionalUrl = z.url().optional();
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const isUrl = (v: string) => {
  try {
    return Boolean(new URL(v).hostname);
  } catch {
    return false;
  }
};
/** Treats empty strings as unset, so `FOO=` in a .env file means "use the default". */
const blankAsUnset = (env: NodeJS.ProcessEnv) =>
  Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));

const schema = z
  .object({
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    HOST: z.string().default('127.0.0.1'),
    PORT: port.default(3000),
    // `off` (or 0) serves no /metrics (null here: undefined would mean the default); a port 0
    // would be a random one no scraper could find.
    METRICS_PORT: z
      .union([z.enum(['off', 'OFF', '0']).transform(() => null), port], { error: 'must be a port (1–65535) or off' })
      .default(9464),
    PUBLIC_URL: optionalUrl,
    DATA_DIR: z.string().default('./data'),
    TOOL_CACHE_DIR: z.string().optional(),

    TEMPORAL_ADDRESS: z.string().optional(),
    TEMPORAL_NAMESPACE: z.string().default('default'),
    TEMPORAL_TASK_QUEUE: z.string().default('stickerflow'),
    TEMPORAL_AI_TASK_QUEUE: z.string().optional(),
    TEMPORAL_MEDIA_TASK_QUEUE: z.string().optional(),
    WORKER_ROLES: z
      .string()
      .default('workflows,ai,media')
      .transform((v) => [...new Set(v.split(',').map((r) => r.trim()).filter(Boolean))])
      .pipe(z.array(z.enum(['workflows', 'ai', 'media'])).min(1, 'name at least one of workflows, ai, media')),
    TEMPORAL_WORKFLOW_CACHE: z.coerce.number().int().min(1).max(100_000).default(100),
    TEMPORAL_PORT: port.default(7233),
    TEMPORAL_UI_PORT: port.default(8233),
    TEMPORAL_UI_URL: optionalUrl,
    TEMPORAL_API_KEY: z.string().optional(),
    TEMPORAL_TLS: bool.optional(),
    TEMPORAL_CLI_PATH: z.string().optional(),
    TEMPORAL_TEST_SERVER_PATH: z.string().optional(),

    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),

    STORAGE_DRIVER: z.enum(['local', 's3']).default('local'),
    S3_BUCKET: z.string().optional(),
    S3_REGION: z.string().default('us-east-1'),
    S3_ENDPOINT: optionalUrl,
    S3_FORCE_PATH_STYLE: bool.default(false),
    S3_ACCESS_KEY_ID: z.string().optional(),
    S3_SECRET_ACCESS_KEY: z.string().optional(),

    ALERT_WEBHOOK_URL: optionalUrl,
    SLACK_WEBHOOK_URL: optionalUrl,
    PUSHOVER_TOKEN: z.string().optional(),
    PUSHOVER_USER: z.string().optional(),
    PUSHOVER_API_URL: z.url().default('https://api.pushover.net/1/messages.json'),

    STARTER_CREDITS: z.coerce.number().int().min(0).default(3),
    COOKIE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    MODEL_BACKEND: z.enum(['local', 'fal']).optional(),
    FAL_KEY: z.string().optional(),
    FAL_BASE_URL: optionalUrl,
    /**
     * fal's file hosts. `*.fal.media` covers v3.fal.media (fal's CDN and media-expiration docs,
     * the Python client's CDN_URL) and v3b.fal.media (fal's file-access and data-retention docs);
     * bare fal.media is fal's own domain, seen in older upload URLs but on no docs page we could
     * read. storage.googleapis.com, where older fal examples live, stays out on purpose: a host
     * list cannot pin a bucket. Sources: the README's fal section.
     */
    FAL_RESULT_HOSTS: z
      .string()
      .default('fal.media,*.fal.media')
      .transform((v) => v.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean))
      .pipe(
        z
          .array(z.string().regex(/^(\*\.[a-z0-9-]+(\.[a-z0-9-]+)+|[a-z0-9-]+(\.[a-z0-9-]+)*)$/, 'host names, each with an optional leading *.'))
          .min(1, 'name at least one host'),
      ),
    FAL_MAX_RESULT_MB: z.coerce.number().positive().max(4096).default(100),
    PROVIDER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(4),
    MODEL_THREADS: z.coerce.number().int().min(1).max(64).default(1),
    FFMPEG_PATH: z.string().default('ffmpeg'),
    MAX_UPLOAD_MB: z.coerce.number().positive().max(200).default(20),
    MAX_PHOTO_MEGAPIXELS: z.coerce.number().positive().max(500).default(40),
    PDFTOPPM_PATH: z.string().default('pdftoppm'),

    ORDER_PAYMENT_MINUTES: z.coerce.number().int().min(30).max(1440).default(1440),
    PAYMENT_PROVIDER: z.enum(['local', 'stripe']).default('local'),
    STRIPE_WEBHOOK_SECRET: z.string().startsWith('whsec_', 'must start with whsec_').optional(),
    STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_\w+$/, 'must be a Stripe secret key (sk_test_…, sk_live_… or rk_…)').optional(),
    STRIPE_API_URL: optionalUrl,

    UPLOADS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(10),
    NEW_CUSTOMERS_PER_HOUR: z.coerce.number().int().min(1).max(100_000).default(5),
    TRUST_PROXY: bool.default(false),

    PRINTER: z.enum(['sim', 'printful', 'prodigi']).default('sim'),
    PRINTER_SIM_STEP_SECONDS: z.coerce.number().positive().max(86_400).default(10),
    PRINTER_SIM_URL: optionalUrl,
    PRINTER_SIM_WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    PRINTFUL_API_TOKEN: z.string().optional(),
    PRINTFUL_WEBHOOK_SECRET: z.string().regex(/^[0-9a-fA-F]{32,}$/, 'must be the hex secret Printful shows').optional(),
    PRINTFUL_STORE_ID: z.string().optional(),
    PRINTFUL_BASE_URL: z.url().default('https://api.printful.com'),
    PRODIGI_API_KEY: z.string().optional(),
    PRODIGI_CALLBACK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    PRODIGI_BASE_URL: z.url().default('https://api.prodigi.com'),

    OPS_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),

    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\/[^/?#\s]+/i, 'must be an smtp:// or smtps:// URL, user and password in it: smtps://user:password@mail.example.com:465')
      .refine(isUrl, 'must be an smtp:// or smtps:// URL (percent-encode @, : and / in the user name and password)')
      .optional(),
    EMAIL_FROM: z
      .string()
      .regex(/^([^<>\r\n]*<[^<>\s@]+@[^<>\s@]+>|[^<>\s@]+@[^<>\s@]+)$/, 'must be an address, or a name and an address: stickerflow <orders@example.com>')
      .default('stickerflow <no-reply@localhost>'),
  })
  .superRefine((env, ctx) => {
    if (env.STORAGE_DRIVER === 's3' && !env.S3_BUCKET) {
      ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'required when STORAGE_DRIVER=s3' });
    }
    if (Boolean(env.PUSHOVER_TOKEN) !== Boolean(env.PUSHOVER_USER)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PUSHOVER_USER'],
        message: 'PUSHOVER_TOKEN and PUSHOVER_USER go together',
      });
    }
    if (env.MODEL_BACKEND === 'fal' && !env.FAL_KEY) {
      ctx.addIssue({ code: 'custom', path: ['FAL_KEY'], message: 'required when MODEL_BACKEND=fal' });
    }
    if (env.PRINTER === 'printful') {
      for (const name of ['PRINTFUL_API_TOKEN', 'PRINTFUL_WEBHOOK_SECRET'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'required when PRINTER=printful' });
      }
    }
    if (env.PRINTER === 'prodigi') {
      for (const name of ['PRODIGI_API_KEY', 'PRODIGI_CALLBACK_SECRET'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'required when PRINTER=prodigi' });
      }
    }
    if (env.PRINTER !== 'sim' && env.PAYMENT_PROVIDER === 'local') {
      // The local checkout's Pay button takes no money: in front of a real printer it would print on the operator's account for anyone.
      ctx.addIssue({
        code: 'custom',
        path: ['PAYMENT_PROVIDER'],
        message:
          `PRINTER=${env.PRINTER} sends every paid order to a real printer, billed to your account, but PAYMENT_PROVIDER is local ` +
          '(the default), whose checkout page marks an order paid when anyone presses Pay, without taking any money. ' +
          'Set PAYMENT_PROVIDER=stripe (with STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET), or use PRINTER=sim to try orders without printing.',
      });
    }
    if (env.PAYMENT_PROVIDER === 'stripe') {
      for (const name of ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'required when PAYMENT_PROVIDER=stripe' });
      }
    }
    if (Boolean(env.S3_ACCESS_KEY_ID) !== Boolean(env.S3_SECRET_ACCESS_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['S3_SECRET_ACCESS_KEY'],
        message: 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together',
      });
    }
  });

/** Every environment variable the configuration reads. */
export const SETTING_NAMES: readonly string[] = Object.keys(schema.shape);

export type WorkerRole = 'workflows' | 'ai' | 'media';

export interface Config {
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /**
   * `trustProxy`: take the client's address from X-Forwarded-For (behind a reverse proxy only).
   * `uploadsPerMinute`: photo uploads one client address may make per minute.
   * `newCustomersPerHour`: customers (each with the starter credits) one address may make per hour.
   */
  http: { host: string; port: number; publicUrl: string; trustProxy: boolean; uploadsPerMinute: number; newCustomersPerHour: number };
  /** Port of this process's `GET /metrics` (on `http.host`); undefined: off. */
  metricsPort?: number;
  dataDir: string;
  toolCacheDir: string;
  temporal: {
    /** Unset: the embedded dev server is started on `devServerPort`. */
    address?: string;
    namespace: string;
    /** Workflows and their bookkeeping activities (ledger, alerts). */
    taskQueue: string;
    /** Where model steps and ffmpeg steps run: the main queue unless set apart. */
    aiTaskQueue: string;
    mediaTaskQueue: string;
    /** Which queues this worker process serves. */
    workerRoles: WorkerRole[];
    /**
     * Workflows a worker keeps in memory between tasks. Orders wait for days, so most are idle:
     * an evicted one is replayed from its (short) history when a signal or query comes.
     */
    workflowCache: number;
    devServerPort: number;
    uiPort: number;
    uiUrl: string;
    apiKey?: string;
    tls: boolean;
    cliPath?: string;
    testServerPath?: string;
  };
  /** Unset: the embedded PGlite database under `dataDir`. */
  databaseUrl?: string;
  storage:
    | { driver: 'local'; root: string }
    | {
        driver: 's3';
        bucket: string;
        region: string;
        endpoint?: string;
        forcePathStyle: boolean;
        credentials?: { accessKeyId: string; secretAccessKey: string };
      };
  alerts: {
    webhookUrl?: string;
    slackWebhookUrl?: string;
    pushover?: { token: string; user: string; apiUrl: string };
  };
  starterCredits: number;
  /** Signs the customer cookie. Unset: a random one kept under DATA_DIR (fine for one machine). */
  cookieSecret?: string;
  /**
   * `concurrency`: animation jobs running at the provider at once, across the whole cluster.
   * `threads`: worker threads that run the local models' CPU work, off the event loop.
   * `fal.baseUrl` replaces fal's hosts (queue.fal.run, rest.fal.ai), e.g. for a local fake.
   * `fal.resultHosts`: the only hosts results are downloaded from (`*.` any subdomain), besides
   * `baseUrl`'s; `fal.maxResultBytes`: the largest result accepted.
   */
  models: {
    backend: 'local' | 'fal';
    concurrency: number;
    threads: number;
    fal?: { key: string; baseUrl?: string; resultHosts: string[]; maxResultBytes: number };
  };
  media: { ffmpegPath: string; maxUploadBytes: number; maxPhotoPixels: number; pdftoppmPath: string };
  orders: { paymentMinutes: number };
  /**
   * Payments: the embedded local provider (Stripe-signed events to our own webhook route), or
   * Stripe (`stripe.secretKey`; `stripe.apiUrl` points the client elsewhere, e.g. at stripe-mock).
   * `webhookSecret` unset (local only): a random one kept under DATA_DIR.
   */
  payments: { provider: 'local' | 'stripe'; webhookSecret?: string; stripe?: { secretKey: string; apiUrl?: string } };
  /**
   * The printer orders go to. The simulator runs inside the embedded stack (or at `sim.url`);
   * its webhook secret, unset, is a random one kept under DATA_DIR.
   */
  printer: {
    id: 'sim' | 'printful' | 'prodigi';
    sim: { stepSeconds: number; url?: string; webhookSecret?: string };
    printful?: { token: string; webhookSecret: string; storeId?: string; baseUrl: string };
    prodigi?: { apiKey: string; callbackSecret: string; baseUrl: string };
  };
  /**
   * The operator's bearer token (OPS_TOKEN), for operator routes: the printer simulator's fail
   * switch (and the operator console). Unset, that switch is open on the embedded default alone
   * (PRINTER=sim with local payments, where nothing real is at stake) and absent otherwise.
   */
  opsToken?: string;
  /**
   * Emails to shoppers: over SMTP when `smtpUrl` is set (SMTP_URL, its password inside: never
   * printed), else written as .eml files into `outboxDir` (DATA_DIR/outbox). `from`: EMAIL_FROM.
   */
  email: { smtpUrl?: string; from: string; outboxDir: string };
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(blankAsUnset(env));
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.DATA_DIR);
  const home = env.HOME || os.homedir();
  const toolCacheDir = path.resolve(
    e.TOOL_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'stickerflow'),
  );
  return {
    logLevel: e.LOG_LEVEL,
    http: {
      host: e.HOST,
      port: e.PORT,
      publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/$/, ''),
      trustProxy: e.TRUST_PROXY,
      uploadsPerMinute: e.UPLOADS_PER_MINUTE,
      newCustomersPerHour: e.NEW_CUSTOMERS_PER_HOUR,
    },
    metricsPort: e.METRICS_PORT ?? undefined,
    dataDir,
    toolCacheDir,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      aiTaskQueue: e.TEMPORAL_AI_TASK_QUEUE ?? e.TEMPORAL_TASK_QUEUE,
      mediaTaskQueue: e.TEMPORAL_MEDIA_TASK_QUEUE ?? e.TEMPORAL_TASK_QUEUE,
      workerRoles: e.WORKER_ROLES,
      workflowCache: e.TEMPORAL_WORKFLOW_CACHE,
      devServerPort: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
      uiUrl: (e.TEMPORAL_UI_URL ?? `http://localhost:${e.TEMPORAL_UI_PORT}`).replace(/\/$/, ''),
      apiKey: e.TEMPORAL_API_KEY,
      tls: e.TEMPORAL_TLS ?? Boolean(e.TEMPORAL_API_KEY),
      cliPath: e.TEMPORAL_CLI_PATH,
      testServerPath: e.TEMPORAL_TEST_SERVER_PATH,
    },
    databaseUrl: e.DATABASE_URL,
    storage:
      e.STORAGE_DRIVER === 's3'
        ? {
            driver: 's3',
            bucket: e.S3_BUCKET!,
            region: e.S3_REGION,
            endpoint: e.S3_ENDPOINT,
            forcePathStyle: e.S3_FORCE_PATH_STYLE,
            credentials:
              e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
                ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY }
                : undefined,
          }
        : { driver: 'local', root: path.join(dataDir, 'blobs') },
    alerts: {
      webhookUrl: e.ALERT_WEBHOOK_URL,
      slackWebhookUrl: e.SLACK_WEBHOOK_URL,
      pushover:
        e.PUSHOVER_TOKEN && e.PUSHOVER_USER
          ? { token: e.PUSHOVER_TOKEN, user: e.PUSHOVER_USER, apiUrl: e.PUSHOVER_API_URL }
          : undefined,
    },
    starterCredits: e.STARTER_CREDITS,
    cookieSecret: e.COOKIE_SECRET,
    models: {
      // A fal key chooses fal unless MODEL_BACKEND says otherwise.
      backend: e.MODEL_BACKEND ?? (e.FAL_KEY ? 'fal' : 'local'),
      concurrency: e.PROVIDER_CONCURRENCY,
      threads: e.MODEL_THREADS,
      fal: e.FAL_KEY
        ? {
            key: e.FAL_KEY,
            baseUrl: e.FAL_BASE_URL?.replace(/\/$/, ''),
            resultHosts: e.FAL_RESULT_HOSTS,
            maxResultBytes: Math.round(e.FAL_MAX_RESULT_MB * 1024 * 1024),
          }
        : undefined,
    },
    media: {
      ffmpegPath: e.FFMPEG_PATH,
      maxUploadBytes: Math.round(e.MAX_UPLOAD_MB * 1024 * 1024),
      maxPhotoPixels: Math.round(e.MAX_PHOTO_MEGAPIXELS * 1e6),
      pdftoppmPath: e.PDFTOPPM_PATH,
    },
    orders: { paymentMinutes: e.ORDER_PAYMENT_MINUTES },
    payments: {
      provider: e.PAYMENT_PROVIDER,
      webhookSecret: e.STRIPE_WEBHOOK_SECRET,
      stripe: e.STRIPE_SECRET_KEY ? { secretKey: e.STRIPE_SECRET_KEY, apiUrl: e.STRIPE_API_URL?.replace(/\/$/, '') } : undefined,
    },
    printer: {
      id: e.PRINTER,
      sim: { stepSeconds: e.PRINTER_SIM_STEP_SECONDS, url: e.PRINTER_SIM_URL?.replace(/\/$/, ''), webhookSecret: e.PRINTER_SIM_WEBHOOK_SECRET },
      printful:
        e.PRINTFUL_API_TOKEN && e.PRINTFUL_WEBHOOK_SECRET
          ? { token: e.PRINTFUL_API_TOKEN, webhookSecret: e.PRINTFUL_WEBHOOK_SECRET, storeId: e.PRINTFUL_STORE_ID, baseUrl: e.PRINTFUL_BASE_URL.replace(/\/$/, '') }
          : undefined,
      prodigi:
        e.PRODIGI_API_KEY && e.PRODIGI_CALLBACK_SECRET
          ? { apiKey: e.PRODIGI_API_KEY, callbackSecret: e.PRODIGI_CALLBACK_SECRET, baseUrl: e.PRODIGI_BASE_URL.replace(/\/$/, '') }
          : undefined,
    },
    opsToken: e.OPS_TOKEN,
    email: { smtpUrl: e.SMTP_URL, from: e.EMAIL_FROM, outboxDir: path.join(dataDir, 'outbox') },
  };
}

/** A copy safe to print: secrets and credentials inside URLs are masked. */
export function redactConfig(config: Config): unknown {
  const mask = (v: string | undefined) => (v ? '***' : undefined);
  /** Webhook URLs carry their secret in the path (Slack) or query: keep only scheme and host. */
  const maskSecretUrl = (v: string | undefined) => {
    if (!v) return v;
    try {
      const u = new URL(v);
      return `${u.protocol}//${u.host}/***`;
    } catch {
      return '***';
    }
  };
  /** The user name stays; the password, up to the authority's last @ (as URL parsers read it), goes. */
  const maskPassword = (v: string | undefined) => v?.replace(/\/\/([^:/@]*):[^/]*@/, '//$1:***@');
  return {
    ...config,
    temporal: { ...config.temporal, apiKey: mask(config.temporal.apiKey) },
    cookieSecret: mask(config.cookieSecret),
    opsToken: mask(config.opsToken),
    models: { ...config.models, fal: config.models.fal ? { ...config.models.fal, key: '***' } : undefined },
    databaseUrl: maskPassword(config.databaseUrl),
    email: { ...config.email, smtpUrl: maskPassword(config.email.smtpUrl) },
    payments: {
      ...config.payments,
      webhookSecret: mask(config.payments.webhookSecret),
      stripe: config.payments.stripe ? { ...config.payments.stripe, secretKey: '***' } : undefined,
    },
    printer: {
      ...config.printer,
      sim: { ...config.printer.sim, webhookSecret: mask(config.printer.sim.webhookSecret) },
      printful: config.printer.printful ? { ...config.printer.printful, token: '***', webhookSecret: '***' } : undefined,
      prodigi: config.printer.prodigi ? { ...config.printer.prodigi, apiKey: '***', callbackSecret: '***' } : undefined,
    },
    storage:
      config.storage.driver === 's3'
        ? { ...config.storage, credentials: config.storage.credentials ? '***' : undefined }
        : config.storage,
    alerts: {
      webhookUrl: maskSecretUrl(config.alerts.webhookUrl),
      slackWebhookUrl: maskSecretUrl(config.alerts.slackWebhookUrl),
      pushover: config.alerts.pushover ? { ...config.alerts.pushover, token: '***', user: '***' } : undefined,
    },
  };
}
