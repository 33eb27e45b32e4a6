/** The lint rule that keeps workflow code deterministic really fires on workflow files. */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint();
const rulesHit = async (code: string, filePath: string) =>
  (await eslint.lintText(code, { filePath }))[0]!.messages.map((m) => m.message);

describe('workflow determinism lint', () => {
  it('refuses Node built-ins, config, adapters, the clock and randomness in src/workflows', async () => {
    const code = [
      "import { readFile } from 'node:fs/promises';",
      "import crypto from 'crypto';",
      "import { loadConfig } from '../config.js';",
      "import { CreditLedger } from '../ledger/ledger.js';",
      'export async function wf() {',
      '  const now = Date.now();',
      '  const d = new Date();',
      '  const r = Math.random();',
      '  return [readFile, crypto, loadConfig, CreditLedger, now, d, r, process.pid];',
      '}',
    ].join('\n');
    const messages = await rulesHit(code, 'src/workflows/animation/workflow.ts');
    const text = messages.join('\n');
    expect(text).toContain('Workflow code cannot use Node built-ins');
    expect(text).toContain('never from config');
    expect(text).toContain('Adapters run in activities');
    expect(text).toContain('No clock in workflow code');
    expect(text).toContain('No randomness in workflow code');
    expect(text).toContain('No process in workflow code');
  });

  it('allows type-only imports of activities and adapters', async () => {
    const code = [
      "import type { Activities } from '../activities/index.js';",
      "import type { Charge } from '../ledger/ledger.js';",
      "import { proxyActivities, uuid4 } from '@temporalio/workflow';",
      "const { chargeCredits } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });",
      'export async function wf(): Promise<Charge> {',
      "  return chargeCredits({ accountId: 'a', amount: 1, idempotencyKey: uuid4(), reason: 'r' });",
      '}',
    ].join('\n');
    expect(await rulesHit(code, 'src/workflows/animation/workflow.ts')).toEqual([]);
  });

  it('lets the rest of src use Node, but not process.env outside config', async () => {
    expect(await rulesHit("import fs from 'node:fs';\nexport const f = fs;\n", 'src/activities/x.ts')).toEqual([]);
    expect((await rulesHit('export const p = process.env.PORT;\n', 'src/api/x.ts')).join()).toContain('src/config.ts');
  });
});
