/**
 * The HTML of the shop's pages, inside the shared shell (layout.ts). Server-side HTML carries only
 * what the URL already says (an animation id) and public catalogue data: everything live or
 * private (progress, the buddy, the order) is fetched by the page's script from the API.
 * Hooks for the scripts and browser tests: ids, `data-*` attributes and the labels. The forms post
 * (a form without a method would put the photo's name or the address into a URL when the
 * script does not run): the upload to the API itself, the order form to its own page, which
 * takes no POST.
 */
import { BULK_DISCOUNTS, describeProduct, formatAmount, MAX_QUANTITY, priceOf, SHAPES, SIZES_INCHES, type Product } from '../orders/catalog.js';
import { ANIMATION_STEPS } from '../workflows/animation/api.js';
import type { SiteAssets } from './assets.js';
import { COUNTRIES } from './countries.js';
import { escapeHtml, renderPage } from './layout.js';

/** What each animation step is called on the progress page. */
export const STEP_LABELS: Record<string, string> = {
  moderate: 'Checking the photo',
  analyze: 'Finding your subject',
  cartoonize: 'Drawing the cartoon',
  expand: 'Imagining the full body',
  segment: 'Cutting it out',
  animate: 'Bringing it to life',
  transcode: 'Getting the video ready',
};

const mb = (bytes: number) => `${Math.floor(bytes / (1024 * 1024))} MB`;

/**
 * The packs section stays empty here: the script fills it from `GET /api/credit-packs`, since only
 * the API knows whether packs are on sale (they are not with local payments and a paid back end).
 */
export function uploadPage(assets: SiteAssets, maxUploadBytes: number): string {
  return renderPage({
    title: 'Make a buddy',
    scripts: [assets.scripts.upload],
    main: `<h1>Turn a photo into a moving sticker buddy</h1>
<p class="lead">Upload a photo of a person or a pet. We cut it out, draw it as a cartoon and bring it to life; then order stickers whose QR code plays the animation.</p>
<div id="purchase-note" class="message success" role="status" tabindex="-1" hidden></div>
<form id="upload-form" class="card" method="post" action="/api/animations" enctype="multipart/form-data" data-max-bytes="${maxUploadBytes}" novalidate>
<div class="dropzone" id="dropzone">
<label for="photo">Photo</label>
<p class="hint" id="photo-hint">Drop a photo here or choose one: JPEG, PNG, WebP, HEIC, AVIF, GIF or TIFF, up to ${mb(maxUploadBytes)}. One clear subject works best.</p>
<input type="file" id="photo" name="photo" accept="image/*,.heic,.heif,.avif" aria-describedby="photo-hint" required>
<img id="preview" class="preview" alt="Preview of the chosen photo" hidden>
</div>
<p id="upload-error" class="message error" role="alert" hidden></p>
<p id="credits" class="credits" aria-live="polite">Checking your credits…</p>
<button type="submit" id="upload-submit" class="wide">Make my buddy</button>
</form>
<p id="packs-toggle-row" class="center" hidden><button type="button" id="packs-toggle" class="link" aria-expanded="false" aria-controls="packs">Buy more credits</button></p>
<section id="packs" class="card" aria-labelledby="packs-heading" hidden>
<h2 id="packs-heading" tabindex="-1">Buy credits</h2>
<p class="muted">Each buddy uses one credit. Bigger packs cost less a buddy.</p>
<ul id="pack-list" class="pack-list"></ul>
<p id="packs-error" class="message error" role="alert" hidden></p>
<p class="hint">You pay on a secure checkout page and come straight back here.</p>
</section>
<h2>How it works</h2>
<ol class="how">
<li>Upload a photo: each buddy uses one credit, and a failed one gives it back.</li>
<li>Watch your buddy being drawn, cut out and animated.</li>
<li>Order stickers: every sticker's QR code plays your buddy's animation on any phone.</li>
</ol>`,
  });
}

export function progressPage(assets: SiteAssets, animationId: string): string {
  const id = escapeHtml(animationId);
  const steps = ANIMATION_STEPS.map(
    (s) =>
      `<li data-step="${s}" data-status="pending"><span class="step-name">${escapeHtml(STEP_LABELS[s] ?? s)}</span><span class="step-state">Waiting</span></li>`,
  ).join('\n');
  return renderPage({
    title: 'Your buddy',
    scripts: [assets.scripts.progress],
    main: `<div id="animation-page" data-animation-id="${id}">
<h1>Making your buddy</h1>
<p id="summary" class="lead" aria-live="polite">Connecting…</p>
<section id="result" class="card" aria-labelledby="result-heading" hidden>
<h2 id="result-heading">Meet your buddy</h2>
<div id="stage" class="stage checkerboard"></div>
<div class="actions"><a class="button" id="order-link" href="/animations/${id}/order">Order stickers</a></div>
<h3>Share it</h3>
<p class="muted">Anyone with this link sees your buddy move, no app needed.</p>
<label class="label" for="viewer-link">Viewer link</label>
<div class="share"><input type="url" id="viewer-link" readonly><button type="button" class="secondary" id="copy-viewer-link">Copy</button></div>
<p class="small"><a id="viewer-open" href="#">Open the viewer</a></p>
</section>
<div id="failure" class="message error" role="alert" hidden></div>
<section class="card" aria-labelledby="progress-heading">
<h2 id="progress-heading">Progress</h2>
<ol id="steps" class="steps" aria-labelledby="progress-heading">
${steps}
</ol>
</section>
</div>`,
  });
}

