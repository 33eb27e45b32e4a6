/** The operator-alert activity: fans an alert out to every configured channel. */
import { Context } from '@temporalio/activity';
import type { AlertChannel, OperatorAlert } from '../alerts/port.js';

export type AlertInput = Pick<OperatorAlert, 'failedStep' | 'error' | 'refund'> & { title?: string };

export function createAlertActivities(deps: { channels: AlertChannel[]; temporalUiUrl: string; namespace: string }) {
  return {
    /**
     * Sends to every channel. Channels that delivered are remembered in heartbeat details, so a
     * retry after a partial failure only resends to the channels that failed.
     */
    async alertOperator(input: AlertInput): Promise<{ delivered: string[] }> {
      const ctx = Context.current();
      // Activities started outside a workflow have no execution; alerts come from workflows.
      const workflowExecution = ctx.info.workflowExecution ?? { workflowId: '(none)', runId: '(none)' };
      const workflowType = ctx.info.workflowType ?? '(no workflow)';
      const delivered = new Set<string>((ctx.info.heartbeatDetails as string[] | undefined) ?? []);
      const alert: OperatorAlert = {
        title: input.title ?? `${workflowType} failed at ${input.failedStep}`,
        workflowType,
        workflowId: workflowExecution.workflowId,
        runId: workflowExecution.runId,
        failedStep: input.failedStep,
        error: input.error,
        refund: input.refund,
        temporalUiUrl: workflowUiUrl(deps.temporalUiUrl, deps.namespace, workflowExecution),
        occurredAt: new Date().toISOString(),
      };
      const failures: string[] = [];
      for (const channel of deps.channels.filter((c) => !delivered.has(c.name))) {
        try {
          await channel.send(alert);
          delivered.add(channel.name);
          ctx.heartbeat([...delivered]);
        } catch (err) {
          failures.push(`${channel.name}: ${(err as Error).message}`);
        }
      }
      if (failures.length) throw new Error(`alert not delivered to ${failures.join('; ')}`);
      return { delivered: [...delivered] };
    },
  };
}

export function workflowUiUrl(uiUrl: string, namespace: string, exec: { workflowId: string; runId: string }): string {
  const e = encodeURIComponent;
  return `${uiUrl}/namespaces/${e(namespace)}/workflows/${e(exec.workflowId)}/${e(exec.runId)}/history`;
}
