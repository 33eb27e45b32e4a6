import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { BlobStore } from '../storage/port.js';
import { FalModelBackend } from './fal/backend.js';
import { FalQueue } from './fal/queue.js';
import { LocalModelBackend } from './local/backend.js';
import type { ModelBackend } from './port.js';

export function createModelBackend(
  models: Config['models'],
  deps: { blobs: BlobStore; db: Database; ffmpegPath: string },
): ModelBackend {
  const local = new LocalModelBackend({ blobs: deps.blobs });
  switch (models.backend) {
    case 'local':
      return local;
    case 'fal': {
      if (!models.fal) throw new Error('the fal back end needs FAL_KEY');
      const queue = new FalQueue({ key: models.fal.key, baseUrl: models.fal.baseUrl, db: deps.db });
      return new FalModelBackend({ queue, local, ffmpegPath: deps.ffmpegPath });
    }
  }
}
export * from './port.js';
