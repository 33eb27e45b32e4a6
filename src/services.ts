/**
 * The composition root: opens the adapters the configuration names and hands out what each
 * process needs. The worker, the API and the embedded stack all start from here.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createActivityGroups, type Activities } from './activities/index.js';
import { createAlertChannels } from './alerts/index.js';
import { AnimationRepository } from './animations/repository.js';
import { animationRoutes } from './api/animations.js';
import { createApp } from './api/app.js';
import { customerRoutes } from './api/customers.js';
import type { Config } from './config.js';
import { Customers } from './customers/customers.js';
import { openDatabase, type Database } from './db/database.js';
import { migrate } from './db/migrations.js';
import { CreditLedger } from './ledger/ledger.js';
import { ProviderSlots } from './limits/provider-slots.js';
import type { Logger } from './logger.js';
import { watchOrders, watchProviderSlots } from './metrics/registry.js';
import { DEFAULT_PHOTO_LIMITS } from './media/photo.js';
import { createEmailSender } from './email/index.js';
import { createModelBackend } from './models/index.js';
import { PrintFileUrls } from './orders/print-file-url.js';
import { OrderAccessTokens } from './orders/access-token.js';
import { OrderRepository, WebhookEvents } from './orders/repository.js';
import { orderRoutes } from './api/orders.js';
import { checkoutPageRoutes, paymentRoutes, type PaymentProviders } from './api/payments.js';
import { printerWebhookRoutes } from './api/printer-webhooks.js';
import { rateLimit } from './api/rate-limit.js';
import { creditRoutes } from './api/credits.js';
import { CreditPurchases } from './credits/purchases.js';
import { apiLimits } from './limits/rate-limits.js';
import { LocalPayments } from './payments/local.js';
import type { PaymentProvider } from './payments/port.js';
import { StripePayments } from './payments/stripe.js';
import { createPrintAdapters, embeddedPrinterSim, type PrintAdapters } from './print-adapters/index.js';
import { createBlobStore, type BlobStore } from './storage/index.js';
import { connectWorker, temporalAnswers, type TemporalTarget } from './temporal/connection.js';
import { pageRoutes } from './web/pages.js';
import { createWorker } from './worker.js';
import { viewerRoutes } from './web/viewer.js';
import { opsRoutes } from './api/ops.js';
import { TemporalOpsActions } from './ops/actions.js';
import { OpsQueries } from './ops/queries.js';
import { ensureOrderSearchAttributes } from './temporal/search-attributes.js';
import { DEFAULT_ORDER_TIMING } from './workflows/sticker-order/api.js';
import { durationMs } from './workflows/shared/duration.js';

export interface Services {
  db: Database;
  ledger: CreditLedger;
  blobs: BlobStore;
  customers: Customers;
  animations: AnimationRepository;
  providerSlots: ProviderSlots;
  cookieKeys: string[];
  /**
   * Signs (worker) and checks (API) print-file links, keyed from the cookie secret: set
   * COOKIE_SECRET wherever the API and the workers do not share DATA_DIR, or printers are refused.
   */
  printFileUrls: PrintFileUrls;
  orders: OrderRepository;
  webhookEvents: WebhookEvents;
  creditPurchases: CreditPurchases;
  /**
   * The configured payment provider (PAYMENT_PROVIDER); `localPayments` is the same object when
   * it is the embedded one (its checkout pages are served then); and the secret the Stripe-signed
   * events carry (STRIPE_WEBHOOK_SECRET, or for the local provider a random one kept under DATA_DIR).
   */
  payments: PaymentProvider;
  localPayments?: LocalPayments;
  /** The providers by id, for the webhook route's and the order activities' lookups. */
  paymentProviders: PaymentProviders;
  paymentWebhookSecret: string;
  /** The print adapters by printer id, and the simulator's secret. */
  printers: PrintAdapters;
  printerSimSecret: string;
  /** The operator console's bearer token: OPS_TOKEN, or on one machine a random one kept under DATA_DIR/secrets/ops-token. */
  opsToken: string;
  opsTokenFile?: string;
  close(): Promise<void>;
}

