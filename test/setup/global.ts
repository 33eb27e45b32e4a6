/**
 * Once per test run: makes sure the real servers exist on this machine (building them into the
 * tool cache the first time) and starts the shared ones. CI may start PostgreSQL and the S3 server
 * itself and pass TEST_DATABASE_URL / TEST_S3_ENDPOINT; otherwise they are started here.
 */
import type { EphemeralServerExecutable } from '@temporalio/testing';
import type { ProvidedContext } from 'vitest';
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
  const stopAll = async () => {
    for (const s of started) await s.stop();
  };
  let postgresUrl: string;
  let s3: ProvidedContext['s3'];
  try {
    const givenUrl = process.env.TEST_DATABASE_URL;
    if (givenUrl) postgresUrl = givenUrl;
    else {
      const pg = await startPostgres();
      started.push(pg);
      postgresUrl = pg.url;
    }
    const givenS3 = process.env.TEST_S3_ENDPOINT
      ? {
          endpoint: process.env.TEST_S3_ENDPOINT,
          accessKeyId: process.env.TEST_S3_ACCESS_KEY_ID ?? S3_TEST_CREDENTIALS.accessKeyId,
          secretAccessKey: process.env.TEST_S3_SECRET_ACCESS_KEY ?? S3_TEST_CREDENTIALS.secretAccessKey,
        }
      : undefined;
    if (givenS3) s3 = givenS3;
    else {
      const server = await startS3Server(cacheDir, log);
      started.push(server);
      s3 = { endpoint: server.url, ...S3_TEST_CREDENTIALS };
    }
  } catch (err) {
    await stopAll(); // a server started before the failure must not outlive the run
    throw err;
  }

  project.provide('temporalCli', temporalCli);
  project.provide('temporalTestServer', temporalTestServer);
  project.provide('postgresUrl', postgresUrl);
  project.provide('s3', s3);
  project.provide('toolCacheDir', cacheDir);

  return stopAll;
}
