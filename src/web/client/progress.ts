/**
 * The progress page (`/animations/:id`): follows `GET /api/animations/:id/events` (server-sent
 * events, replayed from the start, so a late page sees every step), then reads the finished
 * animation from `GET /api/animations/:id` and plays it over a checkerboard. When the stream
 * cannot be kept open it falls back to polling the status. An animation the API no longer knows
 * (404, e.g. removed after its retention) is final; any other failure is said and retried, less
 * and less often.
 */
import type { ProgressEvent, StepStatus } from '../../workflows/shared/progress.js';
import { apiMessage, byId, isHttpUrl, NETWORK_ERROR, say, wireCopy } from './common.js';
import { showsTransparency } from './transparency.js';

/**
 * The API links assets absolutely (PUBLIC_URL), but this page is served by the same app under
 * whatever host name the browser used: keep the path, so the media stay within the page's CSP.
 */
function sameSite(url: string): string {
  const u = new URL(url, location.href);
  return u.pathname + u.search;
}

/** `GET /api/animations/:id` (PRODUCT.md §4). */
interface AnimationView {
  id: string;
  status: 'running' | 'succeeded' | 'failed';
  step?: string;
  steps: Array<{ name: string; status: StepStatus; attempts: number }>;
  charge?: { credits: number; balanceAfter: number };
  refund?: { status: 'not_needed' | 'pending' | 'failed' | 'refunded' | 'nothing_charged'; error?: string; amount?: number; balanceAfter?: number };
  assets: { webm?: string; webp?: string; gif?: string; poster?: string };
  viewerUrl: string;
  error?: { step: string; message: string };
}

const root = byId('animation-page');
const id = root.dataset.animationId!;
const api = `/api/animations/${encodeURIComponent(id)}`;
const heading = root.querySelector('h1')!;
const summary = byId('summary');
const list = byId<HTMLOListElement>('steps');
const failure = byId('failure');

const STATE_TEXT: Record<StepStatus, string> = { pending: 'Waiting', running: 'Working…', succeeded: 'Done', failed: 'Failed', skipped: 'Not needed' };

function stepItem(name: string): HTMLLIElement {
  const found = [...list.querySelectorAll<HTMLLIElement>('li[data-step]')].find((li) => li.dataset.step === name);
  if (found) return found;
  const li = document.createElement('li');
  li.dataset.step = name;
  const label = document.createElement('span');
  label.className = 'step-name';
  label.textContent = name;
  const state = document.createElement('span');
  state.className = 'step-state';
  li.append(label, state);
  list.append(li);
  return li;
}

const labelOf = (name: string) => stepItem(name).querySelector('.step-name')?.textContent ?? name;

function setStep(name: string, status: StepStatus) {
  const li = stepItem(name);
  li.dataset.status = status;
  li.querySelector('.step-state')!.textContent = STATE_TEXT[status] ?? status;
  const items = [...list.querySelectorAll<HTMLLIElement>('li[data-step]')];
  const running = items.findIndex((i) => i.dataset.status === 'running');
  if (running >= 0) say(summary, `Step ${running + 1} of ${items.length}: ${labelOf(items[running]!.dataset.step!)}…`);
}

let finished = false;
let timer: ReturnType<typeof setTimeout> | undefined;
const RETRY_FIRST_MS = 3000;
const RETRY_MAX_MS = 30_000;
let retryMs = RETRY_FIRST_MS;
let retrying = false;

function checkAgainIn(ms: number) {
  clearTimeout(timer);
  timer = setTimeout(() => void finish(), ms);
}

/** Says why the status could not be read, and tries again later: 3 s, then twice as long each time, up to 30 s. */
function retry(why: string) {
  const seconds = Math.round(retryMs / 1000);
  say(summary, `${why} Trying again in ${seconds} seconds…`);
  retrying = true;
  checkAgainIn(retryMs);
  retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
}

async function finish() {
  if (finished) return;
  clearTimeout(timer);
  let view: AnimationView;
  try {
    const res = await fetch(api, { cache: 'no-store' });
    if (res.status === 404) return showGone();
    if (!res.ok) {
      const message = res.status < 500 ? await apiMessage(res) : undefined;
      return retry(`We could not get your buddy’s progress (${message ?? `error ${res.status}`}).`);
    }
    view = (await res.json()) as AnimationView;
  } catch {
    return retry(NETWORK_ERROR);
  }
  retryMs = RETRY_FIRST_MS;
  for (const s of view.steps) setStep(s.name, s.status);
  if (view.status === 'running') {
    if (retrying && !view.steps.some((s) => s.status === 'running')) say(summary, 'Working on your buddy…');
    retrying = false;
    checkAgainIn(1500); // the last event came before the status caught up, or the stream is gone
    return;
  }
  retrying = false;
  finished = true;
  if (view.status === 'succeeded') showBuddy(view);
  else showFailure(view);
}

