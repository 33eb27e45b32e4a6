/**
 * What a customer can order and what it costs, as the API validates it: zod schemas over the one
 * table of products and prices in catalog.ts (pure, shared with the browser), re-exported here
 * for the API, the print file (geometry) and the print adapters (each vendor's product ids).
 */
import { z } from 'zod';
import {
  ADDRESS_MAX_LENGTH as MAX,
  COUNTRY_CODE,
  MAX_QUANTITY,
  POSTAL_CODE,
  POSTAL_CODE_RULE,
  REGION_CODE_COUNTRIES,
  regionProblem,
  SHAPES,
  SIZES_INCHES,
  type ShippingAddress,
} from './catalog.js';

export {
  ADDRESS_MAX_LENGTH,
  CURRENCY,
  describeProduct,
  MAX_QUANTITY,
  priceOf,
  SHAPES,
  SHIPPING_CENTS,
  SIZES_INCHES,
  type Price,
  type Product,
  type Shape,
  type ShippingAddress,
  type SizeInches,
} from './catalog.js';

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

export const shippingSchema = z
  .strictObject({
    name: text(MAX.name),
    line1: text(MAX.line1),
    line2: text(MAX.line2).optional(),
    city: text(MAX.city),
    postalCode: z.string().trim().regex(POSTAL_CODE, POSTAL_CODE_RULE),
    region: z.string().trim().optional(),
    country: z
      .string()
      .trim()
      .regex(COUNTRY_CODE, 'must be a two-letter ISO country code')
      .transform((c) => c.toUpperCase()),
  })
  .superRefine((a, ctx) => {
    const problem = regionProblem(a.country, a.region || undefined, false);
    if (problem) ctx.addIssue({ code: 'custom', path: ['region'], message: problem });
  })
  .transform(({ region, ...a }): ShippingAddress => {
    if (!region) return a;
    return { ...a, region: REGION_CODE_COUNTRIES.includes(a.country) ? region.toUpperCase() : region };
  });
