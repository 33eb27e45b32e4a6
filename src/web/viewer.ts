/**
 * The QR viewer, `/a/:token`: the page a sticker's QR code opens on a phone, and the buddy's files
 * under the same token. The token is the only key: nothing on the page or in its URLs names the
 * animation, the customer or an order.
 *
 * Fast by construction: a request costs one indexed database read (token → animation) and, until
 * an animation is known to be finished, a `stat` of its files; once all are there they never change
 * (fixed keys, written once by the transcode step), so finished animations are remembered in a
 * small in-process cache and later requests touch no storage. Temporal is asked only about an
 * animation whose files are not there yet — is it still being made, or did it fail? — and its
 * answer is kept for a few seconds, so a burst of scans does not become a burst of calls.
 *
 * The page plays the transparent WebM (VP9 with alpha) in a muted, looping, inline `<video>`. A
 * browser that cannot play it — or plays VP9 but drops the alpha (Safari: a black box) — gets the
 * animated WebP instead: after the first frame decodes, a script draws its corners onto a canvas;
 * opaque corners mean the alpha was lost. So the WebP is downloaded only where it is needed.
 * Without JavaScript, a `<noscript>` picture shows the WebP. Inline style and script are allowed
 * by their sha256 hashes in the page's own Content-Security-Policy, and nothing else is.
 */
import Router from '@koa/router';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import type { Context } from 'koa';
import { animationKey, FINISHED_FILES, VIEWER_TOKEN, type AnimationRecord, type AnimationRepository } from '../animations/repository.js';
import { BlobNotFoundError, type BlobInfo, type BlobStore, type ByteRange } from '../storage/port.js';
import { animationWorkflowId } from '../workflows/animation/api.js';
import { showsTransparency } from './client/transparency.js';
import { escapeHtml, sendHtml } from './layout.js';

export interface ViewerRoutesDeps {
  animations: AnimationRepository;
  blobs: BlobStore;
  /** The site's public origin (no trailing slash): Open Graph tags need absolute URLs. */
  publicUrl: string;
  /** Tells "still being made" from "failed" for animations whose files are not there yet. */
  temporal?: Client;
  /** How long an answer about an unfinished animation is reused. */
  pendingCacheMs?: number;
  /** How many finished animations are remembered. */
  readyCacheSize?: number;
}

/**
 * The files the viewer serves, by their name under the token, with their blob names and types:
 * the finished buddy and nothing else. The only public files the app has: the API links these.
 */
export const VIEWER_FILES = {
  [FINISHED_FILES.webm]: { blob: FINISHED_FILES.webm, type: 'video/webm' },
  [FINISHED_FILES.webp]: { blob: FINISHED_FILES.webp, type: 'image/webp' },
  [FINISHED_FILES.gif]: { blob: FINISHED_FILES.gif, type: 'image/gif' },
  [FINISHED_FILES.poster]: { blob: FINISHED_FILES.poster, type: 'image/png' },
} as const;
type FileName = keyof typeof VIEWER_FILES;
const FILE_NAMES = Object.keys(VIEWER_FILES) as FileName[];

interface Ready {
  kind: 'ready';
  animationId: string;
  files: Record<FileName, { bytes: number; etag: string }>;
  width: number;
  height: number;
}
type State = Ready | { kind: 'missing' } | { kind: 'pending' } | { kind: 'failed' };

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64');

// ---- The page ------------------------------------------------------------------------------------

export const VIEWER_CSS = `*{box-sizing:border-box}
html{height:100%}
body{margin:0;min-height:100%;min-height:100dvh;display:flex;flex-direction:column;align-items:center;justify-content:center;gap:14px;
padding:20px 16px calc(20px + env(safe-area-inset-bottom));text-align:center;color:#3b2a33;
font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:#ffd6b0 radial-gradient(circle at 50% 36%,#fffaf0 0,#ffe3c2 38%,#ffc4b3 72%,#f4a3b4 100%) fixed}
.stage{position:relative;width:min(92vw,64vh,640px);width:min(92vw,64dvh,640px);aspect-ratio:1}
.stage::after{content:"";position:absolute;left:24%;right:24%;bottom:2%;height:5%;border-radius:50%;background:#5a2d4a;opacity:.16;filter:blur(6px)}
.buddy{position:relative;z-index:1;display:block;width:100%;height:100%;object-fit:contain;background:transparent;-webkit-tap-highlight-color:transparent}
picture{display:contents}
h1{margin:0;font-size:1.3rem;letter-spacing:.01em}
p{margin:0;color:#6b4a58}
.cta{display:inline-block;margin-top:6px;padding:11px 22px;border-radius:999px;background:#3b2a33;color:#fff;font-weight:600;text-decoration:none}
.cta:focus-visible{outline:3px solid #fff;outline-offset:2px}
.note{max-width:26rem}`;

