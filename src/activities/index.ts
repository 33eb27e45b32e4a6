/**
 * Every activity the worker registers, built from its dependencies. Workflows import only the
 * type of this object (`import type`), so no activity code ever enters the workflow sandbox.
 */
import type { AlertChannel } from '../alerts/port.js';
import type { CreditLedger } from '../ledger/ledger.js';
import type { ModelBackend } from '../models/port.js';
import type { BlobStore } from '../storage/port.js';
import { createAlertActivities } from './alerts.js';
import { createAnimationActivities, type AnimationActivityDeps } from './animation.js';
import { createCreditActivities } from './credits.js';
import { createEmailActivities } from './email.js';
import type { EmailSender } from '../email/port.js';
import { createRecordActivities } from './records.js';
import type { AnimationRepository } from '../animations/repository.js';
import type { OrderRepository } from '../orders/repository.js';
import type { CreditPurchases } from '../credits/purchases.js';
import { createLedgerActivities } from './ledger.js';
import { createOrderActivities, type OrderActivityDeps } from './orders.js';
import type { PaymentProvider } from '../payments/port.js';
import type { PrintAdapter } from '../print-adapters/port.js';

export interface ActivityDeps {
  ledger: CreditLedger;
  creditPurchases: CreditPurchases;
  /** Where the workflows' records go (the tables pages read). */
  animations: AnimationRepository;
  orders: OrderRepository;
  alertChannels: AlertChannel[];
  temporalUiUrl: string;
  namespace: string;
  blobs: BlobStore;
  models: ModelBackend;
  ffmpegPath: string;
  providerLimit?: AnimationActivityDeps['providerLimit'];
  printers: ReadonlyMap<string, PrintAdapter>;
  payments: ReadonlyMap<string, PaymentProvider>;
  /** Signs the links printers download print files by. */
  printFileUrls: OrderActivityDeps['printFileUrls'];
  pdftoppmPath?: OrderActivityDeps['pdftoppmPath'];
  /** Emails to shoppers (SMTP or the outbox), with links to PUBLIC_URL. */
  email: EmailSender;
  publicUrl: string;
}

/**
 * The activities by the task queue they run on, so AI and media work can scale on their own
 * machines: bookkeeping and vendor calls (ledger, alerts, printer, payments) beside the workflows,
 * model steps on the AI queue, ffmpeg and print files on the media queue (all three are one queue
 * unless configured apart).
 */
export function createActivityGroups(deps: ActivityDeps) {
  const { transcodeAnimation, renderPoster, ...modelSteps } = createAnimationActivities(deps);
  const { renderPrintFile, preflightPrintFile, ...orderSteps } = createOrderActivities(deps);
  return {
    workflows: {
      ...createLedgerActivities(deps),
      ...createCreditActivities(deps),
      ...createRecordActivities(deps),
      ...createEmailActivities(deps),
      ...orderSteps,
      ...createAlertActivities({ channels: deps.alertChannels, temporalUiUrl: deps.temporalUiUrl, namespace: deps.namespace }),
    },
    ai: modelSteps,
    media: { transcodeAnimation, renderPoster, renderPrintFile, preflightPrintFile },
  };
}

type ActivityGroups = ReturnType<typeof createActivityGroups>;
export type Activities = ActivityGroups['workflows'] & ActivityGroups['ai'] & ActivityGroups['media'];
/** The animation pipeline's steps (model and media), without the bookkeeping. */
export type AnimationActivities = ReturnType<typeof createAnimationActivities>;
