import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { BlobStore } from '../storage/port.js';
import { FalModelBackend } from './fal/backend.js';
import { FalQueue } from './fal/queue.js';
import { LocalModelBackend } from './local/backend.js';
import type { ModelBackend } from './port.js';

/** The configured back end; `close` stops the local models' threads (fal uses them too). */
export function createModelBackend(
  models: Config['models'],
  deps: { blobs: BlobStore; db: Database; ffmpegPath: string },
): ModelBackend & { close(): Promise<void> } {
  const local = new LocalModelBackend({ blobs: deps.blobs, threads: models.threads });
  switch (models.backend) {
    case 'local':
      return local;
    case 'fal': {
      if (!models.fal) throw new Error('the fal back end needs FAL_KEY');
      const { key, baseUrl, resultHosts, maxResultBytes } = models.fal;
      const queue = new FalQueue({ key, baseUrl, resultHosts, maxDownloadBytes: maxResultBytes, db: deps.db });
      return Object.assign(new FalModelBackend({ queue, local, ffmpegPath: deps.ffmpegPath }), { close: () => local.close() });
    }
  }
}
export * from './port.js';
