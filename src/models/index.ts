import type { Config } from '../config.js';
import { LocalModelBackend } from './local/backend.js';
import type { ModelBackend } from './port.js';

export function createModelBackend(models: Config['models']): ModelBackend {
  switch (models.backend) {
    case 'local':
      return new LocalModelBackend();
  }
}
export * from './port.js';
