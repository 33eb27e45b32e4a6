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
import { createLedgerActivities } from './ledger.js';

export interface ActivityDeps {
  ledger: CreditLedger;
  alertChannels: AlertChannel[];
  temporalUiUrl: string;
  namespace: string;
  blobs: BlobStore;
  models: ModelBackend;
  ffmpegPath: string;
  providerLimit?: AnimationActivityDeps['providerLimit'];
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createLedgerActivities(deps),
    ...createAlertActivities({ channels: deps.alertChannels, temporalUiUrl: deps.temporalUiUrl, namespace: deps.namespace }),
    ...createAnimationActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
