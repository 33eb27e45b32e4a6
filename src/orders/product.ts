/**
 * What a customer can order and what it costs: the one table of products and prices, shared by
 * the API (validation, the checkout amount), the print file (geometry) and the print adapters
 * (each vendor's product ids).
 */
import { z } from 'zod';

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
  /** ISO 3166-1 alpha-2, upper case. */
  country: string;
}

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `at most ${max} characters`);

export const productSchema = z.strictObject({
  shape: z.enum(SHAPES, { error: `must be one of ${SHAPES.join(', ')}` }),
  sizeInches: z.union(
    SIZES_INCHES.map((s) => z.literal(s)),
    { error: `must be one of ${SIZES_INCHES.join(', ')}` },
  ),
  quantity: z
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'at least 1')
    .max(MAX_QUANTITY, `at most ${MAX_QUANTITY}`),
});

export const shippingSchema = z.strictObject({
  name: text(100),
  line1: text(200),
  line2: text(200).optional(),
  city: text(100),
  postalCode: z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9 -]{1,10}$/, 'must be 2–11 letters, digits, spaces or dashes'),
  country: z
    .string()
    .trim()
    .regex(/^[A-Za-z]{2}$/, 'must be a two-letter ISO country code')
    .transform((c) => c.toUpperCase()),
});

/** Price of one sticker in cents, by size; shape does not change the price. */
const UNIT_CENTS: Record<SizeInches, number> = { 2: 300, 3: 400, 4: 500 };
/** Cheaper per sticker in bulk. */
const BULK: Array<{ from: number; percentOff: number }> = [
  { from: 100, percentOff: 30 },
  { from: 50, percentOff: 20 },
  { from: 10, percentOff: 10 },
];
export const SHIPPING_CENTS = 499;
export const CURRENCY = 'usd';

export interface Price {
  unitCents: number;
  subtotalCents: number;
  shippingCents: number;
  totalCents: number;
  currency: string;
}

export function priceOf(product: Product): Price {
  const off = BULK.find((b) => product.quantity >= b.from)?.percentOff ?? 0;
  const unitCents = Math.round((UNIT_CENTS[product.sizeInches] * (100 - off)) / 100);
  const subtotalCents = unitCents * product.quantity;
  return { unitCents, subtotalCents, shippingCents: SHIPPING_CENTS, totalCents: subtotalCents + SHIPPING_CENTS, currency: CURRENCY };
}

export const describeProduct = (p: Product) => `${p.quantity} × ${p.sizeInches}-inch ${p.shape} sticker${p.quantity === 1 ? '' : 's'}`;
