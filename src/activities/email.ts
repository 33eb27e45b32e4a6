/**
 * The email activity: renders one message to a shopper and sends it through the email port, once
 * per idempotency key however often Temporal retries it. A message that can never go (a
 * malformed address, a permanent refusal by the server) fails for good; an outage is retried.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { renderEmail, type EmailRequest } from '../email/messages.js';
import type { OrderRepository } from '../orders/repository.js';
import { EmailInFlight, EmailRefused, type EmailSender, type SendResult } from '../email/port.js';

export type { EmailRequest } from '../email/messages.js';

export interface EmailActivityDeps {
  email: EmailSender;
  /** Where the links in the messages point (PUBLIC_URL). */
  publicUrl: string;
  /** Gives the order's access token for its private link (never carried in a workflow's history). */
  orders: Pick<OrderRepository, 'accessTokenOf'>;
}

export function createEmailActivities(deps: EmailActivityDeps) {
  return {
    /**
     * Sends `request`'s message unless it was sent before (then resolves with `alreadySent`).
     * Failure types: `EmailRefused` (non-retryable), `EmailInFlight` (another attempt holds it:
     * retried after its claim runs out), `EmailUnavailable` (the server or the outbox, retried).
     */
    async sendEmail(request: EmailRequest): Promise<SendResult & { idempotencyKey: string }> {
      const accessToken = await deps.orders.accessTokenOf(request.orderId);
      const message = renderEmail(request, { publicUrl: deps.publicUrl, accessToken });
      try {
        return { ...(await deps.email.send(message)), idempotencyKey: message.idempotencyKey };
      } catch (err) {
        if (err instanceof EmailRefused) throw ApplicationFailure.nonRetryable(err.message, err.name);
        if (err instanceof EmailInFlight) throw ApplicationFailure.create({ type: err.name, message: err.message, nextRetryDelay: err.retryInMs });
        throw ApplicationFailure.create({ type: 'EmailUnavailable', message: (err as Error).message, cause: err as Error });
      }
    },
  };
}
