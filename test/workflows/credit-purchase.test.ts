/**
 * CreditPurchaseWorkflow on the real Java time-skipping server, with its real activities over a
 * real ledger, purchases table and local payment provider (PGlite), and a recording alert
 * channel. A pack's credits are added once per payment however often and by whichever route the
 * payment arrives, also after the run has ended; an unpaid checkout is closed at its expiry; a
 * refund takes the credits back, as many as are left.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAlertActivities } from '../../src/activities/alerts.js';
import { createCreditActivities, creditsToRevoke } from '../../src/activities/credits.js';
import { creditPack } from '../../src/credits/packs.js';
import { CreditPurchases, type CreditPurchase } from '../../src/credits/purchases.js';
import { Customers } from '../../src/customers/customers.js';
import type { Database } from '../../src/db/database.js';
import type { CreditLedger } from '../../src/ledger/ledger.js';
import { LocalPayments } from '../../src/payments/local.js';
import type { PaymentReceived } from '../../src/payments/port.js';
import {
  CREDIT_PURCHASE_WORKFLOW_TYPE,
  creditPaymentSignal,
  creditPurchaseQuery,
  creditPurchaseWorkflowId,
  creditRefundSignal,
  type CreditPurchaseInput,
  type CreditPurchaseView,
} from '../../src/workflows/credit-purchase/api.js';
import { openLedger } from '../support/ledger.js';
import { RecordingAlertChannel } from '../support/recording-alerts.js';
import { bundle, devServerEnv, timeSkippingEnv } from '../support/temporal.js';

const workflowsPath = fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url));
let env: TestWorkflowEnvironment;
let db: Database;
let ledger: CreditLedger;
let customers: Customers;
let purchases: CreditPurchases;
let payments: LocalPayments;

beforeAll(async () => {
  ({ db, ledger } = await openLedger());
  customers = new Customers(db, ledger, 0);
  purchases = new CreditPurchases(db);
  // Events are never delivered here: the tests hand payments to the workflow themselves.
  payments = new LocalPayments(db, { publicUrl: 'http://shop.test', webhookSecret: 'whsec_test', fetch: async () => new Response(null, { status: 200 }) });
}, 60_000);
afterAll(async () => {
  await db?.close();
});

/** A customer with `starting` credits and a purchase of a pack with an open local checkout. */
async function newPurchase(packId = 'pack-5', starting = 0) {
  const customerId = await customers.create();
  if (starting) await ledger.grant({ accountId: customerId, amount: starting, idempotencyKey: `start:${customerId}`, reason: 'test' });
  const pack = creditPack(packId)!;
  const purchase = await purchases.create(customerId, pack, 'local');
  const session = await payments.createCheckout({
    orderId: purchase.id,
    amountCents: pack.priceCents,
    currency: pack.currency,
    description: `${pack.credits} buddy credits`,
    successUrl: 'http://shop.test/credits/paid',
    cancelUrl: 'http://shop.test/',
    expiresAt: new Date(Date.now() + 60 * 60_000).toISOString(),
  });
  await purchases.setCheckoutSession(purchase.id, session.sessionId, session.expiresAt);
  const input: CreditPurchaseInput = {
    purchaseId: purchase.id,
    customerId,
    pack: pack.id,
    credits: pack.credits,
    amountCents: pack.priceCents,
    currency: pack.currency,
    payment: { provider: 'local', sessionId: session.sessionId },
    checkoutExpiresAt: session.expiresAt,
  };
  return { customerId, purchase, input, sessionId: session.sessionId };
}

/** The shopper pays on the local checkout page: the session completes and yields its payment. */
async function pay(sessionId: string): Promise<PaymentReceived> {
  const completion = await payments.completeCheckout(sessionId);
  if (completion?.status !== 'complete') throw new Error('not paid');
  const payment = await payments.paidCheckout(sessionId);
  return { ...payment!, eventId: completion.event.id };
}

interface Run {
  alerts: RecordingAlertChannel;
  grantCalls: number;
}

