/**
 * `npm run tools`: builds or fetches every heavy tool (Temporal, versitygw, stripe-mock) into the
 * per-machine cache now, rather than on first use, and prints where each one is. With `--env`,
 * prints `NAME=path` lines for shell scripts (CI) and sends progress to stderr.
 */
import { loadConfig } from '../src/config.js';
import { ensureGoTool } from '../src/toolchain/install.js';
import { resolveTemporalCli, resolveTemporalTestServer } from '../src/toolchain/temporal.js';
import { STRIPE_MOCK, VERSITYGW } from '../test/support/processes.js';

const asEnv = process.argv.includes('--env');
const config = loadConfig();
const log = (l: string) => (asEnv ? process.stderr : process.stdout).write(`${l}\n`);
const where = (exe: { type: string; path?: string }) => exe.path ?? `(${exe.type})`;

const tools = {
  TEMPORAL_CLI_PATH: where(await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.toolCacheDir, log })),
  TEMPORAL_TEST_SERVER_PATH: where(
    await resolveTemporalTestServer({ explicitPath: config.temporal.testServerPath, cacheDir: config.toolCacheDir, log }),
  ),
  VERSITYGW_PATH: await ensureGoTool(VERSITYGW, config.toolCacheDir, log),
  STRIPE_MOCK_PATH: await ensureGoTool(STRIPE_MOCK, config.toolCacheDir, log),
};
for (const [name, path] of Object.entries(tools)) {
  process.stdout.write(asEnv ? `${name}=${path}\n` : `${name.padEnd(26)} ${path}\n`);
}
