/**
 * The upload page (`/`): choose or drop a photo, see it, send it to `POST /api/animations`, go to
 * its progress page. Every refusal gets a clear message and keeps the chosen photo; a retry of
 * the same photo carries the same Idempotency-Key, so it never makes (or charges) two buddies.
 * Credit packs (`GET /api/credit-packs`) are offered up front when the shopper has no credit (or
 * the upload answers 402), and behind a "Buy more credits" button otherwise; a pack's checkout
 * brings the shopper back to `/?purchase=…`, where the page waits for the credits to arrive.
 */
import type { presentPacks } from '../../credits/packs.js';
import { formatAmount } from '../../orders/catalog.js';
import { apiMessage, byId, NETWORK_ERROR, randomKey, say, SERVER_ERROR } from './common.js';

type Pack = ReturnType<typeof presentPacks>[number];

const form = byId<HTMLFormElement>('upload-form');
const input = byId<HTMLInputElement>('photo');
const dropzone = byId('dropzone');
const preview = byId<HTMLImageElement>('preview');
const error = byId('upload-error');
const credits = byId('credits');
const submit = byId<HTMLButtonElement>('upload-submit');
const maxBytes = Number(form.dataset.maxBytes) || Infinity;
const purchaseNote = byId('purchase-note');
const packsToggleRow = byId('packs-toggle-row');
const packsToggle = byId<HTMLButtonElement>('packs-toggle');
const packsSection = byId('packs');
const packsHeading = byId('packs-heading');
const packList = byId('pack-list');
const packsError = byId('packs-error');

let photo: File | undefined;
let previewUrl: string | undefined;
let idempotencyKey = randomKey();
/** The balance `/api/me` (or a 402) last told; undefined until known, or when it could not be read. */
let balance: number | undefined;
let balanceChecked = false;
/** The packs on sale here: none when the API sells none (or could not say). */
let packs: Pack[] = [];
let checkoutPath = '/api/credits/checkout';
/** Back from a pack's checkout: a balance of 0 means "not yet", not "buy some". */
let arriving = false;
/** The upload's alert says there is no credit left: the credits line would only repeat it. */
let refusedForCredit = false;

const megabytes = (bytes: number) => `${Math.floor(bytes / (1024 * 1024))} MB`;
const looksLikeImage = (f: File) => f.type.startsWith('image/') || /\.(heic|heif|avif)$/i.test(f.name);

function choose(file: File | undefined) {
  say(error);
  refusedForCredit = false;
  showBalance();
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = undefined;
  preview.hidden = true;
  photo = file;
  idempotencyKey = randomKey(); // a new photo is a new buddy
  if (!file) return;
  if (!looksLikeImage(file)) return say(error, `“${file.name}” is not a photo. Choose a JPEG, PNG or other image.`);
  if (file.size > maxBytes) return say(error, `This photo is too large (the limit is ${megabytes(maxBytes)}). Choose a smaller one.`);
  previewUrl = URL.createObjectURL(file);
  preview.src = previewUrl;
  preview.hidden = false;
}

// Some formats (HEIC) upload fine but cannot be previewed here.
preview.addEventListener('error', () => (preview.hidden = true));
input.addEventListener('change', () => choose(input.files?.[0]));

for (const type of ['dragenter', 'dragover'] as const) {
  dropzone.addEventListener(type, (e) => {
    e.preventDefault();
    dropzone.classList.add('dragging');
  });
}
dropzone.addEventListener('dragleave', (e) => {
  if (!dropzone.contains(e.relatedTarget as Node | null)) dropzone.classList.remove('dragging');
});
dropzone.addEventListener('drop', (e) => {
  e.preventDefault();
  dropzone.classList.remove('dragging');
  const files = e.dataTransfer?.files;
  if (!files?.length) return;
  try {
    input.files = files; // keeps the input and its label telling the truth
  } catch {
    // Older browsers: the photo is still kept below.
  }
  choose(files[0]);
});
// A photo dropped beside the zone must not navigate away from the page.
for (const type of ['dragover', 'drop'] as const) window.addEventListener(type, (e) => e.preventDefault());

