/**
 * The worker of the parked-orders benchmark, in a process of its own so its memory can be read:
 * the production worker (`createWorker`) over a prebuilt workflow bundle, with the print and
 * printer activities answered at once. Reports how many orders it has submitted over IPC.
 * argv: <temporal address> <task queue> <workflow bundle path>
 */
import { NativeConnection } from '@temporalio/worker';
import type { Activities } from '../src/activities/index.js';
import { loadConfig } from '../src/config.js';
import { createWorker, installTemporalRuntime } from '../src/worker.js';

const [address, taskQueue, bundlePath] = process.argv.slice(2) as [string, string, string];
installTemporalRuntime('error');
const connection = await NativeConnection.connect({ address });
let submitted = 0;
const snapshot = (orderId: string) => ({ orderId, vendorOrderId: `sim_${orderId}`, type: 'accepted' as const });
const activities: Partial<Activities> = {
  renderPrintFile: async (i) => ({ printFileKey: `orders/${i.orderId}/print.pdf`, bytes: 52_000 }),
  preflightPrintFile: async () => ({ checks: [] }),
  submitPrintOrder: async (i) => {
    submitted++;
    return snapshot(i.orderId);
  },
  fetchPrinterStatus: async (i) => snapshot(i.orderId),
  cancelPrintOrder: async () => true,
  expireCheckout: async () => 'expired',
  refundPayment: async (i) => ({ refundId: `re_${i.paymentIntentId}`, status: 'succeeded', amountCents: i.amountCents }),
  alertOperator: async () => ({ delivered: [] }),
  recordOrder: async () => undefined,
  sendEmail: async () => ({ messageId: '<bench@bench>', duplicate: false, alreadySent: false, idempotencyKey: 'email:bench:none' }),
};
const worker = await createWorker({
  connection,
  namespace: 'default',
  taskQueue,
  activities,
  workflows: false,
  // The production setting: what TEMPORAL_WORKFLOW_CACHE says (100 unless set).
  maxCachedWorkflows: loadConfig().temporal.workflowCache,
  extra: { workflowBundle: { codePath: bundlePath } },
});
const report = setInterval(() => process.send?.({ submitted, memory: process.memoryUsage() }), 200);
process.once('SIGTERM', () => worker.shutdown());
await worker.run();
clearInterval(report);
await connection.close();
process.exit(0);
