/**
 * Where the real Temporal servers come from, in order: an explicitly configured path; the
 * per-machine cache; a build into that cache (Go for the CLI dev server, Maven for the Java
 * time-skipping test server); else the SDK's own cached download, for users with internet.
 */
import type { EphemeralServerExecutable } from '@temporalio/testing';
import { ensureGoTool, ensureMavenTool, isExecutable, type Log } from './install.js';

/** v1.5.1: later tags carry a `replace` directive that `go install pkg@version` refuses. */
export const TEMPORAL_CLI = {
  name: 'temporal-cli',
  pkg: 'github.com/temporalio/cli/cmd/temporal',
  version: 'v1.5.1',
  binary: 'temporal',
} as const;

export const TEMPORAL_TEST_SERVER = {
  name: 'temporal-test-server',
  groupId: 'io.temporal',
  artifactId: 'temporal-test-server',
  version: '1.38.0',
  mainClass: 'io.temporal.testserver.TestServer',
} as const;

interface Options {
  explicitPath?: string;
  cacheDir: string;
  log: Log;
}

async function resolve(opts: Options, what: string, build: () => Promise<string>): Promise<EphemeralServerExecutable> {
  if (opts.explicitPath) {
    if (!(await isExecutable(opts.explicitPath))) {
      throw new Error(`The configured ${what} ${opts.explicitPath} is not an executable file`);
    }
    return { type: 'existing-path', path: opts.explicitPath };
  }
  try {
    return { type: 'existing-path', path: await build() };
  } catch (err) {
    opts.log(`Could not build the ${what} here (${(err as Error).message.split('\n')[0]}).`);
    opts.log(`Falling back to the Temporal SDK's download of the ${what} (needs internet).`);
    return { type: 'cached-download', downloadDir: `${opts.cacheDir}/sdk-download` };
  }
}

export function resolveTemporalCli(opts: Options): Promise<EphemeralServerExecutable> {
  return resolve(opts, 'Temporal CLI', () => ensureGoTool(TEMPORAL_CLI, opts.cacheDir, opts.log));
}

export function resolveTemporalTestServer(opts: Options): Promise<EphemeralServerExecutable> {
  return resolve(opts, 'Temporal time-skipping test server', () =>
    ensureMavenTool(TEMPORAL_TEST_SERVER, opts.cacheDir, opts.log),
  );
}
