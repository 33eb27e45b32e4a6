/**
 * The HTML shell every page shares — the shop's pages and the local provider's checkout — the
 * escaping helpers, re-exported from `src/text/html.ts` (every value that goes into HTML goes
 * through `escapeHtml`, or `safeHref` for links) and `sendHtml`, which answers with a page. No inline script or style attribute anywhere:
 * the Content-Security-Policy allows scripts and styles from our own origin only.
 */
import type { Context } from 'koa';
import { escapeHtml, safeHref } from '../text/html.js';
import { staticAssets } from './assets.js';

export { escapeHtml, safeHref };

export interface Shell {
  /** The page's own title; " · stickerflow" is added. */
  title: string;
  /** The inside of <main>: HTML, already escaped. */
  main: string;
  /** URLs of module scripts (from siteAssets()). */
  scripts?: string[];
  /** A badge next to the brand, e.g. "Test payment". */
  badge?: string;
  /** Narrow single-card pages (checkout, errors). */
  narrow?: boolean;
  /**
   * Self-contained: the stylesheet inline (allowed by its hash: `staticAssets().stylesheet
   * .inlineSource`) and no other request — for pages served by other routers with their own CSP.
   */
  selfContained?: boolean;
  /** Keep search engines away (private and one-off pages). */
  noindex?: boolean;
}

export function renderPage(shell: Shell): string {
  const { stylesheet, icon } = staticAssets();
  const head = [
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    '<meta name="color-scheme" content="light">',
    shell.noindex ? '<meta name="robots" content="noindex">' : '',
    `<title>${escapeHtml(shell.title)} · stickerflow</title>`,
    shell.selfContained
      ? `<style>${stylesheet.css}</style>`
      : `<link rel="stylesheet" href="${stylesheet.url}"><link rel="icon" href="${icon.url}" type="image/svg+xml">`,
    ...(shell.scripts ?? []).map((src) => `<script type="module" src="${escapeHtml(src)}"></script>`),
  ].filter(Boolean);
  return `<!doctype html>
<html lang="en">
<head>
${head.join('\n')}
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header">
<a class="brand" href="/">${icon.svg}<span>stickerflow</span></a>
${shell.badge ? `<span class="badge">${escapeHtml(shell.badge)}</span>` : '<nav class="site-nav" aria-label="Main"><a href="/">Make a buddy</a></nav>'}
</header>
<main id="main" tabindex="-1"${shell.narrow ? ' class="narrow"' : ''}>
${shell.main}
</main>
<footer class="site-footer"><p>stickerflow turns a photo into a moving sticker buddy. Scan a sticker's QR code to watch it move.</p></footer>
</body>
</html>
`;
}

export interface SendHtmlOptions {
  /**
   * A page whose URL is a key (an order, a checkout session): never stored by a cache, never sent
   * on as a Referer. Otherwise the page is revalidated on every visit (its assets are named by
   * content hash, so they never need to be).
   */
  private?: boolean;
  /** A Content-Security-Policy of its own, replacing the default one (self-contained pages). */
  csp?: string;
  /** Another Cache-Control than the above (the viewer lets a finished buddy's page be cached). */
  cache?: string;
  /** Kept out of search engines (the page's URL is a key even when it may be cached). */
  noindex?: boolean;
}

/** Answers with an HTML page and the headers every page gets. */
export function sendHtml(ctx: Context, status: number, html: string, opts: SendHtmlOptions = {}) {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set({
    'cache-control': opts.cache ?? (opts.private ? 'no-store' : 'no-cache'),
    ...(opts.private ? { 'referrer-policy': 'no-referrer' } : {}),
    ...(opts.csp ? { 'content-security-policy': opts.csp } : {}),
    ...(opts.noindex ? { 'x-robots-tag': 'noindex' } : {}),
    'x-content-type-options': 'nosniff',
  });
  ctx.body = html;
}
