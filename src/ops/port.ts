/**
 * What an operator can do to an order from the console (`/ops`, `/ops/api/…`). The routes only
 * check the operator's token and the request; each action is carried out by Temporal (a signal,
 * a cancellation, or a small workflow of its own), so nothing an operator asks for is lost if a
 * process dies halfway.
 *
 * Every action carries a request id the console makes once per form (a double click or a
 * resubmitted form repeats nothing: the second call answers with the first one's result) and is
 * kept in `ops_actions` with who asked and what came of it.
 */
import type { EmailKind } from '../email/port.js';

export const OPS_ACTIONS = ['refund', 'cancel', 'retry_submission', 'resend_email', 'reprint'] as const;
export type OpsActionKind = (typeof OPS_ACTIONS)[number];

/** Letters, digits, `_` and `-`, 8 to 64 of them. */
export const OPS_REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;

export interface OpsActionRequest {
  orderId: string;
  /** Made once per form (OPS_REQUEST_ID): the same id twice does the action once. */
  requestId: string;
  /** Who asked, for the record ("console", or what the operator typed). */
  actor: string;
  /** Why, in the operator's words: shown on the order and, for refunds, to the shopper. */
  reason?: string;
}

export interface OpsActionResult {
  action: OpsActionKind;
  orderId: string;
  requestId: string;
  /** `done`: carried out; `started`: handed to its workflow, which finishes it (see the order's page). */
  outcome: 'done' | 'started';
  /** One sentence for the operator. */
  message: string;
  /** The reprint's new order. */
  newOrderId?: string;
  /** The email sent again, and which resend of its kind it is (1 for the first copy resent). */
  email?: { kind: EmailKind; resend: number };
  at: string;
  /** This request id had been carried out before: nothing was done again. */
  repeated?: boolean;
}

/** The action does not apply to the order as it stands (e.g. refunding an order that is still open). */
export class OpsActionRefused extends Error {
  override readonly name = 'OpsActionRefused';
}

/** Which actions apply to an order now, for the console to offer, with why the others do not. */
export interface AvailableAction {
  action: OpsActionKind;
  available: boolean;
  /** Why not, when not available. */
  why?: string;
}

export interface OpsActions {
  /** Each action on this order, and whether it applies now. Undefined for an unknown order. */
  available(orderId: string): Promise<AvailableAction[] | undefined>;
  /** Refunds an ended order's payment (what is left of it), once. */
  refund(request: OpsActionRequest): Promise<OpsActionResult>;
  /** Cancels an open order: stopped at the printer if it is there, and refunded. */
  cancel(request: OpsActionRequest): Promise<OpsActionResult>;
  /** An order waiting out a printer outage tries its submission again now. */
  retrySubmission(request: OpsActionRequest): Promise<OpsActionResult>;
  /** Sends one of the order's emails again (a new copy, marked as resent). */
  resendEmail(request: OpsActionRequest & { kind: EmailKind }): Promise<OpsActionResult>;
  /** A new print order of the same art and address, without a new payment. */
  reprint(request: OpsActionRequest): Promise<OpsActionResult>;
}
