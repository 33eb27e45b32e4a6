/**
 * Operator alerts: what the operator must know when paid work fails. Channels are adapters of one
 * port; a delivery either resolves (the channel accepted it) or rejects (retry later).
 */
export interface OperatorAlert {
  title: string;
  workflowType: string;
  workflowId: string;
  runId: string;
  /** The step that failed, e.g. "animate"; "cancelled" when the workflow was cancelled. */
  failedStep: string;
  error: string;
  /** What happened to the customer's money, in words: "refunded 1 credit", "REFUND FAILED …". */
  refund: string;
  /** Link to the workflow in the Temporal Web UI. */
  temporalUiUrl: string;
  occurredAt: string;
}

export interface AlertChannel {
  /** Stable name, used to remember which channels already delivered an alert across retries. */
  readonly name: string;
  /** Delivers one alert; not idempotent on the receiving side, so callers skip channels that succeeded. */
  send(alert: OperatorAlert): Promise<void>;
}

export function alertText(a: OperatorAlert): string {
  return [
    `${a.workflowType} ${a.workflowId} failed at step "${a.failedStep}"`,
    `Error: ${a.error}`,
    `Customer: ${a.refund}`,
    `Run: ${a.runId} at ${a.occurredAt}`,
    `Temporal UI: ${a.temporalUiUrl}`,
  ].join('\n');
}

/** POSTs and treats any non-2xx answer as a failed delivery, with the body in the error. */
export async function postOrThrow(channel: string, url: string, init: RequestInit): Promise<Response> {
  const res = await fetch(url, { ...init, method: 'POST', signal: AbortSignal.timeout(10_000) });
  if (!res.ok) {
    const body = (await res.text().catch(() => '')).slice(0, 300);
    throw new Error(`${channel} answered ${res.status}: ${body}`);
  }
  return res;
}
