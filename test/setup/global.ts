/**
 * Once per test run: makes sure the real servers exist on this machine (building them into the
 * tool cache the first time) and starts the shared ones. CI may start PostgreSQL and the S3 server
 * itself and pass TEST_DATABASE_URL / TEST_S3_ENDPOINT; otherwise they are started here.
 */
import type { EphemeralServerExecutable } from '@temporalio/testing';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../src/config.js';
import { resolveTemporalCli, resolveTemporalTestServer } from '../../src/toolchain/temporal.js';
import { S3_TEST_CREDENTIALS, startPostgres, startS3Server, type Running } from '../support/processes.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalCli: EphemeralServerExecutable;
    temporalTestServer: EphemeralServerExecutable;
    postgresUrl: string;
    s3: { endpoint: string; accessKeyId: string; secretAccessKey: string };
    toolCacheDir: string;
  }
}

export default async function setup(project: TestProject) {
  const config = loadConfig();
  const log = (line: string) => process.stdout.write(`[setup] ${line}\n`);
  const cacheDir = config.toolCacheDir;
  const temporalCli = await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir, log });
  const temporalTestServer = await resolveTemporalTestServer({ explicitPath: config.temporal.testServerPath, cacheDir, log });

  const started: Running[] = [];
  let postgresUrl = process.env.TEST_DATABASE_URL;
  if (!postgresUrl) {
    const pg = await startPostgres();
    started.push(pg);
    postgresUrl = pg.url;
  }
  let s3 = process.env.TEST_S3_ENDPOINT
    ? {
        endpoint: process.env.TEST_S3_ENDPOINT,
        accessKeyId: process.env.TEST_S3_ACCESS_KEY_ID ?? S3_TEST_CREDENTIALS.accessKeyId,
        secretAccessKey: process.env.TEST_S3_SECRET_ACCESS_KEY ?? S3_TEST_CREDENTIALS.secretAccessKey,
      }
    : undefined;
  if (!s3) {
    const server = await startS3Server(cacheDir, log);
    started.push(server);
    s3 = { endpoint: server.url, ...S3_TEST_CREDENTIALS };
  }

  project.provide('temporalCli', temporalCli);
  project.provide('temporalTestServer', temporalTestServer);
  project.provide('postgresUrl', postgresUrl);
  project.provide('s3', s3);
  project.provide('toolCacheDir', cacheDir);

  return async () => {
    for (const s of started) await s.stop();
  };
}
