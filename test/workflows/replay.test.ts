/** Recorded histories replay on today's workflow code: a change that breaks runs in flight fails here. */
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundle } from '../support/temporal.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../histories/released');
const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
const load = async (f: string) => JSON.parse(await readFile(path.join(dir, f), 'utf8'));

describe('replay of recorded histories', () => {
  it('has histories to replay', () => {
    expect(files).toEqual([
      'animation-failed-records.json',
      'animation-failed.json',
      'animation-split-queues.json',
      'animation-succeeded-records.json',
      'animation-succeeded.json',
      'animation-with-order.json',
      'credit-purchase-expired.json',
      'credit-purchase-fulfilled.json',
      'credit-purchase-refunded.json',
      'late-payment-refunded.json',
      'operator-refund.json',
      'paid-work-cancelled.json',
      'paid-work-failed-refunded.json',
      'paid-work-succeeded.json',
      'resend-email.json',
      'sticker-order-child.json',
      'sticker-order-delivered-emails.json',
      'sticker-order-delivered-records.json',
      'sticker-order-delivered.json',
      'sticker-order-failed-refunded-emails.json',
      'sticker-order-failed-refunded-records.json',
      'sticker-order-failed-refunded.json',
      'sticker-order-reprint.json',
    ]);
  });

  const productWorkflows = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/workflows/index.ts');
  it.each(files)('%s replays without nondeterminism', async (file) => {
    const workflowsPath = file.startsWith('paid-work-') ? undefined : productWorkflows;
    await Worker.runReplayHistory({ workflowBundle: await bundle(workflowsPath) }, await load(file));
  });

  it('would catch a nondeterministic change', async () => {
    const changed = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/workflows-changed.ts');
    await expect(
      Worker.runReplayHistory({ workflowBundle: await bundle(changed) }, await load('paid-work-succeeded.json')),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
