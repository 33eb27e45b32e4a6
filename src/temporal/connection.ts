/** Connections to a Temporal frontend: one for clients (API), one native (workers). */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

export interface TemporalTarget {
  address: string;
  namespace: string;
  apiKey?: string;
  tls: boolean;
}

export async function connectClient(t: TemporalTarget): Promise<Client> {
  const connection = await Connection.connect({ address: t.address, tls: t.tls || undefined, apiKey: t.apiKey });
  return new Client({ connection, namespace: t.namespace });
}

export function connectWorker(t: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect({ address: t.address, tls: t.tls || undefined, apiKey: t.apiKey });
}

/** True when the frontend answers within `timeoutMs`. */
export async function temporalAnswers(client: Client, timeoutMs = 2000): Promise<boolean> {
  try {
    await client.connection.withDeadline(Date.now() + timeoutMs, () =>
      client.workflowService.getSystemInfo({}),
    );
    return true;
  } catch {
    return false;
  }
}