/** Runs `body` with a worker on a queue of its own; `failGrantsFirst` makes the first n grants fail as an outage would. */
async function withWorker<T>(body: (taskQueue: string, run: Run) => Promise<T>, failGrantsFirst = 0): Promise<T> {
  const taskQueue = `credits-${randomUUID()}`;
  const run: Run = { alerts: new RecordingAlertChannel(), grantCalls: 0 };
  const real = createCreditActivities({ ledger, creditPurchases: purchases, payments: new Map([['local', payments]]) });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundle(workflowsPath),
    activities: {
      ...real,
      grantPurchasedCredits: async (input: Parameters<typeof real.grantPurchasedCredits>[0]) => {
        if (++run.grantCalls <= failGrantsFirst) throw new Error('database connection reset');
        return real.grantPurchasedCredits(input);
      },
      ...createAlertActivities({ channels: [run.alerts], temporalUiUrl: 'http://ui.test', namespace: 'default' }),
    },
  });
  return worker.runUntil(body(taskQueue, run));
}

const start = (taskQueue: string, input: CreditPurchaseInput) =>
  env.client.workflow.start(CREDIT_PURCHASE_WORKFLOW_TYPE, { taskQueue, workflowId: creditPurchaseWorkflowId(input.purchaseId), args: [input] });

/** What the webhook and the return route do: signal the run, or start one with the signal. */
const handOver = (taskQueue: string, input: CreditPurchaseInput, payment: PaymentReceived) =>
  env.client.workflow.signalWithStart(CREDIT_PURCHASE_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: creditPurchaseWorkflowId(input.purchaseId),
    args: [input],
    signal: creditPaymentSignal,
    signalArgs: [payment],
  });

const grants = async (customerId: string) => (await ledger.entries(customerId)).filter((e) => e.kind === 'grant');

describe('CreditPurchaseWorkflow', () => {
  // A time-skipping server per test: once the Java test server has started a run by
  // signal-with-start on a closed workflow, it stops skipping time (and errs on later tasks).
  beforeEach(async () => {
    env = await timeSkippingEnv();
  }, 60_000);
  afterEach(() => env?.teardown());

  it('adds the pack once when the webhook and the return both hand the payment over, and marks the purchase', async () => {
    const { customerId, purchase, input, sessionId } = await newPurchase('pack-20');
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input);
      expect(await handle.query(creditPurchaseQuery)).toMatchObject({ status: 'awaiting_payment', credits: 20 });
      const payment = await pay(sessionId);
      // The webhook's event and the return's read of the session: the same payment intent.
      await handOver(taskQueue, input, payment);
      await handOver(taskQueue, input, { ...payment, eventId: `checkout:${sessionId}` });
      const view = (await handle.result()) as CreditPurchaseView;
      expect(view).toMatchObject({ status: 'fulfilled', credits: 20, paymentIntentId: payment.paymentIntentId, balanceAfter: 20 });
      // The second hand-over may have come after the first run ended, and started a run of its own.
      expect(await env.client.workflow.getHandle(handle.workflowId).result()).toMatchObject({ status: 'fulfilled', balanceAfter: 20 });
    });
    expect(await ledger.balance(customerId)).toBe(20);
    expect(await grants(customerId)).toHaveLength(1);
    expect(await purchases.get(purchase.id)).toMatchObject({ paymentIntentId: expect.stringMatching(/^pi_local_/), fulfilledAt: expect.any(String) });
  });

  it('retries the grant through an outage and still adds the credits once', async () => {
    const { customerId, input, sessionId } = await newPurchase('pack-5');
    const calls = await withWorker(async (taskQueue, run) => {
      const handle = await start(taskQueue, input);
      await handOver(taskQueue, input, await pay(sessionId));
      expect(await handle.result()).toMatchObject({ status: 'fulfilled' });
      return run.grantCalls;
    }, 2);
    expect(calls).toBe(3);
    expect(await ledger.balance(customerId)).toBe(5);
  });

  it('a payment that is not the purchase\'s is ignored; unpaid at expiry the checkout is closed and nothing is added', async () => {
    const { customerId, input, sessionId } = await newPurchase('pack-5');
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input);
      await handOver(taskQueue, input, { eventId: 'evt_x', orderId: input.purchaseId, sessionId, paymentIntentId: 'pi_other', amountCents: 1, currency: 'usd', paidAt: new Date().toISOString() });
      await env.sleep('2 hours');
      expect(await handle.result()).toMatchObject({ status: 'expired' });
    });
    expect(await ledger.balance(customerId)).toBe(0);
    expect((await payments.getCheckout(sessionId))?.status).toBe('expired');
  });

  it('paid in the last moment, with the event lost: closing the checkout finds the payment and adds the credits', async () => {
    const { customerId, input, sessionId } = await newPurchase('pack-5');
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input);
      await pay(sessionId); // no webhook, no return
      await env.sleep('2 hours');
      expect(await handle.result()).toMatchObject({ status: 'fulfilled' });
    });
    expect(await ledger.balance(customerId)).toBe(5);
  });

  it('a partial refund takes back the refunded share, rounded up; the rest follows with the rest of the refund', () => {
    expect(creditsToRevoke(5, 499, 250)).toBe(3);
    expect(creditsToRevoke(20, 1499, 1499)).toBe(20);
    expect(creditsToRevoke(5, 499, 10_000)).toBe(5);
    expect(creditsToRevoke(5, 499, 0)).toBe(0);
  });

});