/** Hides the video where no script can check it (the `<noscript>` picture shows the WebP). */
export const VIEWER_NOSCRIPT_CSS = '#buddy{display:none}';

/**
 * Runs once at the end of the page. Marks `<html data-viewer="video|image">` when it has decided
 * (the browser tests read it). Reduced motion: the video stays on its first frame, the WebP is
 * replaced by the poster; a tap plays or pauses.
 */
export const VIEWER_SCRIPT = `(function(){
var showsTransparency=${showsTransparency.toString()};
var d=document,v=d.getElementById('buddy');if(!v)return;
var still=window.matchMedia&&matchMedia('(prefers-reduced-motion: reduce)').matches,done=false;
function mark(m){d.documentElement.setAttribute('data-viewer',m)}
function toImage(){if(done)return;done=true;
v.pause();while(v.firstChild)v.removeChild(v.firstChild);v.removeAttribute('src');v.load();
var p=d.createElement('picture'),s=d.createElement('source'),i=d.createElement('img');
s.media='(prefers-reduced-motion: reduce)';s.srcset=v.getAttribute('data-poster');p.appendChild(s);p.appendChild(i);
i.className='buddy';i.id='buddy-image';i.width=v.width;i.height=v.height;i.alt=v.getAttribute('aria-label')||'';
v.parentNode.replaceChild(p,v);i.src=v.getAttribute('data-webp');mark('image')}
function check(){if(done)return;
if(!showsTransparency(v))return toImage();
done=true;mark('video')}
if(!v.canPlayType||!v.canPlayType('video/webm; codecs="vp9"'))return toImage();
if(still){v.autoplay=false;v.pause()}
v.addEventListener('error',toImage);
var src=v.querySelector('source');if(src)src.addEventListener('error',toImage);
if(v.readyState>=2)check();else v.addEventListener('loadeddata',check);
v.addEventListener('click',function(){if(v.paused)v.play().catch(function(){});else v.pause()})
})();`;

const STYLE_HASH = `'sha256-${sha256(VIEWER_CSS)}'`;
const NOSCRIPT_STYLE_HASH = `'sha256-${sha256(VIEWER_NOSCRIPT_CSS)}'`;
const SCRIPT_HASH = `'sha256-${sha256(VIEWER_SCRIPT)}'`;

