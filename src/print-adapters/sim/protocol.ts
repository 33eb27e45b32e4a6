/**
 * The printer simulator's wire format, shared by the simulator (which serves and signs it) and
 * its adapter (which calls and verifies it): the order JSON, the webhook body, the bearer key
 * derived from the simulator's secret, and the `Sim-Signature` scheme
 * (`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, Stripe's shape).
 */
import { hmacSha256Hex, safeEqual } from '../http.js';

/** Where an order stands at the simulated printer; `received` until its PDF is fetched. */
export const SIM_STATUSES = ['received', 'accepted', 'in_production', 'shipped', 'delivered', 'failed', 'cancelled'] as const;
export type SimStatus = (typeof SIM_STATUSES)[number];

export interface SimTracking {
  carrier: string;
  number: string;
  url: string;
}

/** An order as the simulator's API shows it. */
export interface SimOrder {
  id: string;
  external_id: string;
  status: SimStatus;
  /** Size of the downloaded print file, once fetched. */
  pdf_bytes: number | null;
  tracking: SimTracking | null;
  failure_reason: string | null;
  created_at: string;
  updated_at: string;
}

/** `POST /printer-sim/v1/orders`. */
export interface SimCreateOrder {
  external_id: string;
  file_url: string;
  product: { shape: string; size_inches: number; quantity: number };
  recipient: { name: string; address1: string; address2?: string; city: string; zip: string; state_code?: string; country_code: string };
  email: string;
}

/** A webhook's body: one event, the order as it stood when the event happened. */
export interface SimWebhookBody {
  /** Stable across redeliveries. */
  id: string;
  type: `order.${SimStatus}`;
  created_at: string;
  order: SimOrder;
}

export const SIM_SIGNATURE_HEADER = 'sim-signature';
/** Signatures older (or newer) than this are refused: a captured delivery cannot be replayed later. */
export const SIM_SIGNATURE_TOLERANCE_SECONDS = 300;

/** The API key clients send as `Authorization: Bearer <key>`: derived, so one secret configures both ends. */
export const simApiKey = (secret: string) => `simk_${hmacSha256Hex(secret, 'printer-sim api key')}`;

export function signSimWebhook(secret: string, rawBody: string | Buffer, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${hmacSha256Hex(secret, Buffer.concat([Buffer.from(`${unixSeconds}.`), Buffer.from(rawBody)]))}`;
}

/** True when one `v1` of the header signs `rawBody` with `secret` at a time within the tolerance. */
export function verifySimSignature(
  secret: string,
  headerValue: string | undefined,
  rawBody: Buffer,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = SIM_SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  if (!headerValue) return false;
  const parts = headerValue.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = signSimWebhook(secret, rawBody, t).split('v1=')[1]!;
  return parts.filter(([k]) => k === 'v1').some(([, v]) => v !== undefined && safeEqual(v, expected));
}
