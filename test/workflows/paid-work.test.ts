/**
 * The charge-once / refund-once wrapper on the real Java time-skipping server, with the real
 * ledger (PGlite) behind its activities and a recording alert channel.
 */
import { ApplicationFailure, CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLedgerActivities } from '../../src/activities/ledger.js';
import { type Database } from '../../src/db/database.js';
import { CreditLedger, type ChargeRequest } from '../../src/ledger/ledger.js';
import type { FixtureActivities } from '../fixtures/activities.js';
import { paidFixtureWorkflow, paidStateQuery } from '../fixtures/workflows.js';
import { openLedger, paidWorkActivities } from '../support/ledger.js';
import { RecordingAlertChannel } from '../support/recording-alerts.js';
import { bundle, timeSkippingEnv } from '../support/temporal.js';

let env: TestWorkflowEnvironment;
let db: Database;
let ledger: CreditLedger;
let alerts: RecordingAlertChannel;
let accountId: string;

beforeAll(async () => {
  [env, { db, ledger }] = await Promise.all([timeSkippingEnv(), openLedger()]);
});
afterAll(async () => {
  await env?.teardown();
  await db?.close();
});
beforeEach(async () => {
  alerts = new RecordingAlertChannel();
  accountId = `acct-${randomUUID()}`;
  await ledger.openAccount(accountId, 3);
});

type Overrides = Partial<ReturnType<typeof createLedgerActivities>> & Partial<FixtureActivities>;

async function runFixture(steps: string[], overrides: Overrides = {}, during?: (id: string) => Promise<void>) {
  const taskQueue = `paid-${randomUUID()}`;
  const activities = {
    ...paidWorkActivities(ledger, [alerts], 'http://ui.test'),
    performStep: async (name: string) => `${name} done`,
    ...overrides,
  };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundle(),
    activities,
  });
  const workflowId = `paid-fixture-${randomUUID()}`;
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start(paidFixtureWorkflow, {
      taskQueue,
      workflowId,
      args: [{ accountId, steps }],
    });
    if (during) await during(workflowId);
    const result = await handle.result().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    return { result, state: await handle.query(paidStateQuery), workflowId };
  });
}

const kinds = async () => (await ledger.entries(accountId)).map((e) => e.kind);

