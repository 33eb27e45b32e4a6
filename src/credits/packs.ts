/**
 * The credit packs a shopper can buy when the free credits are spent: one catalogue, read by the
 * API (`GET /api/credit-packs`, the 402 answer), the checkout and the pages. A pack's id is what
 * `POST /api/credits/checkout` takes; its price is charged through the payment port.
 */
import { CURRENCY, formatAmount } from '../orders/catalog.js';

export interface CreditPack {
  id: string;
  credits: number;
  priceCents: number;
  currency: string;
}

/** Bigger packs cost less a buddy (about $1.00, $0.75 and $0.60). */
export const CREDIT_PACKS: readonly CreditPack[] = [
  { id: 'pack-5', credits: 5, priceCents: 499, currency: CURRENCY },
  { id: 'pack-20', credits: 20, priceCents: 1499, currency: CURRENCY },
  { id: 'pack-50', credits: 50, priceCents: 2999, currency: CURRENCY },
];

export const creditPack = (id: string): CreditPack | undefined => CREDIT_PACKS.find((p) => p.id === id);

/** What the checkout page and the lists show, e.g. "20 buddy credits". */
export const describePack = (pack: CreditPack) => `${pack.credits} buddy credits`;

/** The packs as the API shows them. */
export function presentPacks() {
  return CREDIT_PACKS.map((p) => ({
    id: p.id,
    credits: p.credits,
    priceCents: p.priceCents,
    currency: p.currency,
    price: formatAmount(p.priceCents, p.currency),
    description: describePack(p),
  }));
}
