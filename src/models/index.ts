import type { Config } from '../config.js';
import type { BlobStore } from '../storage/port.js';
import { LocalModelBackend } from './local/backend.js';
import type { ModelBackend } from './port.js';

export function createModelBackend(models: Config['models'], blobs: BlobStore): ModelBackend {
  switch (models.backend) {
    case 'local':
      return new LocalModelBackend({ blobs });
  }
}
export * from './port.js';