describe('PaidWork', () => {
  it('charges once, runs the work and refunds nothing when it succeeds', async () => {
    const { result, state } = await runFixture(['moderate', 'animate']);
    expect(result).toEqual({ ok: true, value: ['moderate done', 'animate done'] });
    expect(await kinds()).toEqual(['grant', 'charge']);
    expect(await ledger.balance(accountId)).toBe(2);
    expect(state.charge?.amount).toBe(1);
    expect(state.refund).toBeUndefined();
    expect(alerts.sent).toHaveLength(0);
  });

  it('on a failed step: refunds exactly once, alerts once with context, and fails with the cause', async () => {
    const { result, state, workflowId } = await runFixture(['moderate', 'animate', 'transcode'], {
      performStep: async (name) => {
        if (name === 'animate') throw ApplicationFailure.nonRetryable('provider said no', 'ProviderRejected');
        return `${name} done`;
      },
    });
    expect(result.ok).toBe(false);
    const err = (result as { error: WorkflowFailedError }).error;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = err.cause as ApplicationFailure;
    expect(cause.type).toBe('PaidWorkFailed');
    expect(cause.message).toContain('animate');
    expect(cause.message).toContain('ProviderRejected: provider said no');

    expect(await kinds()).toEqual(['grant', 'charge', 'refund']);
    expect(await ledger.balance(accountId)).toBe(3);
    expect(state).toMatchObject({ failedStep: 'animate', refund: { status: 'refunded', amount: 1 } });

    expect(alerts.sent).toHaveLength(1);
    const [alert] = alerts.sent;
    expect(alert).toMatchObject({
      workflowType: 'paidFixtureWorkflow',
      workflowId,
      failedStep: 'animate',
      error: 'ProviderRejected: provider said no',
    });
    expect(alert!.refund).toMatch(/^refunded 1 credit/);
    expect(alert!.temporalUiUrl).toBe(`http://ui.test/namespaces/default/workflows/${workflowId}/${alert!.runId}/history`);
  });

  it('retries a failing step within its policy, and refunds once when the retries run out', async () => {
    let attempts = 0;
    const { result, state } = await runFixture(['flaky'], {
      performStep: async () => {
        attempts++;
        throw new Error('temporarily down');
      },
    });
    expect(result.ok).toBe(false);
    expect(attempts).toBe(3);
    expect(await kinds()).toEqual(['grant', 'charge', 'refund']);
    expect(state.failedStep).toBe('flaky');
    expect(alerts.sent).toHaveLength(1);
  });

  it('succeeds after a step fails and is retried, charging once', async () => {
    let attempts = 0;
    const { result } = await runFixture(['flaky'], {
      performStep: async (name) => {
        if (++attempts < 3) throw new Error('temporarily down');
        return `${name} done`;
      },
    });
    expect(result).toEqual({ ok: true, value: ['flaky done'] });
    expect(await kinds()).toEqual(['grant', 'charge']);
  });

  it('keeps one ledger row when the charge is retried after its answer was lost', async () => {
    const real = createLedgerActivities({ ledger });
    let calls = 0;
    const { result, state } = await runFixture(['work'], {
      chargeCredits: async (req: ChargeRequest) => {
        calls++;
        const charge = await real.chargeCredits(req);
        if (calls === 1) throw new Error('connection reset after commit');
        return charge;
      },
    });
    expect(result.ok).toBe(true);
    expect(calls).toBe(2);
    expect(await kinds()).toEqual(['grant', 'charge']);
    expect(await ledger.balance(accountId)).toBe(2);
    expect(state.charge?.idempotencyKey).toMatch(/^charge:[0-9a-f-]{36}$/);
  });

  it('refunds and alerts when the workflow is cancelled mid-work, and ends cancelled', async () => {
    const { result, state } = await runFixture(['moderate', 'sleep:3 days', 'never'], {}, async (workflowId) => {
      const handle = env.client.workflow.getHandle(workflowId);
      // Wait until the work is parked on its timer, then cancel.
      for (;;) {
        const s = await handle.query(paidStateQuery);
        if (s.step === 'sleep:3 days') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await handle.cancel();
    });
    expect(result.ok).toBe(false);
    expect((result as { error: WorkflowFailedError }).error.cause).toBeInstanceOf(CancelledFailure);
    expect(await kinds()).toEqual(['grant', 'charge', 'refund']);
    expect(await ledger.balance(accountId)).toBe(3);
    expect(state.failedStep).toBe('cancelled during sleep:3 days');
    expect(alerts.sent).toHaveLength(1);
    expect(alerts.sent[0]!.failedStep).toBe('cancelled during sleep:3 days');
  });

  it('refuses without credit: nothing charged, nothing refunded, nobody paged', async () => {
    const broke = `acct-${randomUUID()}`;
    await ledger.openAccount(broke, 0);
    accountId = broke;
    const { result, state } = await runFixture(['work']);
    expect(result.ok).toBe(false);
    const cause = (result as { error: WorkflowFailedError }).error.cause as ApplicationFailure;
    expect(cause.type).toBe('InsufficientCredit');
    expect(await kinds()).toEqual([]);
    expect(state.refund).toEqual({ status: 'not_needed' });
    expect(alerts.sent).toHaveLength(0);
  });

  it('when the refund cannot land at once: alerts that it is pending, keeps trying, and lands it', async () => {
    const real = createLedgerActivities({ ledger });
    let ledgerDown = true;
    let refundCalls = 0;
    alerts.onSend = () => (ledgerDown = false); // the operator fixes the database
    const { result, state } = await runFixture(['work'], {
      performStep: async () => {
        throw ApplicationFailure.nonRetryable('bad photo', 'BadPhoto');
      },
      refundCredits: async (req) => {
        refundCalls++;
        if (ledgerDown) throw new Error('database unavailable');
        return real.refundCredits(req);
      },
    });
    expect(result.ok).toBe(false);
    expect(refundCalls).toBeGreaterThan(2);
    expect(alerts.sent).toHaveLength(1);
    expect(alerts.sent[0]!.refund).toMatch(/^REFUND NOT YET DONE \(Error: database unavailable\)/);
    expect(state.refund).toMatchObject({ status: 'refunded', amount: 1 });
    expect(await kinds()).toEqual(['grant', 'charge', 'refund']);
  });
});
