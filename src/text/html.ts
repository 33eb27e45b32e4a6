/**
 * Escaping for HTML, shared by the pages and the emails: every value that goes into HTML goes
 * through `escapeHtml`, or `safeHref` for links. Kept apart from the web layer so the worker's
 * email code needs none of the page machinery (esbuild, assets).
 */
export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Only http(s) links are rendered as links. */
export const safeHref = (url: string) => (/^https?:\/\//i.test(url) ? escapeHtml(url) : '#');
