/**
 * The upload page (`/`): choose or drop a photo, see it, send it to `POST /api/animations`, go to
 * its progress page. Every refusal gets a clear message and keeps the chosen photo; a retry of
 * the same photo carries the same Idempotency-Key, so it never makes (or charges) two buddies.
 */
import { apiMessage, byId, NETWORK_ERROR, randomKey, say, SERVER_ERROR } from './common.js';

const form = byId<HTMLFormElement>('upload-form');
const input = byId<HTMLInputElement>('photo');
const dropzone = byId('dropzone');
const preview = byId<HTMLImageElement>('preview');
const error = byId('upload-error');
const credits = byId('credits');
const submit = byId<HTMLButtonElement>('upload-submit');
const maxBytes = Number(form.dataset.maxBytes) || Infinity;

let photo: File | undefined;
let previewUrl: string | undefined;
let idempotencyKey = randomKey();

const megabytes = (bytes: number) => `${Math.floor(bytes / (1024 * 1024))} MB`;
const looksLikeImage = (f: File) => f.type.startsWith('image/') || /\.(heic|heif|avif)$/i.test(f.name);

function choose(file: File | undefined) {
  say(error);
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
      return 'You have no credits left: making a buddy uses one credit.';
    case 429:
      return `You have uploaded a lot of photos just now. Please try again ${retryAfter(res)}.`;
    default:
      return res.status < 500 && message ? message : SERVER_ERROR;
  }
}

async function showCredits() {
  try {
    const res = await fetch('/api/me', { credentials: 'same-origin' });
    if (!res.ok) return say(credits);
    const { credits: n } = (await res.json()) as { credits: number };
    say(credits, n > 0 ? `You have ${n} credit${n === 1 ? '' : 's'} left. Making a buddy uses one.` : 'You have no credits left.');
  } catch {
    say(credits);
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
    say(error, await refusal(res));
    if (res.status === 402) void showCredits();
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
  if (e.persisted) resetSubmit();
});

void showCredits();