export async function openServices(config: Config): Promise<Services> {
  const db = await openDatabase(config);
  await migrate(db);
  const ledger = new CreditLedger(db);
  const secrets = path.join(config.dataDir, 'secrets');
  const publicUrl = config.http.publicUrl;
  const paymentWebhookSecret = config.payments.webhookSecret ?? `whsec_${await localSecret(path.join(secrets, 'stripe-webhook-secret'))}`;
  const localPayments =
    config.payments.provider === 'local'
      ? new LocalPayments(db, { publicUrl, webhookSecret: paymentWebhookSecret, sessionMinutes: config.orders.paymentMinutes })
      : undefined;
  const payments: PaymentProvider = localPayments ?? new StripePayments(stripeSettings(config));
  const printerSimSecret = config.printer.sim.webhookSecret ?? (await localSecret(path.join(secrets, 'printer-sim-secret')));
  const cookieSecret = config.cookieSecret ?? (await localSecret(path.join(secrets, 'cookie-secret')));
  const opsTokenFile = config.opsToken ? undefined : path.join(secrets, 'ops-token');
  const opsToken = config.opsToken ?? (await localSecret(opsTokenFile!));
  return {
    db,
    ledger,
    blobs: createBlobStore(config.storage),
    customers: new Customers(db, ledger, config.starterCredits),
    animations: new AnimationRepository(db),
    providerSlots: new ProviderSlots(db),
    cookieKeys: [cookieSecret],
    printFileUrls: new PrintFileUrls({ secret: cookieSecret, publicUrl }),
    orders: new OrderRepository(db, new OrderAccessTokens(cookieSecret)),
    webhookEvents: new WebhookEvents(db),
    creditPurchases: new CreditPurchases(db),
    payments,
    localPayments,
    paymentProviders: new Map([[payments.id, payments]]),
    paymentWebhookSecret,
    // The simulator only when orders go to it (its fail switch: see simOperatorAccess).
    printers: createPrintAdapters(config.printer, { publicUrl, simSecret: config.printer.id === 'sim' ? printerSimSecret : undefined }),
    printerSimSecret,
    opsToken,
    opsTokenFile,
    close: () => db.close(),
  };
}

/** Stripe's key and API address; the configuration makes sure they are there for PAYMENT_PROVIDER=stripe. */
function stripeSettings(config: Config) {
  if (!config.payments.stripe || !config.payments.webhookSecret) {
    throw new Error('PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET');
  }
  return config.payments.stripe;
}