/**
 * Anything arriving after the run ended (a redelivered payment, a refund weeks later) comes by
 * signal-with-start and starts a run of its own: on the real dev server, since the Java
 * time-skipping server mishandles runs started that way.
 */
describe('CreditPurchaseWorkflow after its run ended', () => {
  beforeAll(async () => {
    env = await devServerEnv();
  }, 60_000);
  afterAll(() => env?.teardown());

  it('a payment redelivered after the run ended starts a new run that adds nothing', async () => {
    const { customerId, input, sessionId } = await newPurchase('pack-5', 2);
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input);
      const payment = await pay(sessionId);
      await handOver(taskQueue, input, payment);
      await handle.result();
      const again = await handOver(taskQueue, input, payment);
      expect(again.signaledRunId).not.toBe(handle.firstExecutionRunId);
      expect(await env.client.workflow.getHandle(again.workflowId, again.signaledRunId).result()).toMatchObject({ status: 'fulfilled', balanceAfter: 7 });
    });
    expect(await ledger.balance(customerId)).toBe(7);
    expect(await grants(customerId)).toHaveLength(2); // the starting credits and the one pack
  });

  it('a refund takes the pack back; one of credits already spent takes what is left and alerts the operator', async () => {
    const full = await newPurchase('pack-5', 1);
    const spent = await newPurchase('pack-20');
    await withWorker(async (taskQueue, run) => {
      for (const p of [full, spent]) {
        const handle = await start(taskQueue, p.input);
        await handOver(taskQueue, p.input, await pay(p.sessionId));
        await handle.result();
        p.purchase = (await purchases.get(p.purchase.id)) as CreditPurchase;
      }
      await ledger.charge({ accountId: spent.customerId, amount: 15, idempotencyKey: `spend:${spent.customerId}`, reason: 'buddies' });
      const refund = async (p: typeof full, amountRefundedCents: number, eventId: string) => {
        const started = await env.client.workflow.signalWithStart(CREDIT_PURCHASE_WORKFLOW_TYPE, {
          taskQueue,
          workflowId: creditPurchaseWorkflowId(p.purchase.id),
          args: [p.input],
          signal: creditRefundSignal,
          signalArgs: [{ eventId, paymentIntentId: p.purchase.paymentIntentId!, amountCents: p.input.amountCents, amountRefundedCents }],
        });
        return (await env.client.workflow.getHandle(started.workflowId, started.signaledRunId).result()) as CreditPurchaseView;
      };
      expect(await refund(full, 499, 'evt_r1')).toMatchObject({ status: 'refunded', revoked: { taken: 5, shortfall: 0 } });
      expect(await refund(full, 499, 'evt_r1_again')).toMatchObject({ revoked: { taken: 5, shortfall: 0 } }); // the same refund again
      expect(await refund(spent, 1499, 'evt_r2')).toMatchObject({ status: 'refunded', revoked: { taken: 5, shortfall: 15 } });
      expect(run.alerts.sent.map((a) => a.title)).toEqual([expect.stringContaining('refunded after 15 of its credits were spent')]);
    });
    expect(await ledger.balance(full.customerId)).toBe(1); // the starting credit stays
    expect(await ledger.balance(spent.customerId)).toBe(0);
  });
});
