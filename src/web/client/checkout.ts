/**
 * The sticker checkout (`/animations/:id/order`): the live price from the same catalogue the
 * server charges by (orders/catalog.ts, bundled in), the server's own form rules checked before
 * sending, then `POST /api/orders`: the access token is kept for the order page and the shopper
 * goes on to pay. When this browser cannot keep the token, the shopper is shown the order's private
 * link to copy before going on (the API's cookie may still open the order here, but the link is the
 * one way back that never fails).
 */
import {
  ADDRESS_MAX_LENGTH,
  COUNTRY_CODE,
  describeProduct,
  formatAmount,
  MAX_QUANTITY,
  POSTAL_CODE,
  POSTAL_CODE_RULE,
  priceOf,
  REGION_CODE_COUNTRIES,
  regionProblem,
  SHAPES,
  SIZES_INCHES,
  type Product,
  type Shape,
  type ShippingAddress,
  type SizeInches,
} from '../../orders/catalog.js';
import { apiMessage, byId, isHttpUrl, NETWORK_ERROR, say, saveOrderToken, SERVER_ERROR, wireCopy } from './common.js';

const form = byId<HTMLFormElement>('order-form');
const animationId = form.dataset.animationId!;
const formError = byId('form-error');
const submit = byId<HTMLButtonElement>('order-submit');
const SUBMIT_LABEL = 'Continue to payment';

type Field = 'shape' | 'size' | 'quantity' | 'name' | 'line1' | 'line2' | 'city' | 'postalCode' | 'region' | 'country' | 'email';
const control = (f: Field) => byId<HTMLInputElement | HTMLSelectElement>(f);
const value = (f: Field) => control(f).value.trim();

function readProduct(): { product?: Product; problems: Partial<Record<Field, string>> } {
  const problems: Partial<Record<Field, string>> = {};
  const shape = value('shape') as Shape;
  const sizeInches = Number(value('size')) as SizeInches;
  const raw = value('quantity');
  const quantity = Number(raw);
  if (!SHAPES.includes(shape)) problems.shape = 'Choose a shape.';
  if (!SIZES_INCHES.includes(sizeInches)) problems.size = 'Choose a size.';
  if (raw === '' || !Number.isInteger(quantity)) problems.quantity = 'Enter a whole number of stickers.';
  else if (quantity < 1 || quantity > MAX_QUANTITY) problems.quantity = `Order between 1 and ${MAX_QUANTITY} stickers.`;
  return Object.keys(problems).length ? { problems } : { product: { shape, sizeInches, quantity }, problems };
}

const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/** The server's shipping and email rules (orders/product.ts), checked before sending. */
function readShipping(): { shipping: ShippingAddress; email: string; problems: Partial<Record<Field, string>> } {
  const problems: Partial<Record<Field, string>> = {};
  const text = (f: 'name' | 'line1' | 'line2' | 'city', what: string, optional = false) => {
    const v = value(f);
    if (!v && !optional) problems[f] = `Enter ${what}.`;
    else if (v.length > ADDRESS_MAX_LENGTH[f]) problems[f] = `Use at most ${ADDRESS_MAX_LENGTH[f]} characters.`;
    return v;
  };
  const shipping: ShippingAddress = {
    name: text('name', 'the name to ship to'),
    line1: text('line1', 'the street address'),
    city: text('city', 'the city'),
    postalCode: value('postalCode'),
    country: value('country').toUpperCase(),
  };
  const line2 = text('line2', '', true);
  if (line2) shipping.line2 = line2;
  const region = value('region');
  if (region) shipping.region = REGION_CODE_COUNTRIES.includes(shipping.country) ? region.toUpperCase() : region;
  const regionRule = regionProblem(shipping.country, region || undefined, true);
  if (regionRule) problems.region = `The state, province or region ${regionRule}.`;
  if (!POSTAL_CODE.test(shipping.postalCode)) problems.postalCode = shipping.postalCode ? `The postal code ${POSTAL_CODE_RULE}.` : 'Enter the postal code.';
  if (!COUNTRY_CODE.test(shipping.country)) problems.country = 'Choose a country.';
  const email = value('email');
  if (!EMAIL.test(email) || email.length > 254) problems.email = email ? 'Enter a valid email address, like name@example.com.' : 'Enter your email address.';
  return { shipping, email, problems };
}

function showProblems(problems: Partial<Record<Field, string>>, fields: Field[]) {
  for (const f of fields) {
    const message = problems[f];
    control(f).setAttribute('aria-invalid', message ? 'true' : 'false');
    say(byId(`${f}-error`), message);
  }
}

