/**
 * Where the fal back end may send a request: fal's API hosts for calls that carry the key, and
 * the configured file hosts (`FAL_RESULT_HOSTS`) for the results fal hands back and the upload
 * URLs it presigns. A URL in a job's output is data from the provider, not an address we chose:
 * fetched blindly it would let whoever controls that answer point our workers at any host,
 * internal ones included (SSRF).
 *
 * - Only `https:`, except on the origin of `FAL_BASE_URL` (the local fake in tests), which stands
 *   in for every fal host.
 * - No user name or password in a URL.
 * - Redirects are followed by hand, each hop checked like the first; a request carrying the key
 *   never follows one to another origin.
 * - Refusals name the host only: query strings of presigned URLs are secrets of their own.
 */
import { ModelError } from '../port.js';

/**
 * The hosts `@fal-ai/client` (1.10) sends queue and storage calls to: it builds every queue URL
 * itself as `https://queue.fal.run/<app>/requests/<id>/…` from the endpoint and the request id —
 * it never follows the `status_url` or `response_url` of an answer — and initiates uploads on
 * `rest.fal.ai`; fal's Python client uses `rest.alpha.fal.ai`.
 */
export const FAL_API_HOSTS = ['queue.fal.run', 'rest.fal.ai', 'rest.alpha.fal.ai'] as const;

/** More hops than a CDN needs; a loop ends here. */
const MAX_REDIRECTS = 5;

/**
 * Whether `hostname` is what `pattern` names: the same name, or for `*.example.com` a name with
 * at least one label in front of `.example.com`. Case and a trailing dot do not matter.
 */
export function hostMatches(pattern: string, hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  const want = pattern.toLowerCase();
  if (!want.startsWith('*.')) return host === want;
  const suffix = want.slice(1); // ".fal.media"
  return host.length > suffix.length && host.endsWith(suffix);
}

/** What a request is for: a call with the key to fal's API, or a file without it. */
type Purpose = 'api' | 'file';

export class FalHosts {
  private readonly baseOrigin?: string;

  constructor(
    private readonly fileHosts: readonly string[],
    baseUrl?: string,
  ) {
    this.baseOrigin = baseUrl ? new URL(baseUrl).origin : undefined;
  }

  /** Throws `ProviderHostRefused` unless `url` may be fetched for `purposes`. */
  check(url: URL, purposes: readonly Purpose[], what = 'fal handed us a URL'): void {
    const refuse = (why: string) => {
      throw new ModelError('ProviderHostRefused', `${what} on ${url.host || url.protocol}, ${why}; nothing was fetched from it`);
    };
    if (url.username || url.password) refuse('with credentials in it');
    if (this.baseOrigin && url.origin === this.baseOrigin) return;
    if (url.protocol !== 'https:') refuse(`over ${url.protocol} (only https: is allowed)`);
    const allowed =
      (purposes.includes('api') && FAL_API_HOSTS.some((h) => hostMatches(h, url.hostname))) ||
      (purposes.includes('file') && this.fileHosts.some((h) => hostMatches(h, url.hostname)));
    if (!allowed) {
      refuse(purposes.includes('file') ? `which is not one of fal's hosts (FAL_RESULT_HOSTS)` : `which is not fal's API`);
    }
  }

  /**
   * `fetch`, with every hop checked. A request with an `Authorization` header is an API call and
   * keeps to fal's API hosts and its own origin; one without may also reach the file hosts.
   * 301/302 turn a POST into a GET and 303 anything into one, as browsers do; 307/308 resend it.
   */
  async fetch(input: string | URL, init: RequestInit = {}, only?: Purpose): Promise<Response> {
    if (!URL.canParse(input)) throw new ModelError('ProviderHostRefused', 'fal handed us something that is not a URL; nothing was fetched');
    let url = new URL(input);
    const keyed = new Headers(init.headers).has('authorization');
    const purposes: Purpose[] = keyed ? ['api'] : only ? [only] : ['api', 'file'];
    let request: RequestInit = { ...init, redirect: 'manual' };
    for (let hop = 0; ; hop++) {
      this.check(url, purposes, hop === 0 ? (keyed ? 'a call to fal' : 'fal handed us a URL') : `fal redirected to a URL`);
      const res = await fetch(url, request);
      const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
      if (location === null) return res;
      await res.body?.cancel();
      const next = new URL(location, url);
      if (hop === MAX_REDIRECTS) throw new ModelError('ProviderHostRefused', `${url.host} redirected more than ${MAX_REDIRECTS} times`);
      if (keyed && next.origin !== url.origin) {
        throw new ModelError('ProviderHostRefused', `fal's API on ${url.host} redirected a call carrying our key to ${next.host}; not followed`);
      }
      const method = (request.method ?? 'GET').toUpperCase();
      if (res.status === 303 ? method !== 'HEAD' : (res.status === 301 || res.status === 302) && method === 'POST') {
        const headers = new Headers(request.headers);
        headers.delete('content-type');
        request = { ...request, method: 'GET', body: undefined, headers };
      }
      url = next;
    }
  }
}