function retryAfter(res: Response): string {
  const header = res.headers.get('retry-after');
  if (!header) return 'in a little while';
  let seconds = Number(header);
  if (!Number.isFinite(seconds)) seconds = (Date.parse(header) - Date.now()) / 1000;
  if (!Number.isFinite(seconds) || seconds <= 1) return 'in a moment';
  if (seconds < 90) return `in ${Math.ceil(seconds)} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return `in ${minutes} minute${minutes === 1 ? '' : 's'}`;
}

async function refusal(res: Response): Promise<string> {
  const message = await apiMessage(res);
  switch (res.status) {
    case 400:
      return `That did not work: ${message ?? 'the upload had no photo'}. Choose a photo and try again.`;
    case 413:
      return `This photo is too large (the limit is ${megabytes(maxBytes)}). Choose a smaller one.`;
    case 415:
      return `We cannot use this file: ${message ?? 'it is not a photo we can read'}. Try a JPEG or PNG.`;
    case 402:
      return `You have no credits left: making a buddy uses one.${packs.length ? ' Buy a pack below to go on.' : ''}`;
    case 429:
      // Too many uploads, or too many new shoppers, from this address: true of both.
      return `We are getting a lot of buddies from your network just now. Please try again ${retryAfter(res)}.`;
    default:
      return res.status < 500 && message ? message : SERVER_ERROR;
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Reads the balance and shows it; undefined when it cannot be read. */
async function readBalance(): Promise<number | undefined> {
  try {
    const res = await fetch('/api/me', { credentials: 'same-origin' });
    balance = res.ok ? ((await res.json()) as { credits: number }).credits : undefined;
  } catch {
    balance = undefined;
  }
  balanceChecked = true;
  showBalance();
  return balance;
}

function showBalance() {
  if (balanceChecked) {
    let line: string | undefined;
    if (balance === undefined || (balance === 0 && refusedForCredit)) line = undefined;
    else if (balance > 0) line = `You have ${plural(balance, 'credit')} left. Making a buddy uses one.`;
    else if (arriving) line = 'You have no credits yet.';
    else line = packs.length ? 'You have no credits left: buy a pack below to make a buddy.' : 'You have no credits left.';
    // The line is a live region: said again unchanged (each poll), it would be read out again.
    if (line !== (credits.hidden ? undefined : credits.textContent)) say(credits, line);
  }
  showPacks();
}

/** Up front with no credit left; otherwise behind the "Buy more credits" button, as the shopper left it. */
function showPacks() {
  const needed = balance === 0 && !arriving;
  packsToggleRow.hidden = !packs.length || needed || !balanceChecked;
  packsSection.hidden = !packs.length || (!needed && packsToggle.getAttribute('aria-expanded') !== 'true');
}

packsToggle.addEventListener('click', () => {
  packsToggle.setAttribute('aria-expanded', String(packsToggle.getAttribute('aria-expanded') !== 'true'));
  showPacks();
});

/** Takes the packs from the API's answer (the catalogue or a 402), when it lists any. */
function offer(body: { packs?: unknown; checkout?: unknown }) {
  if (!Array.isArray(body.packs)) return;
  packs = body.packs as Pack[];
  // Our own API names the route; anything but a path of this site is ignored.
  if (typeof body.checkout === 'string' && /^\/(?!\/)/.test(body.checkout)) checkoutPath = body.checkout;
  const each = (p: Pack) => p.priceCents / p.credits;
  const dearest = Math.max(...packs.map(each));
  packList.replaceChildren(
    ...packs.map((p) => {
      const item = document.createElement('li');
      item.className = 'pack';
      const line = (className: string, text: string) => Object.assign(document.createElement('p'), { className, textContent: text });
      const details = line('pack-each', `${formatAmount(Math.round(each(p)), p.currency)} a buddy`);
      const saving = Math.round((1 - each(p) / dearest) * 100);
      if (saving >= 5) details.append(' ', Object.assign(document.createElement('span'), { className: 'pack-save', textContent: `save ${saving}%` }));
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary';
      button.dataset.pack = p.id;
      labelBuy(button, p);
      item.append(line('pack-credits', plural(p.credits, 'credit')), line('pack-price', p.price), details, button);
      return item;
    }),
  );
  showBalance();
}

/** "Buy" to the eye; "Buy 20 credits" to a screen reader, which hears the buttons one by one. */
function labelBuy(button: HTMLButtonElement, pack: Pack) {
  const rest = Object.assign(document.createElement('span'), { className: 'visually-hidden', textContent: ` ${plural(pack.credits, 'credit')}` });
  button.replaceChildren('Buy', rest);
}

async function loadPacks() {
  try {
    const res = await fetch('/api/credit-packs', { credentials: 'same-origin' });
    if (res.ok) offer((await res.json()) as { packs?: unknown; checkout?: unknown });
  } catch {
    // No packs shown: the page works without them, and a 402 brings them again.
  }
}

packList.addEventListener('click', (e) => {
  const button = (e.target as Element).closest<HTMLButtonElement>('button[data-pack]');
  const pack = packs.find((p) => p.id === button?.dataset.pack);
  if (button && pack) void buy(button, pack);
});

async function buy(button: HTMLButtonElement, pack: Pack) {
  say(packsError);
  let leaving = false;
  for (const b of packList.querySelectorAll('button')) b.disabled = true;
  button.textContent = 'Opening the checkout…';
  try {
    const res = await fetch(checkoutPath, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ pack: pack.id }),
      credentials: 'same-origin',
    });
    if (res.status === 201) {
      const { purchaseId, credits: bought, checkoutUrl } = (await res.json()) as { purchaseId: string; credits: number; checkoutUrl: string };
      rememberPurchase(purchaseId, bought);
      leaving = true;
      location.assign(checkoutUrl);
      return;
    }
    say(packsError, await checkoutRefusal(res));
  } catch {
    say(packsError, NETWORK_ERROR);
  } finally {
    if (!leaving) resetPacks();
  }
}

async function checkoutRefusal(res: Response): Promise<string> {
  const message = await apiMessage(res);
  switch (res.status) {
    case 400:
      return 'This pack is not on sale any more. Reload the page to see the packs on sale.';
    case 429:
      return `We are getting a lot of new shoppers from your network just now. Please try again ${retryAfter(res)}.`;
    case 503:
      return 'Credit packs cannot be bought here at the moment. Please try again later.';
    default:
      return res.status < 500 && message ? message : SERVER_ERROR;
  }
}

function resetPacks() {
  for (const b of packList.querySelectorAll<HTMLButtonElement>('button[data-pack]')) {
    const pack = packs.find((p) => p.id === b.dataset.pack);
    b.disabled = false;
    if (pack) labelBuy(b, pack);
  }
}

/**
 * What the page knew before leaving for a pack's checkout (kept for this tab only), so that back
 * on `/?purchase=…` it can tell when the credits have arrived. Storage may refuse: then the
 * return makes do without.
 */
const purchaseKey = (purchaseId: string) => `stickerflow:purchase:${purchaseId}`;

function rememberPurchase(purchaseId: string, bought: number) {
  try {
    sessionStorage.setItem(purchaseKey(purchaseId), JSON.stringify({ bought, before: balance }));
  } catch {
    // The return waits for any growth instead.
  }
}

function recallPurchase(purchaseId: string): { bought?: number; before?: number } {
  try {
    const saved = JSON.parse(sessionStorage.getItem(purchaseKey(purchaseId)) ?? 'null') as { bought?: unknown; before?: unknown } | null;
    sessionStorage.removeItem(purchaseKey(purchaseId));
    const count = (n: unknown) => (typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : undefined);
    return { bought: count(saved?.bought), before: count(saved?.before) };
  } catch {
    return {};
  }
}

/** The purchase's workflow adds the credits within a second or so; a late webhook can take longer. */
const QUICK_CHECKS_MS = 10_000;
const GIVE_UP_MS = 60_000;

/** Back from a pack's checkout: thanks, then the balance until the credits have arrived. */
async function welcomeBack(purchaseId: string) {
  const { bought, before } = recallPurchase(purchaseId);
  arriving = true;
  history.replaceState(null, '', location.pathname); // a reload later is a plain visit
  const expected = bought !== undefined && before !== undefined ? before + bought : undefined;
  const theyAre = bought === undefined ? 'Your new credits are' : bought === 1 ? 'Your credit is' : `Your ${bought} credits are`;
  const note = (kind: 'info' | 'success', text: string) => {
    purchaseNote.className = `message ${kind}`;
    say(purchaseNote, text);
  };
  note('info', 'Thank you! Adding your credits…');
  purchaseNote.focus();
  const started = Date.now();
  let first: number | undefined;
  let calm = false;
  for (;;) {
    const now = await readBalance();
    if (now !== undefined) {
      first ??= now;
      if (expected !== undefined ? now >= expected : now > first) return note('success', `Thank you! ${theyAre} here: you have ${plural(now, 'credit')}.`);
    }
    const elapsed = Date.now() - started;
    if (elapsed >= GIVE_UP_MS) return;
    if (elapsed >= QUICK_CHECKS_MS && !calm) {
      calm = true;
      // Without what the page knew before, the credits may well be in already: say so gently.
      note(
        'info',
        expected === undefined && now !== undefined
          ? `Thank you! You have ${plural(now, 'credit')}; if your new ones are not counted yet, they will appear in a moment.`
          : 'Thank you! Your payment is being confirmed: your credits will appear in a moment.',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, elapsed < QUICK_CHECKS_MS ? 1000 : 5000));
  }
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!photo) {
    say(error, 'Choose a photo first.');
    input.focus();
    return;
  }
  say(error);
  let leaving = false;
  submit.disabled = true;
  submit.textContent = 'Uploading…';
  try {
    const body = new FormData();
    body.append('photo', photo, photo.name);
    const res = await fetch('/api/animations', { method: 'POST', body, headers: { 'Idempotency-Key': idempotencyKey }, credentials: 'same-origin' });
    if (res.status === 202) {
      const { id } = (await res.json()) as { id: string };
      leaving = true;
      location.assign(`/animations/${encodeURIComponent(id)}`);
      return;
    }
    refusedForCredit = res.status === 402;
    if (refusedForCredit) {
      // The server knows best: no credit, whatever the page showed; its answer lists the packs.
      offer(((await res.clone().json().catch(() => ({}))) as { error?: { packs?: unknown; checkout?: unknown } }).error ?? {});
      balance = 0;
      balanceChecked = true;
      arriving = false;
    }
    showBalance();
    say(error, await refusal(res));
    if (res.status === 402 && packs.length) packsHeading.focus();
  } catch {
    say(error, `${NETWORK_ERROR} Your photo is still selected.`);
  } finally {
    if (!leaving) resetSubmit();
  }
});

function resetSubmit() {
  submit.disabled = false;
  submit.textContent = 'Make my buddy';
}

// Back from the progress page, the browser may restore this page as it was left: button disabled.
addEventListener('pageshow', (e) => {
  if (e.persisted) {
    resetSubmit();
    resetPacks();
  }
});

const purchase = new URLSearchParams(location.search).get('purchase');
void loadPacks();
void (purchase && /^[\w-]{1,64}$/.test(purchase) ? welcomeBack(purchase) : readBalance());