/** The checkout starts at this product; the script keeps the price current as it changes. */
export const DEFAULT_PRODUCT: Product = { shape: 'die-cut', sizeInches: 3, quantity: 10 };
const SHAPE_LABELS: Record<string, string> = { 'die-cut': 'Die-cut (follows your buddy’s outline)', circle: 'Circle', square: 'Square' };

export function checkoutPage(assets: SiteAssets, animationId: string): string {
  const p = DEFAULT_PRODUCT;
  const price = priceOf(p);
  const money = (cents: number) => escapeHtml(formatAmount(cents, price.currency));
  const option = (value: string, label: string, selected: boolean) =>
    `<option value="${escapeHtml(value)}"${selected ? ' selected' : ''}>${escapeHtml(label)}</option>`;
  const field = (id: string, label: string, input: string, hint = '') =>
    `<div class="field"><label for="${id}">${label}</label>${input}${hint}<p class="field-error" id="${id}-error" hidden></p></div>`;
  const text = (id: string, name: string, autocomplete: string, extra = '') =>
    `<input type="text" id="${id}" name="${name}" autocomplete="${autocomplete}" aria-describedby="${id}-error"${extra}>`;
  const tiers = [...BULK_DISCOUNTS]
    .reverse()
    .map((t) => `${t.percentOff}% off from ${t.from}`)
    .join(' · ');
  return renderPage({
    title: 'Order stickers',
    scripts: [assets.scripts.checkout],
    main: `<h1>Order stickers</h1>
<p class="lead">Stickers of your buddy, each with a QR code that plays its animation.</p>
<form id="order-form" method="post" action="/animations/${escapeHtml(encodeURIComponent(animationId))}/order" data-animation-id="${escapeHtml(animationId)}" novalidate>
<section class="card" aria-labelledby="stickers-heading">
<h2 id="stickers-heading">Your stickers</h2>
<div class="row three">
${field('shape', 'Shape', `<select id="shape" name="shape">${SHAPES.map((s) => option(s, SHAPE_LABELS[s] ?? s, s === p.shape)).join('')}</select>`)}
${field('size', 'Size', `<select id="size" name="sizeInches">${SIZES_INCHES.map((s) => option(String(s), `${s} in (${(s * 2.54).toFixed(1)} cm)`, s === p.sizeInches)).join('')}</select>`)}
${field('quantity', 'Quantity', `<input type="number" id="quantity" name="quantity" min="1" max="${MAX_QUANTITY}" step="1" inputmode="numeric" value="${p.quantity}" aria-describedby="quantity-hint quantity-error" required>`, `<p class="hint" id="quantity-hint">1 to ${MAX_QUANTITY}</p>`)}
</div>
<p class="hint tiers">Bulk discount: ${escapeHtml(tiers)}.</p>
<dl class="price" id="price">
<dt>Stickers</dt><dd id="price-product">${escapeHtml(describeProduct(p))}</dd>
<dt>Price each</dt><dd id="price-unit">${money(price.unitCents)}</dd>
<dt>Bulk discount</dt><dd id="price-discount">${price.percentOff ? `${price.percentOff}% off` : 'None'}</dd>
<dt>Subtotal</dt><dd id="price-subtotal">${money(price.subtotalCents)}</dd>
<dt>Shipping</dt><dd id="price-shipping">${money(price.shippingCents)}</dd>
</dl>
<p class="total"><label for="total">Total</label><output id="total" for="shape size quantity">${money(price.totalCents)}</output></p>
</section>
<section class="card" aria-labelledby="shipping-heading">
<h2 id="shipping-heading">Shipping address</h2>
${field('name', 'Full name', text('name', 'name', 'name', ' required'))}
${field('line1', 'Address line 1', text('line1', 'line1', 'address-line1', ' required'))}
${field('line2', 'Address line 2 (optional)', text('line2', 'line2', 'address-line2'))}
<div class="row">
${field('city', 'City', text('city', 'city', 'address-level2', ' required'))}
${field('postalCode', 'Postal code', text('postalCode', 'postalCode', 'postal-code', ' required'))}
</div>
${field('region', 'State, province or region', `<input type="text" id="region" name="region" autocomplete="address-level1" aria-describedby="region-hint region-error">`, '<p class="hint" id="region-hint">Needed in the US, Canada and Australia: the code, like CA, ON or NSW.</p>')}
${field('country', 'Country', `<select id="country" name="country" autocomplete="country" aria-describedby="country-error" required>${option('', 'Choose a country', true)}${COUNTRIES.map((c) => option(c.code, c.name, false)).join('')}</select>`)}
</section>
<section class="card" aria-labelledby="contact-heading">
<h2 id="contact-heading">Contact</h2>
${field('email', 'Email', `<input type="email" id="email" name="email" autocomplete="email" aria-describedby="email-hint email-error" required>`, '<p class="hint" id="email-hint">For the receipt and news about your order.</p>')}
</section>
<div id="form-error" class="message error" role="alert" hidden></div>
<button type="submit" id="order-submit" class="wide">Continue to payment</button>
<p class="center small"><a href="/animations/${escapeHtml(animationId)}">Back to your buddy</a></p>
</form>
<section id="keep-link" class="card" aria-labelledby="keep-link-heading" hidden>
<h2 id="keep-link-heading" tabindex="-1">Copy your order’s private link first</h2>
<p>Your order is made. This browser cannot keep it for you (its storage is blocked or turned off), so this private link may be the only way back to your order after paying. Copy it and keep it somewhere safe before you go on.</p>
<p class="muted">Anyone with the link can see and cancel the order.</p>
<label class="label" for="order-private-link">Private link</label>
<div class="share"><input type="url" id="order-private-link" readonly><button type="button" class="secondary" id="copy-order-link">Copy</button></div>
<div class="actions"><button type="button" id="continue-payment" class="wide">Continue to payment</button></div>
</section>`,
  });
}

