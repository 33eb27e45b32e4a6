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

/**
 * The activities by the task queue they run on, so AI and media work can scale on their own
 * machines: bookkeeping beside the workflows, model steps on the AI queue, ffmpeg on the media
 * queue (all three are one queue unless configured apart).
 */
export function createActivityGroups(deps: ActivityDeps) {
  const { transcodeAnimation, renderPoster, ...modelSteps } = createAnimationActivities(deps);
  return {
    workflows: {
      ...createLedgerActivities(deps),
      ...createAlertActivities({ channels: deps.alertChannels, temporalUiUrl: deps.temporalUiUrl, namespace: deps.namespace }),
    },
    ai: modelSteps,
    media: { transcodeAnimation, renderPoster },
  };
}

type ActivityGroups = ReturnType<typeof createActivityGroups>;
export type Activities = ActivityGroups['workflows'] & ActivityGroups['ai'] & ActivityGroups['media'];
