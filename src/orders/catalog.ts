/**
 * What a customer can order, what it costs and which addresses are accepted, as plain data and
 * pure functions (no zod, no Node): the one table both the server (validation, the amount it
 * charges) and the browser (the checkout's live price and its form checks) use, so the price a
 * shopper sees is the price they pay.
 */

export const SHAPES = ['die-cut', 'circle', 'square'] as const;
export type Shape = (typeof SHAPES)[number];
export const SIZES_INCHES = [2, 3, 4] as const;
export type SizeInches = (typeof SIZES_INCHES)[number];
export const MAX_QUANTITY = 500;

export interface Product {
  shape: Shape;
  sizeInches: SizeInches;
  quantity: number;
}

export interface ShippingAddress {
  name: string;
  line1: string;
  line2?: string;
  city: string;
  postalCode: string;
  /**
   * State, province or region: its code where printers need one (REGION_CODE_COUNTRIES, e.g.
   * "CA", "ON", "NSW"; the web form requires it there), optional free text elsewhere.
   */
  region?: string;
  /** ISO 3166-1 alpha-2, upper case. */
  country: string;
}

/** Longest accepted value of each free-text address field (after trimming). */
export const ADDRESS_MAX_LENGTH = { name: 100, line1: 200, line2: 200, city: 100, region: 100 } as const;
/** Countries whose addresses printers accept only with the state, province or territory code. */
export const REGION_CODE_COUNTRIES: readonly string[] = ['US', 'CA', 'AU'];
export const REGION_CODE = /^[A-Za-z]{2,3}$/;

/**
 * What is wrong with an address's region for its country (both trimmed), or undefined. In the US,
 * Canada and Australia a region must be the state, province or territory code (printers need
 * it); `required` makes it mandatory there too — the web form's rule. The API leaves it optional
 * (its contract predates the field), so API clients should send it for those countries.
 */
export function regionProblem(country: string, region: string | undefined, required: boolean): string | undefined {
  if (REGION_CODE_COUNTRIES.includes(country.toUpperCase())) {
    if (!region) return required ? 'is required for this country (the state, province or territory code, e.g. CA, ON or NSW)' : undefined;
    if (!REGION_CODE.test(region)) return 'must be the state, province or territory code (2–3 letters, e.g. CA, ON or NSW)';
  }
  if (region && region.length > ADDRESS_MAX_LENGTH.region) return `at most ${ADDRESS_MAX_LENGTH.region} characters`;
  return undefined;
}
/** Checked after trimming. */
export const POSTAL_CODE = /^[A-Za-z0-9][A-Za-z0-9 -]{1,10}$/;
export const POSTAL_CODE_RULE = 'must be 2–11 letters, digits, spaces or dashes';
export const COUNTRY_CODE = /^[A-Za-z]{2}$/;

/** Price of one sticker in cents, by size; shape does not change the price. */
export const UNIT_CENTS: Readonly<Record<SizeInches, number>> = { 2: 300, 3: 400, 4: 500 };
/** Cheaper per sticker in bulk, largest tier first. */
export const BULK_DISCOUNTS: ReadonlyArray<{ from: number; percentOff: number }> = [
  { from: 100, percentOff: 30 },
  { from: 50, percentOff: 20 },
  { from: 10, percentOff: 10 },
];
export const SHIPPING_CENTS = 499;
export const CURRENCY = 'usd';

export interface Price {
  unitCents: number;
  /** The bulk discount applied to the unit price, 0 when none. */
  percentOff: number;
  subtotalCents: number;
  shippingCents: number;
  totalCents: number;
  currency: string;
}

export const bulkPercentOff = (quantity: number) => BULK_DISCOUNTS.find((b) => quantity >= b.from)?.percentOff ?? 0;

export function priceOf(product: Product): Price {
  const percentOff = bulkPercentOff(product.quantity);
  const unitCents = Math.round((UNIT_CENTS[product.sizeInches] * (100 - percentOff)) / 100);
  const subtotalCents = unitCents * product.quantity;
  return { unitCents, percentOff, subtotalCents, shippingCents: SHIPPING_CENTS, totalCents: subtotalCents + SHIPPING_CENTS, currency: CURRENCY };
}

export const describeProduct = (p: Product) => `${p.quantity} × ${p.sizeInches}-inch ${p.shape} sticker${p.quantity === 1 ? '' : 's'}`;

/** Minor units to a price, with the currency's own number of decimals (none for JPY). */
export function formatAmount(amountMinor: number, currency: string): string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amountMinor / 10 ** digits);
}