/** The order page: one shell for every order id; its script loads the order with the private link's token. */
export function orderPage(assets: SiteAssets): string {
  return renderPage({
    title: 'Your order',
    scripts: [assets.scripts.order],
    noindex: true,
    main: `<h1>Your sticker order</h1>
<p id="order-loading" class="lead" aria-live="polite">Loading your order…</p>
<section id="order-missing" class="card" aria-labelledby="missing-heading" hidden>
<h2 id="missing-heading" tabindex="-1">This page needs the order’s private link</h2>
<p>Open the private link you got when you ordered (it ends in <code>#token=…</code>), on this device or any other.</p>
<p class="muted">For your privacy, an order is only shown through its own link, or in the browser it was placed from.</p>
<p><a class="button secondary" href="/">Make a buddy</a></p>
</section>
<div id="order-details" hidden>
<section class="card" aria-labelledby="status-heading">
<h2 id="status-heading">Status</h2>
<p aria-live="polite"><span id="order-status" class="status-badge" data-order-status=""></span></p>
<p id="order-next" class="muted"></p>
<div id="order-problem" class="message error" hidden></div>
<div id="order-refund" class="message note" hidden></div>
<div id="cancel-box" hidden>
<button type="button" class="danger" id="cancel-order">Cancel order</button>
<div id="cancel-confirm" hidden><p>Cancel this order? Any payment is refunded.</p>
<div class="actions"><button type="button" class="danger" id="cancel-yes">Yes, cancel it</button><button type="button" class="secondary" id="cancel-no">Keep my order</button></div></div>
</div>
<div id="cancel-message" class="message" role="status" tabindex="-1" hidden></div>
</section>
<section class="card" aria-labelledby="what-heading">
<h2 id="what-heading">Your stickers</h2>
<dl class="facts" id="order-facts"></dl>
</section>
<section class="card" id="tracking" aria-labelledby="tracking-heading" hidden>
<h2 id="tracking-heading">Tracking</h2>
<dl class="facts" id="tracking-facts"></dl>
</section>
<section class="card" aria-labelledby="timeline-heading">
<h2 id="timeline-heading">Timeline</h2>
<ol id="timeline" class="timeline" aria-labelledby="timeline-heading"></ol>
</section>
<section class="card" id="private-link-card" aria-labelledby="link-heading">
<h2 id="link-heading">Keep this private link</h2>
<p class="muted">It is the only way back to this order. Anyone with it can see and cancel the order.</p>
<label class="label" for="private-link">Private link</label>
<div class="share"><input type="url" id="private-link" readonly><button type="button" class="secondary" id="copy-private-link">Copy</button></div>
</section>
</div>`,
  });
}

export function notFoundPage(what: string): string {
  return renderPage({
    title: 'Not found',
    narrow: true,
    main: `<div class="card"><h1>We could not find that ${escapeHtml(what)}</h1>
<p class="muted">Check the link you followed, or start again with a new photo.</p>
<p><a class="button" href="/">Make a buddy</a></p></div>`,
  });
}
