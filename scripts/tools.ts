/**
 * `npm run tools`: builds or fetches every heavy tool into the per-machine cache now, rather than
 * on first use, and prints where each one is (CI runs this before the tests).
 */
import { loadConfig } from '../src/config.js';
import { resolveTemporalCli, resolveTemporalTestServer } from '../src/toolchain/temporal.js';
import { ensureGoTool } from '../src/toolchain/install.js';
import { VERSITYGW } from '../test/support/processes.js';

const config = loadConfig();
const log = (l: string) => console.log(l);
const show = (name: string, exe: { type: string; path?: string }) => console.log(`${name.padEnd(22)} ${exe.path ?? `(${exe.type})`}`);
show('temporal (dev server)', await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.toolCacheDir, log }));
show('temporal test server', await resolveTemporalTestServer({ explicitPath: config.temporal.testServerPath, cacheDir: config.toolCacheDir, log }));
show('versitygw (S3, tests)', { type: 'existing-path', path: await ensureGoTool(VERSITYGW, config.toolCacheDir, log) });
