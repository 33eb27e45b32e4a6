/**
 * The histories in test/histories/released/ were recorded from code that shipped; they are what
 * proves a change does not break workflows in flight, so they are only ever added to. Each file's
 * SHA-256 is in released/SHA256SUMS (record.ts appends it); a file changed, re-recorded, removed
 * or left out of the list fails here, and so does a commit that changed or removed one, or took a
 * line out of the list (read from git, when the tests run in a clone with its history). The one
 * way out is retiring a patch (README, "Changing a workflow safely"): the histories of its old
 * branch are named in released/RETIRED, with why, in the commit that removes them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const released = path.join(root, 'test/histories/released');
const RELEASED = 'test/histories/released';

async function manifest(): Promise<Map<string, string>> {
  const lines = (await readFile(path.join(released, 'SHA256SUMS'), 'utf8')).split('\n').filter(Boolean);
  return new Map(
    lines.map((line) => {
      const m = /^([0-9a-f]{64}) {2}([\w.-]+\.json)$/.exec(line);
      if (!m) throw new Error(`not a SHA256SUMS line: ${line}`);
      return [m[2]!, m[1]!];
    }),
  );
}

/** History files retired on purpose: `<file>.json  <why>` lines in released/RETIRED. */
async function retired(): Promise<Set<string>> {
  const text = await readFile(path.join(released, 'RETIRED'), 'utf8').catch(() => '');
  return new Set(text.split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.split(/\s+/)[0]!));
}

/** git's answer, or undefined where the tests run outside a clone (a tarball). */
function git(...args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

describe('frozen histories', () => {
  it('every released history is listed with the hash it was recorded with, and nothing listed is missing', async () => {
    const sums = await manifest();
    const files = (await readdir(released)).filter((f) => f.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThan(0);
    expect([...sums.keys()].sort()).toEqual(files);
    for (const f of files) {
      const hash = createHash('sha256').update(await readFile(path.join(released, f))).digest('hex');
      expect(hash, `${f} was changed after it was recorded: record a new generation instead (HISTORY_GENERATION)`).toBe(sums.get(f));
    }
  });

  it('no commit ever changed or removed a released history, or took a line out of the list (but for retired ones)', async () => {
    const gone = await retired();
    if (git('rev-parse', '--is-inside-work-tree')?.trim() !== 'true') return expect(git('--version')).toBeUndefined();
    // --no-renames: moving the files in shows as additions; anything since is a change or a removal.
    const touched = git('log', '--no-renames', '--diff-filter=MD', '--name-only', '--format=', '--', `${RELEASED}/*.json`)!;
    const kept = (names: string) => names.split('\n').filter((f) => f && !gone.has(path.basename(f)));
    // A retired file may have been removed; none may ever have been changed.
    const changed = git('log', '--no-renames', '--diff-filter=M', '--name-only', '--format=', '--', `${RELEASED}/*.json`)!;
    expect(changed.split('\n').filter(Boolean)).toEqual([]);
    expect(kept(touched)).toEqual([]);
    const listChanges = git('log', '--no-renames', '-p', '--format=', '--', `${RELEASED}/SHA256SUMS`)!;
    const removed = listChanges.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---') && !gone.has(l.split(/\s+/)[1] ?? ''));
    expect(removed).toEqual([]);
    // And the working tree against the last commit: the same rules before anything is committed.
    const uncommitted = git('diff', 'HEAD', '--no-renames', '--diff-filter=MD', '--name-only', '--', RELEASED)!;
    expect(kept(uncommitted)).toEqual([]);
  });
});
