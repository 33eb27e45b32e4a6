/**
 * The order search attributes (ORDER_SEARCH_ATTRIBUTES) on the namespace: the embedded dev server
 * is started with them; on another cluster they are added if missing. Where they cannot be added
 * (Temporal Cloud adds them through its own console, or the API key may not), orders run without
 * them: the operator console, which reads the database, does not need them.
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto'; // CommonJS: its namespaces come on the default export
import type { Logger } from '../logger.js';
import { ORDER_SEARCH_ATTRIBUTES } from '../workflows/sticker-order/api.js';

/** True when every order search attribute is on the namespace (now), so orders may be `indexed`. */
export async function ensureOrderSearchAttributes(client: Client, namespace: string, logger: Logger): Promise<boolean> {
  const names = ORDER_SEARCH_ATTRIBUTES.map((k) => k.name);
  try {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
    const missing = names.filter((n) => !customAttributes?.[n]);
    if (!missing.length) return true;
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((n) => [n, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
    logger.info('added the order search attributes to the namespace', { namespace, added: missing });
    return true;
  } catch (err) {
    logger.warn('the order search attributes are not on the namespace and could not be added: orders run without them', {
      namespace,
      attributes: names,
      error: (err as Error).message,
    });
    return false;
  }
}