/** The players' page: its own style and script by hash, media and images from this origin. */
export const VIEWER_CSP = [
  "default-src 'none'",
  "img-src 'self' data:",
  "media-src 'self'",
  `style-src ${STYLE_HASH} ${NOSCRIPT_STYLE_HASH}`,
  `script-src ${SCRIPT_HASH}`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The other pages (on its way, not found, gone): style only. */
export const MESSAGE_CSP = ["default-src 'none'", "img-src data:", `style-src ${STYLE_HASH}`, "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"].join('; ');

const TITLE = 'A stickerflow buddy';
/** A tab icon in the page itself (the only `data:` image the CSP needs): no /favicon.ico request. */
const ICON = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="17" r="13" fill="#ff7a3d"/><circle cx="11.5" cy="14" r="2" fill="#3b2a33"/><circle cx="20.5" cy="14" r="2" fill="#3b2a33"/></svg>')}`;
const DESCRIPTION = 'An animated cartoon buddy, straight from a sticker. Make your own from a photo.';

function layout(title: string, head: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer"><meta name="theme-color" content="#ffd6b0">
<link rel="icon" href="${ICON}">
<title>${escapeHtml(title)}</title>
${head}<style>${VIEWER_CSS}</style></head>
<body>
${body}
</body></html>`;
}

const homeLink = '<a class="cta" href="/">Make your own</a>';

export function playerPage(publicUrl: string, token: string, ready: Ready): string {
  const base = `/a/${token}`;
  const abs = (p: string) => escapeHtml(`${publicUrl}${p}`);
  const url = (name: FileName) => escapeHtml(`${base}/${name}`);
  const { width, height } = ready;
  const alt = 'Animated cartoon buddy';
  const head = `<meta property="og:title" content="${TITLE}">
<meta property="og:description" content="${DESCRIPTION}">
<meta property="og:type" content="video.other">
<meta property="og:url" content="${abs(base)}">
<meta property="og:image" content="${abs(`${base}/poster.png`)}">
<meta property="og:image:type" content="image/png"><meta property="og:image:width" content="${width}"><meta property="og:image:height" content="${height}">
<meta property="og:image:alt" content="${alt}">
<meta property="og:video" content="${abs(`${base}/buddy.webm`)}">
<meta property="og:video:type" content="video/webm"><meta property="og:video:width" content="${width}"><meta property="og:video:height" content="${height}">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="${TITLE}"><meta name="twitter:description" content="${DESCRIPTION}">
<meta name="twitter:image" content="${abs(`${base}/poster.png`)}">
<noscript><style>${VIEWER_NOSCRIPT_CSS}</style></noscript>
`;
  const body = `<main class="stage">
<video id="buddy" class="buddy" autoplay loop muted playsinline disablepictureinpicture disableremoteplayback preload="auto" width="${width}" height="${height}" aria-label="${alt}" data-webp="${url('buddy.webp')}" data-poster="${url('poster.png')}"><source src="${url('buddy.webm')}" type="video/webm; codecs=vp9"></video>
<noscript><picture><source media="(prefers-reduced-motion: reduce)" srcset="${url('poster.png')}"><img class="buddy" src="${url('buddy.webp')}" width="${width}" height="${height}" alt="${alt}"></picture></noscript>
</main>
<h1>Hello from your buddy!</h1>
<p>Made from a photo with stickerflow.</p>
${homeLink}
<script>${VIEWER_SCRIPT}</script>`;
  return layout(TITLE, head, body);
}

export function pendingPage(refreshSeconds: number): string {
  return layout(
    'Your buddy is on its way · stickerflow',
    `<meta http-equiv="refresh" content="${refreshSeconds}">\n`,
    `<h1>Your buddy is on its way</h1>
<p class="note">It is being drawn and animated right now. This page will show it as soon as it is ready.</p>
${homeLink}`,
  );
}

export const NOT_FOUND_PAGE = layout(
  'Not found · stickerflow',
  '',
  `<h1>Nothing to see here</h1>
<p class="note">This code does not lead to an animation. Check that the whole code was scanned.</p>
${homeLink}`,
);

export const GONE_PAGE = layout(
  'Not available · stickerflow',
  '',
  `<h1>This buddy is not available</h1>
<p class="note">Its animation could not be made.</p>
${homeLink}`,
);

/** Every viewer page: its own CSP; the token in the URL is the key, so never passed on as a Referer. */
const sendPage = (ctx: Context, status: number, html: string, opts: { csp: string; cache: string }) =>
  sendHtml(ctx, status, html, { ...opts, private: true, noindex: true });

// ---- Ranges ---------------------------------------------------------------------------------------

/**
 * One byte range of a `size`-byte file from a Range header (RFC 9110 §14.1.2): a range, 'none'
 * when the header should be ignored (not bytes, several ranges, malformed), or 'unsatisfiable'.
 */
export function parseRange(header: string, size: number): ByteRange | 'none' | 'unsatisfiable' {
  const m = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return 'none';
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? Infinity : Number(m[2]);
  if (end < start) return 'none';
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** Width and height from a PNG's header (its first 24 bytes). */
function pngSize(head: Buffer): { width: number; height: number } | undefined {
  if (head.length < 24 || head.readUInt32BE(0) !== 0x89504e47 || head.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
}

// ---- Routes ---------------------------------------------------------------------------------------

export function viewerRoutes(deps: ViewerRoutesDeps): Router {
  const router = new Router();
  const publicUrl = deps.publicUrl.replace(/\/+$/, '');
  const pendingMs = deps.pendingCacheMs ?? 5000;
  const readyLimit = deps.readyCacheSize ?? 5000;
  const ready = new Map<string, Ready>();
  const unfinished = new Map<string, { state: State; until: number }>();

  const remember = (r: Ready) => {
    ready.set(r.animationId, r);
    if (ready.size > readyLimit) ready.delete(ready.keys().next().value!);
  };

  /** Finished: every file is there. Read once per animation (per process). */
  async function finished(record: AnimationRecord): Promise<Ready | undefined> {
    const known = ready.get(record.id);
    if (known) return known;
    const infos = await Promise.all(FILE_NAMES.map((n) => deps.blobs.stat(animationKey(record.id, VIEWER_FILES[n].blob))));
    if (infos.some((i) => !i || i.bytes === 0)) return undefined;
    const posterKey = animationKey(record.id, VIEWER_FILES['poster.png'].blob);
    const size = pngSize(await buffer(await deps.blobs.get(posterKey, { range: { start: 0, end: 23 } })));
    const files = Object.fromEntries(
      FILE_NAMES.map((n, i) => {
        const info = infos[i] as BlobInfo;
        // Names nothing: a digest of what identifies these bytes (their files never change).
        const etag = `"${createHash('sha256').update(`${record.id}/${n}/${info.bytes}`).digest('base64url').slice(0, 22)}"`;
        return [n, { bytes: info.bytes, etag }];
      }),
    ) as Ready['files'];
    const r: Ready = { kind: 'ready', animationId: record.id, files, width: size?.width ?? 512, height: size?.height ?? 512 };
    remember(r);
    unfinished.delete(record.id);
    return r;
  }

  /** Not finished: still being made, or failed? Asked of Temporal at most every few seconds. */
  async function progress(record: AnimationRecord): Promise<State> {
    const cached = unfinished.get(record.id);
    if (cached && cached.until > Date.now()) return cached.state;
    let state: State = { kind: 'pending' };
    if (record.status && record.status.status !== 'running') {
      // Its record says it ended, and its files are not all there: failed (or removed since).
      state = { kind: 'failed' };
    } else if (deps.temporal) {
      try {
        const { status } = await deps.temporal.workflow.getHandle(animationWorkflowId(record.id)).describe();
        // Completed without its files (removed since?) is as unavailable as failed.
        if (status.name !== 'RUNNING' && status.name !== 'CONTINUED_AS_NEW') state = { kind: 'failed' };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) state = { kind: 'missing' };
        // Anything else (Temporal unreachable): say it is on its way; the page retries.
      }
    }
    unfinished.set(record.id, { state, until: Date.now() + pendingMs });
    if (unfinished.size > readyLimit) unfinished.delete(unfinished.keys().next().value!);
    return state;
  }

  async function resolve(token: string): Promise<State> {
    if (!VIEWER_TOKEN.test(token)) return { kind: 'missing' };
    const record = await deps.animations.getByViewerToken(token);
    if (!record) return { kind: 'missing' };
    return (await finished(record)) ?? (await progress(record));
  }

  const notFound = (ctx: Context) => sendPage(ctx, 404, NOT_FOUND_PAGE, { csp: MESSAGE_CSP, cache: 'no-store' });

  router.get('/a/:token', async (ctx) => {
    const token = ctx.params.token!;
    const state = await resolve(token);
    switch (state.kind) {
      case 'ready':
        return sendPage(ctx, 200, playerPage(publicUrl, token, state), { csp: VIEWER_CSP, cache: 'public, max-age=300' });
      case 'pending':
        return sendPage(ctx, 200, pendingPage(10), { csp: MESSAGE_CSP, cache: 'no-store' });
      case 'failed':
        return sendPage(ctx, 410, GONE_PAGE, { csp: MESSAGE_CSP, cache: 'no-store' });
      default:
        return notFound(ctx);
    }
  });

  router.get('/a/:token/:file', async (ctx) => {
    const { token, file } = ctx.params as { token: string; file: string };
    if (!Object.hasOwn(VIEWER_FILES, file)) return notFound(ctx);
    const state = await resolve(token);
    if (state.kind !== 'ready') return notFound(ctx);
    const name = file as FileName;
    const { bytes, etag } = state.files[name];
    const key = animationKey(state.animationId, VIEWER_FILES[name].blob);

    // Caching and validator headers go only on what succeeds: an error or a 416 cached for a year
    // (by a CDN in front of /a/) would break a URL printed on stickers.
    const cacheable = {
      'Cache-Control': 'public, max-age=31536000, immutable',
      ETag: etag,
      'Accept-Ranges': 'bytes',
    };
    ctx.set({ 'Referrer-Policy': 'no-referrer', 'X-Content-Type-Options': 'nosniff', 'Cross-Origin-Resource-Policy': 'same-origin' });
    ctx.set('ETag', etag);
    ctx.status = 200; // koa judges freshness only for a successful response
    if (ctx.fresh) {
      ctx.set(cacheable);
      ctx.status = 304;
      return;
    }
    ctx.remove('ETag');
    const header = ctx.get('range');
    const ifRange = ctx.get('if-range');
    const range = header && (!ifRange || ifRange === etag) ? parseRange(header, bytes) : 'none';
    if (range === 'unsatisfiable') {
      ctx.status = 416;
      ctx.set({ 'Content-Range': `bytes */${bytes}`, 'Cache-Control': 'no-store' });
      ctx.body = '';
      ctx.remove('Content-Type');
      return;
    }
    let body: Awaited<ReturnType<BlobStore['get']>> | undefined;
    if (ctx.method !== 'HEAD') {
      try {
        body = await deps.blobs.get(key, range === 'none' ? {} : { range });
      } catch (err) {
        if (!(err instanceof BlobNotFoundError)) throw err;
        ready.delete(state.animationId); // removed since: forget it was finished
        return notFound(ctx);
      }
    }
    ctx.status = range === 'none' ? 200 : 206;
    ctx.type = VIEWER_FILES[name].type;
    ctx.set(cacheable);
    if (range !== 'none') ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${bytes}`);
    ctx.length = range === 'none' ? bytes : range.end - range.start + 1;
    if (body) ctx.body = body;
  });

  return router;
}
