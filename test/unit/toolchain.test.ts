/** The tool ladder: configured path, cache, build into the cache, else the SDK's download. */
import { chmod, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureGoTool, ensureMavenTool } from '../../src/toolchain/install.js';
import { resolveTemporalCli, TEMPORAL_CLI, TEMPORAL_TEST_SERVER } from '../../src/toolchain/temporal.js';

let cacheDir: string;
let binDir: string;
let logged: string[];
const originalPath = process.env.PATH;
const log = (l: string) => void logged.push(l);

async function script(dir: string, name: string, body: string) {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, name), `#!/bin/sh\n${body}\n`);
  await chmod(path.join(dir, name), 0o755);
  return path.join(dir, name);
}

beforeEach(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'toolcache-'));
  binDir = await mkdtemp(path.join(os.tmpdir(), 'fakebin-'));
  logged = [];
});
afterEach(() => {
  process.env.PATH = originalPath;
});

describe('toolchain', () => {
  it('uses an explicitly configured path, and refuses one that is not executable', async () => {
    const exe = await script(binDir, 'temporal', 'exit 0');
    expect(await resolveTemporalCli({ explicitPath: exe, cacheDir, log })).toEqual({ type: 'existing-path', path: exe });
    await expect(resolveTemporalCli({ explicitPath: path.join(binDir, 'missing'), cacheDir, log })).rejects.toThrow(
      'is not an executable file',
    );
  });

  it('uses the cached binary without building anything', async () => {
    const cached = await script(path.join(cacheDir, 'temporal-cli', TEMPORAL_CLI.version), 'temporal', 'exit 0');
    process.env.PATH = binDir; // no Go here: a build attempt would fail
    expect(await ensureGoTool(TEMPORAL_CLI, cacheDir, log)).toBe(cached);
    expect(logged).toEqual([]);
  });

  it('builds into the cache with `go install` and says so', async () => {
    // A stand-in `go` that "builds" by writing the binary into GOBIN, as go install does.
    await script(binDir, 'go', 'echo "$@" > "$GOBIN/args"; printf "#!/bin/sh\\n" > "$GOBIN/temporal"; chmod +x "$GOBIN/temporal"');
    process.env.PATH = `${binDir}:/usr/bin:/bin`;
    const bin = await ensureGoTool(TEMPORAL_CLI, cacheDir, log);
    expect(bin).toBe(path.join(cacheDir, 'temporal-cli', TEMPORAL_CLI.version, 'temporal'));
    expect(await readFile(path.join(path.dirname(bin), 'args'), 'utf8')).toBe(`install -trimpath ${TEMPORAL_CLI.pkg}@v1.5.1\n`);
    expect(logged.join('\n')).toContain('Building temporal-cli v1.5.1');
    // Nothing half-built is left beside it.
    expect(await readdir(path.join(cacheDir, 'temporal-cli'))).toEqual([TEMPORAL_CLI.version]);
  });

  it('falls back to the SDK download when it cannot build, saying why', async () => {
    process.env.PATH = binDir; // neither the cached binary nor Go
    expect(await resolveTemporalCli({ cacheDir, log })).toEqual({ type: 'cached-download', downloadDir: `${cacheDir}/sdk-download` });
    expect(logged.join('\n')).toContain('Go is not installed');
    expect(logged.join('\n')).toContain("Falling back to the Temporal SDK's download");
  });

  it('a failed build leaves the cache as it was and reports the build output', async () => {
    await script(binDir, 'go', 'echo "go: module lookup disabled" >&2; exit 1');
    process.env.PATH = `${binDir}:/usr/bin:/bin`;
    await expect(ensureGoTool(TEMPORAL_CLI, cacheDir, log)).rejects.toThrow('go: module lookup disabled');
    expect(await readdir(path.join(cacheDir, 'temporal-cli'))).toEqual([]);
  });

  it('fetches a Maven artifact with its dependencies and writes a launcher for its main class', async () => {
    await script(binDir, 'java', 'exit 0');
    await script(binDir, 'mvn', 'mkdir -p lib && cp pom.xml lib/pom-used.xml && : > lib/fake.jar');
    process.env.PATH = `${binDir}:/usr/bin:/bin`;
    const launcher = await ensureMavenTool(TEMPORAL_TEST_SERVER, cacheDir, log);
    const text = await readFile(launcher, 'utf8');
    expect(text).toContain(`-cp "$here/lib/*" ${TEMPORAL_TEST_SERVER.mainClass} "$@"`);
    const pom = await readFile(path.join(path.dirname(launcher), 'lib', 'pom-used.xml'), 'utf8');
    expect(pom).toContain('<artifactId>temporal-test-server</artifactId>');
    expect(pom).toContain('<version>1.38.0</version>');
  });
});