/** The API does not know this animation (any more): nothing to wait for. */
function showGone() {
  finished = true;
  clearTimeout(timer);
  events?.close();
  heading.textContent = 'We could not find this buddy';
  say(summary, 'It no longer exists: buddies are removed some time after they are made, or the link is wrong.');
  const p = Object.assign(document.createElement('p'), { textContent: 'Start again with a new photo to make another buddy.' });
  const again = Object.assign(document.createElement('a'), { href: '/', textContent: 'Try another photo' });
  failure.replaceChildren(p, again);
  failure.hidden = false;
}

function showBuddy(view: AnimationView) {
  heading.textContent = 'Your buddy is ready!';
  say(summary, 'Here it is, moving. Order stickers of it, or share it with its viewer link.');
  const stage = byId('stage');
  const fallback = () => {
    if (!view.assets.webp) return;
    const img = document.createElement('img');
    img.src = sameSite(view.assets.webp);
    img.alt = 'Your buddy, animated';
    stage.replaceChildren(img);
  };
  const video = document.createElement('video');
  // Transparent VP9 WebM where the browser plays it; the animated WebP everywhere else.
  if (view.assets.webm && video.canPlayType('video/webm; codecs="vp9"')) {
    for (const attr of ['autoplay', 'loop', 'muted', 'playsinline']) video.setAttribute(attr, '');
    video.muted = true;
    video.setAttribute('aria-label', 'Your buddy, animated');
    if (view.assets.poster) video.poster = sameSite(view.assets.poster);
    video.addEventListener('error', fallback, { once: true });
    // Safari plays VP9 without its alpha: an opaque box is not the buddy, show the WebP.
    video.addEventListener('loadeddata', () => showsTransparency(video) || fallback(), { once: true });
    video.src = sameSite(view.assets.webm);
    stage.replaceChildren(video);
  } else {
    fallback();
  }
  const link = byId<HTMLInputElement>('viewer-link');
  link.defaultValue = view.viewerUrl;
  wireCopy(byId<HTMLButtonElement>('copy-viewer-link'), link);
  const open = byId<HTMLAnchorElement>('viewer-open');
  if (isHttpUrl(view.viewerUrl)) open.href = view.viewerUrl;
  const result = byId('result');
  result.hidden = false;
  result.setAttribute('data-animation-ready', '');
}

function refundText(view: AnimationView): string {
  switch (view.refund?.status) {
    case 'refunded':
      return `Your credit was refunded${view.refund.balanceAfter !== undefined ? `: you now have ${view.refund.balanceAfter}` : ''}.`;
    case 'pending':
      return 'Your credit is being refunded.';
    case 'failed':
      return 'Your credit could not be refunded yet; we have been told and will put it right.';
    default:
      return 'No credit was taken.';
  }
}

function showFailure(view: AnimationView) {
  heading.textContent = 'We could not make this buddy';
  say(summary, 'Something went wrong while making your buddy.');
  const why = view.error ? `${labelOf(view.error.step)} failed: ${view.error.message}` : 'It could not be finished.';
  failure.replaceChildren();
  const p = (text: string) => Object.assign(document.createElement('p'), { textContent: text });
  const again = Object.assign(document.createElement('a'), { href: '/', textContent: 'Try another photo' });
  failure.append(p(why), p(refundText(view)), again);
  failure.hidden = false;
}

let events: EventSource | undefined;

function follow() {
  const stream = new EventSource(`${api}/events`);
  events = stream;
  stream.addEventListener('progress', (e) => {
    const event = JSON.parse((e as MessageEvent<string>).data) as ProgressEvent;
    if (event.type === 'step' && event.step) setStep(event.step, event.status as StepStatus);
  });
  stream.addEventListener('finished', () => {
    stream.close();
    void finish();
  });
  stream.addEventListener('open', () => {
    if (summary.textContent === 'Connecting…' || summary.textContent === 'Reconnecting…') say(summary, 'Starting…');
  });
  stream.addEventListener('error', () => {
    if (finished) return;
    if (stream.readyState === EventSource.CLOSED) {
      // The stream was refused: read the status instead, which also retries until it is over.
      void finish();
    } else {
      say(summary, 'Reconnecting…');
    }
  });
}

follow();
