import type { Config } from '../config.js';
import { LocalBlobStore } from './local.js';
import type { BlobStore } from './port.js';
import { S3BlobStore } from './s3.js';

export function createBlobStore(storage: Config['storage']): BlobStore {
  return storage.driver === 's3' ? new S3BlobStore(storage) : new LocalBlobStore(storage.root);
}
export * from './port.js';