const PRODUCT_FIELDS: Field[] = ['shape', 'size', 'quantity'];
const ADDRESS_FIELDS: Field[] = ['name', 'line1', 'line2', 'city', 'postalCode', 'region', 'country', 'email'];

function updatePrice() {
  const { product, problems } = readProduct();
  showProblems(problems, PRODUCT_FIELDS);
  const set = (id: string, text: string) => (byId(id).textContent = text);
  if (!product) {
    for (const id of ['price-product', 'price-unit', 'price-discount', 'price-subtotal']) set(id, '–');
    byId<HTMLOutputElement>('total').value = '–';
    return;
  }
  const price = priceOf(product);
  const money = (cents: number) => formatAmount(cents, price.currency);
  set('price-product', describeProduct(product));
  set('price-unit', money(price.unitCents));
  set('price-discount', price.percentOff ? `${price.percentOff}% off` : 'None');
  set('price-subtotal', money(price.subtotalCents));
  set('price-shipping', money(price.shippingCents));
  byId<HTMLOutputElement>('total').value = money(price.totalCents);
}

for (const f of PRODUCT_FIELDS) {
  control(f).addEventListener('input', updatePrice);
  control(f).addEventListener('change', updatePrice);
}
// Once a field was found wrong, say as soon as it is right again.
for (const f of ADDRESS_FIELDS) {
  control(f).addEventListener('change', () => {
    if (control(f).getAttribute('aria-invalid') === 'true') showProblems(readShipping().problems, [f]);
  });
}

// Start the country list at the browser's own region, when it has one.
try {
  const region = new Intl.Locale(navigator.language).maximize().region;
  const country = control('country') as HTMLSelectElement;
  if (region && !country.value && [...country.options].some((o) => o.value === region)) country.value = region;
} catch {
  // No region: the shopper chooses.
}

/** `POST /api/orders`'s answer (PRODUCT.md §4), as far as this page needs it. */
interface CreatedOrder {
  id: string;
  accessToken: string;
  checkoutUrl: string;
  orderUrl?: string;
}

/** The token could not be kept: the private link is shown, to copy, before going on to pay. */
function keepLinkFirst(order: CreatedOrder) {
  const link = byId<HTMLInputElement>('order-private-link');
  link.defaultValue = isHttpUrl(order.orderUrl)
    ? order.orderUrl
    : `${location.origin}/orders/${encodeURIComponent(order.id)}#token=${encodeURIComponent(order.accessToken)}`;
  wireCopy(byId<HTMLButtonElement>('copy-order-link'), link);
  byId('continue-payment').addEventListener('click', () => location.assign(order.checkoutUrl));
  form.hidden = true;
  byId('keep-link').hidden = false;
  byId('keep-link-heading').focus();
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  say(formError);
  const { product, problems: productProblems } = readProduct();
  const { shipping, email, problems } = readShipping();
  showProblems(productProblems, PRODUCT_FIELDS);
  showProblems(problems, ADDRESS_FIELDS);
  const firstWrong = [...PRODUCT_FIELDS, ...ADDRESS_FIELDS].find((f) => productProblems[f] ?? problems[f]);
  if (!product || firstWrong) {
    say(formError, 'Please check the highlighted fields.');
    control(firstWrong ?? 'quantity').focus();
    return;
  }
  let leaving = false;
  submit.disabled = true;
  submit.textContent = 'Opening the payment page…';
  try {
    const res = await fetch('/api/orders', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ animationId, product, shipping, email }),
    });
    if (res.status === 201) {
      const order = (await res.json()) as CreatedOrder;
      if (!saveOrderToken(order.id, order.accessToken)) return keepLinkFirst(order);
      leaving = true;
      location.assign(order.checkoutUrl);
      return;
    }
    const message = await apiMessage(res);
    if (res.status === 400) say(formError, `Please check the form: ${message ?? 'something is not right'}.`);
    else if (res.status === 404) say(formError, 'This buddy no longer exists, so stickers cannot be made of it.');
    else if (res.status === 409) say(formError, message ? `${message[0]!.toUpperCase()}${message.slice(1)}.` : 'Stickers cannot be made of this buddy.');
    else say(formError, res.status < 500 && message ? message : SERVER_ERROR);
  } catch {
    say(formError, NETWORK_ERROR);
  } finally {
    if (!leaving) resetSubmit();
  }
});

function resetSubmit() {
  submit.disabled = false;
  submit.textContent = SUBMIT_LABEL;
}

// Back from the payment page, the browser may restore this page as it was left: button disabled.
addEventListener('pageshow', (e) => {
  if (e.persisted) resetSubmit();
});

updatePrice();
