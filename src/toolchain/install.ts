/**
 * Builds or fetches the heavy tools the project runs (Temporal CLI, the Java test server, the
 * S3-compatible server used by tests) into a per-machine cache keyed by tool and version, so a
 * fresh clone on the same machine never rebuilds them. Installs land in a temporary folder and are
 * renamed into place, so two processes installing at once both end with a whole tool.
 */
import { spawn } from 'node:child_process';
import { access, chmod, constants, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type Log = (line: string) => void;

export async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First directory on PATH holding an executable `name`, or undefined. */
export async function which(name: string, envPath = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of envPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function toolDir(cacheDir: string, tool: string, version: string): string {
  return path.join(cacheDir, tool, version);
}

/** Runs a command, streaming nothing; resolves with its combined output, rejects with its tail. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out.split('\n').slice(-30).join('\n')}`)),
    );
  });
}

/** Prints "still working" lines while a long install runs, so a user does not think it hung. */
async function withHeartbeat<T>(log: Log, what: string, work: Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => log(`  … still ${what} (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

async function installAtomically(finalDir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  await mkdir(path.dirname(finalDir), { recursive: true });
  const tmp = await mkdtemp(`${finalDir}.partial-`);
  try {
    await fill(tmp);
    await rm(finalDir, { recursive: true, force: true });
    await rename(tmp, finalDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export interface GoTool {
  /** Cache key, e.g. "temporal-cli". */
  name: string;
  /** Package path passed to `go install`. */
  pkg: string;
  version: string;
  /** Name of the binary `go install` produces. */
  binary: string;
}

/** The cached binary of a Go tool, built with `go install` on first use. Throws when Go is absent. */
export async function ensureGoTool(tool: GoTool, cacheDir: string, log: Log): Promise<string> {
  const dir = toolDir(cacheDir, tool.name, tool.version);
  const bin = path.join(dir, tool.binary);
  if (await isExecutable(bin)) return bin;
  const go = await which('go');
  if (!go) throw new Error(`${tool.name} is not cached at ${bin} and Go is not installed to build it`);
  log(`Building ${tool.name} ${tool.version} with \`go install ${tool.pkg}@${tool.version}\` into ${dir}`);
  log('  (first time on this machine only; this takes a few minutes on 2 cores)');
  await withHeartbeat(
    log,
    `building ${tool.name}`,
    installAtomically(dir, (tmp) =>
      run(go, ['install', '-trimpath', `${tool.pkg}@${tool.version}`], {
        env: { ...process.env, GOBIN: tmp },
      }).then(() => undefined),
    ),
  );
  log(`  built ${bin}`);
  return bin;
}

export interface MavenTool {
  name: string;
  groupId: string;
  artifactId: string;
  version: string;
  mainClass: string;
}

/**
 * A launcher script for a Java main class whose jars (with dependencies) come from Maven Central
 * on first use. Throws when Maven or Java is absent.
 */
export async function ensureMavenTool(tool: MavenTool, cacheDir: string, log: Log): Promise<string> {
  const dir = toolDir(cacheDir, tool.name, tool.version);
  const launcher = path.join(dir, tool.name);
  if (await isExecutable(launcher)) return launcher;
  const [mvn, java] = await Promise.all([which('mvn'), which('java')]);
  if (!mvn || !java) throw new Error(`${tool.name} is not cached at ${launcher} and Maven/Java are not both installed`);
  log(`Fetching ${tool.groupId}:${tool.artifactId}:${tool.version} from Maven Central into ${dir}`);
  await withHeartbeat(
    log,
    `fetching ${tool.name}`,
    installAtomically(dir, async (tmp) => {
      const pom = `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>stickerflow.toolchain</groupId><artifactId>${tool.name}</artifactId><version>1</version>
<dependencies><dependency><groupId>${tool.groupId}</groupId><artifactId>${tool.artifactId}</artifactId>
<version>${tool.version}</version></dependency></dependencies></project>\n`;
      await writeFile(path.join(tmp, 'pom.xml'), pom);
      await run(mvn, ['-q', '-B', 'dependency:copy-dependencies', '-DincludeScope=runtime', '-DoutputDirectory=lib'], {
        cwd: tmp,
      });
      // The launcher resolves its own folder so the cache can be renamed into place afterwards.
      const script = `#!/bin/sh\nhere=$(dirname "$(readlink -f "$0")")\nexec ${java} -cp "$here/lib/*" ${tool.mainClass} "$@"\n`;
      await writeFile(path.join(tmp, tool.name), script);
      await chmod(path.join(tmp, tool.name), 0o755);
    }),
  );
  log(`  ready: ${launcher}`);
  return launcher;
}