/** A random secret kept in a private file, made on first use: for one machine without COOKIE_SECRET. */
async function localSecret(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const secret = randomBytes(32).toString('base64url');
    // 'wx': if another process made it first, keep theirs.
    await writeFile(file, secret, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}

export interface RunningWorker {
  /** Settles when the worker stops; rejects if it dies. */
  done: Promise<void>;
  /** Drains in-flight tasks, then closes the connection. */
  stop(): Promise<void>;
}

/**
 * The workers of this process: one per task queue its roles (WORKER_ROLES) cover — workflows with
 * their bookkeeping activities, model steps, ffmpeg steps — so AI and media work can run on
 * machines of their own. With the default configuration that is one worker on one queue.
 */
export async function launchWorker(config: Config, services: Services, target: TemporalTarget): Promise<RunningWorker> {
  const connection = await connectWorker(target);
  const { temporal } = config;
  const models = createModelBackend(config.models, { blobs: services.blobs, db: services.db, ffmpegPath: config.media.ffmpegPath });
  const email = createEmailSender(config, services.db);
  const groups = createActivityGroups({
    ledger: services.ledger,
    creditPurchases: services.creditPurchases,
    animations: services.animations,
    orders: services.orders,
    alertChannels: createAlertChannels(config.alerts, services.db),
    temporalUiUrl: temporal.uiUrl,
    namespace: temporal.namespace,
    blobs: services.blobs,
    models,
    ffmpegPath: config.media.ffmpegPath,
    providerLimit: { slots: services.providerSlots, concurrency: config.models.concurrency, leaseMs: 120_000 },
    printers: services.printers,
    payments: new Map(services.paymentProviders),
    printFileUrls: services.printFileUrls,
    pdftoppmPath: config.media.pdftoppmPath,
    email,
    publicUrl: config.http.publicUrl,
  });
  const queueOf = { workflows: temporal.taskQueue, ai: temporal.aiTaskQueue, media: temporal.mediaTaskQueue };
  const queues = new Map<string, { workflows: boolean; activities: Partial<Activities> }>();
  for (const role of temporal.workerRoles) {
    const queue = queues.get(queueOf[role]) ?? { workflows: false, activities: {} };
    if (role === 'workflows') queue.workflows = true;
    Object.assign(queue.activities, groups[role]);
    queues.set(queueOf[role], queue);
  }
  const workers = await Promise.all(
    [...queues].map(([taskQueue, q]) => createWorker({ connection, namespace: temporal.namespace, taskQueue, maxCachedWorkflows: temporal.workflowCache, ...q })),
  );
  const done = Promise.all(workers.map((w) => w.run())).then(() => undefined);
  // Where the model steps run, /metrics reports the provider's slots (read at scrape time).
  const unwatchSlots = temporal.workerRoles.includes('ai')
    ? watchProviderSlots(models.name, config.models.concurrency, () => services.providerSlots.inUse(models.name))
    : () => undefined;
  return {
    done,
    async stop() {
      unwatchSlots();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done.catch(() => undefined);
      await models.close(); // after the activities: none is left waiting on a thread
      await email.close();
      await connection.close();
    },
  };
}

/**
 * The API and pages. When orders go to the simulated printer and no PRINTER_SIM_URL points
 * elsewhere, the simulator runs here too: its routes on this app, its webhook ticker started
 * once the app listens and stopped when the server closes.
 */
export async function startApi(config: Config, services: Services, temporal: Client, logger: Logger): Promise<Server> {
  const { publicUrl } = config.http;
  const printerSim =
    services.printers.has('sim') && !config.printer.sim.url
      ? embeddedPrinterSim(config.printer, {
          db: services.db,
          publicUrl,
          secret: services.printerSimSecret,
          paymentProvider: config.payments.provider,
          opsToken: config.opsToken,
          logger,
        })
      : undefined;
  const limits = apiLimits(services.db, config.http);
  // The local provider takes no money: packs it "sells" are free, harmless only when buddies are.
  const packsOnSale = config.payments.provider === 'stripe' || config.models.backend === 'local';
  const limitReturns = rateLimit(limits.checkoutReturns, { whenLimited: 'mark' });
  const indexOrders = await ensureOrderSearchAttributes(temporal, config.temporal.namespace, logger);
  const orderDefaults = { taskQueue: config.temporal.taskQueue, mediaTaskQueue: config.temporal.mediaTaskQueue, indexOrders };
  const app = createApp({
    logger,
    keys: services.cookieKeys,
    trustProxy: config.http.trustProxy,
    https: publicUrl.startsWith('https:'),
    probes: [
      { name: 'temporal', check: () => temporalAnswers(temporal) },
      { name: 'database', check: async () => (await services.db.query('SELECT 1 AS ok')).length === 1 },
    ],
    routers: [
      customerRoutes({ ...services, newCustomers: limits.newCustomers, starterCredits: config.starterCredits }),
      creditRoutes({
        ...services,
        temporal,
        taskQueue: config.temporal.taskQueue,
        providers: services.paymentProviders,
        publicUrl,
        newCustomers: limits.newCustomers,
        onSale: packsOnSale,
        limitReturns,
        logger,
      }),
      animationRoutes({
        ...services,
        temporal,
        taskQueue: config.temporal.taskQueue,
        stepQueues: { ai: config.temporal.aiTaskQueue, media: config.temporal.mediaTaskQueue },
        publicUrl: config.http.publicUrl,
        maxUploadBytes: config.media.maxUploadBytes,
        photoLimits: { ...DEFAULT_PHOTO_LIMITS, maxPixels: config.media.maxPhotoPixels },
        limitUploads: rateLimit(limits.uploads),
        newCustomers: limits.newCustomers,
        packsOnSale,
        expandsBusts: config.models.backend !== 'local',
      }),
      viewerRoutes({ animations: services.animations, blobs: services.blobs, publicUrl, temporal }),
      orderRoutes({
        temporal,
        taskQueue: config.temporal.taskQueue,
        mediaTaskQueue: config.temporal.mediaTaskQueue,
        animations: services.animations,
        orders: services.orders,
        blobs: services.blobs,
        payments: services.payments,
        printFileUrls: services.printFileUrls,
        printerId: config.printer.id,
        publicUrl,
        timing: { paymentDeadline: `${config.orders.paymentMinutes} minutes` },
        checkoutMinutes: config.orders.paymentMinutes,
        indexOrders,
      }),
      ...(services.localPayments ? [checkoutPageRoutes({ payments: services.localPayments, webhookSecret: services.paymentWebhookSecret, logger })] : []),
      paymentRoutes({
        providers: services.paymentProviders,
        orders: services.orders,
        creditPurchases: services.creditPurchases,
        taskQueue: config.temporal.taskQueue,
        events: services.webhookEvents,
        temporal,
        webhookSecret: services.paymentWebhookSecret,
        logger,
        // Each return may ask the provider (Stripe's API is rate-limited per account).
        limitReturns,
        limitWebhooks: rateLimit(limits.webhooks),
      }),
      printerWebhookRoutes({
        adapters: services.printers,
        orders: services.orders,
        events: services.webhookEvents,
        temporal,
        limitWebhooks: rateLimit(limits.webhooks),
      }),
      ...(printerSim ? [printerSim.routes] : []),
      opsRoutes({
        opsToken: services.opsToken,
        queries: new OpsQueries(services.db),
        actions: new TemporalOpsActions({ ...orderDefaults, temporal, db: services.db, orders: services.orders, animations: services.animations, publicUrl }),
        printFileUrls: services.printFileUrls,
        temporalUiUrl: config.temporal.uiUrl,
        namespace: config.temporal.namespace,
        publicUrl,
        outboxDir: config.email.smtpUrl ? undefined : config.email.outboxDir,
        stallAfterMs: durationMs(DEFAULT_ORDER_TIMING.stallAfter),
        logger,
      }),
      pageRoutes({ animations: services.animations, maxUploadBytes: config.media.maxUploadBytes }),
    ],
  });
  const server = app.listen({ port: config.http.port, host: config.http.host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  if (printerSim) {
    printerSim.sim.start();
    server.once('close', () => void printerSim.sim.stop());
  }
  // /metrics reports the orders by recorded status, read from the database when scraped.
  const unwatchOrders = watchOrders(() => services.orders.countByStatus());
  server.once('close', unwatchOrders);
  return server;
}

/** Stops accepting, lets requests in flight finish for a moment, then closes what is left. */
export async function stopHttpServer(server: Server, graceMs = 5000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}
