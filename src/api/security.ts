/**
 * Security by default for every response: the standard headers, and a Content-Security-Policy
 * that allows only this origin's own files (no inline code). A route that needs another policy
 * (the self-contained viewer and checkout pages) sets its own header, which replaces this one.
 */
import type { Middleware } from 'koa';

/** Pages load their scripts, styles, images and media from this origin only; nothing inline. */
export const DEFAULT_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export interface SecurityOptions {
  /** Served over HTTPS (PUBLIC_URL is https): browsers are told to come back only over HTTPS, cookies are Secure. */
  https: boolean;
}

export function securityHeaders(opts: SecurityOptions): Middleware {
  const headers: Record<string, string> = {
    'Content-Security-Policy': DEFAULT_CSP,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'strict-origin-when-cross-origin',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
    ...(opts.https ? { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' } : {}),
  };
  return async (ctx, next) => {
    ctx.set(headers);
    // Cookies are Secure whenever the site is HTTPS, also where TLS ends at a proxy that is not
    // trusted (where `ctx.secure` would say plain HTTP); routes set `secure: ctx.cookies.secure`.
    if (opts.https) ctx.cookies.secure = true;
    await next();
  };
}
