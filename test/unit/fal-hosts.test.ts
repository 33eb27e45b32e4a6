/** Which hosts the fal back end may fetch from, and how FAL_RESULT_HOSTS and FAL_MAX_RESULT_MB are read. */
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { FalHosts, hostMatches } from '../../src/models/fal/hosts.js';
import type { ModelError } from '../../src/models/port.js';

const DEFAULT_HOSTS = loadConfig({ FAL_KEY: 'k:s' }).models.fal!.resultHosts;

describe('hostMatches', () => {
  it('a wildcard covers subdomains only, on a label boundary', () => {
    for (const host of ['v3.fal.media', 'v3b.fal.media', 'a.b.fal.media', 'V3.FAL.MEDIA', 'v3.fal.media.']) {
      expect(hostMatches('*.fal.media', host), host).toBe(true);
    }
    for (const host of ['fal.media', 'fal.media.evil.com', 'evilfal.media', 'v3.fal.media.evil.com', 'fal-media', '.fal.media']) {
      expect(hostMatches('*.fal.media', host), host).toBe(false);
    }
  });

  it('a plain name is that name and nothing under it', () => {
    expect(hostMatches('fal.media', 'fal.media')).toBe(true);
    expect(hostMatches('fal.media', 'v3.fal.media')).toBe(false);
    expect(hostMatches('fal.media', 'evilfal.media')).toBe(false);
  });
});

describe('FalHosts.check', () => {
  const hosts = new FalHosts(DEFAULT_HOSTS, 'http://127.0.0.1:4010');
  const refusal = (url: string, purposes: ('api' | 'file')[] = ['file']) => {
    try {
      hosts.check(new URL(url), purposes);
      return undefined;
    } catch (err) {
      return err as ModelError;
    }
  };

  it('lets results come from fal’s CDN over https', () => {
    expect(refusal('https://v3.fal.media/files/rabbit/x.png')).toBeUndefined();
    expect(refusal('https://v3b.fal.media/files/b/0a9f/x.webm')).toBeUndefined();
    expect(refusal('https://fal.media/files/x.png')).toBeUndefined();
  });

  it('refuses other hosts, plain http and credentials, naming the host but not the query', () => {
    const other = refusal('https://metadata.google.internal/computeMetadata/v1/?sig=secret');
    expect(other).toMatchObject({ type: 'ProviderHostRefused', retryable: false });
    expect(other!.message).toContain('metadata.google.internal');
    expect(other!.message).toContain('FAL_RESULT_HOSTS');
    expect(other!.message).not.toContain('secret');
    expect(refusal('http://v3.fal.media/files/x.png')!.message).toContain('only https: is allowed');
    expect(refusal('https://user:pw@v3.fal.media/files/x.png')!.message).toContain('credentials');
    expect(refusal('https://169.254.169.254/latest/meta-data/')).toMatchObject({ type: 'ProviderHostRefused' });
  });

  it('FAL_BASE_URL’s origin stands in for every fal host, and only that origin', () => {
    expect(refusal('http://127.0.0.1:4010/files/x')).toBeUndefined();
    expect(refusal('http://127.0.0.1:4010/queue', ['api'])).toBeUndefined();
    expect(refusal('http://127.0.0.1:4011/files/x')).toMatchObject({ type: 'ProviderHostRefused' });
    expect(refusal('http://localhost:4010/files/x')).toMatchObject({ type: 'ProviderHostRefused' });
  });

  it('keeps API calls and file downloads apart', () => {
    expect(refusal('https://queue.fal.run/fal-ai/x/requests/1', ['api'])).toBeUndefined();
    expect(refusal('https://queue.fal.run/fal-ai/x/requests/1', ['file'])).toMatchObject({ type: 'ProviderHostRefused' });
    expect(refusal('https://v3.fal.media/files/x.png', ['api'])).toMatchObject({ type: 'ProviderHostRefused' });
  });
});

describe('FalHosts.fetch', () => {
  it('never follows a redirect that would carry the key to another origin', async () => {
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(req.url!);
      if (req.url === '/start') res.writeHead(307, { location: 'https://v3.fal.media/collect' });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const keyed = new FalHosts(DEFAULT_HOSTS, base).fetch(`${base}/start`, { method: 'POST', headers: { Authorization: 'Key k:s' } });
      await expect(keyed).rejects.toMatchObject({ type: 'ProviderHostRefused', message: expect.stringContaining('not followed') });
      expect(hits).toEqual(['/start']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('FAL_RESULT_HOSTS and FAL_MAX_RESULT_MB', () => {
  const fal = (env: Record<string, string>) => loadConfig({ FAL_KEY: 'k:s', ...env }).models.fal!;

  it('default to fal’s CDN and 100 MB', () => {
    expect(fal({})).toMatchObject({ resultHosts: ['fal.media', '*.fal.media'], maxResultBytes: 100 * 1024 * 1024 });
  });

  it('read a comma-separated list of host names, each with an optional leading *.', () => {
    expect(fal({ FAL_RESULT_HOSTS: ' V3.fal.media , *.cdn.example.com,', FAL_MAX_RESULT_MB: '5' })).toMatchObject({
      resultHosts: ['v3.fal.media', '*.cdn.example.com'],
      maxResultBytes: 5 * 1024 * 1024,
    });
  });

  it('refuse URLs, bare or top-level wildcards, and a cap that is no cap', () => {
    for (const value of ['https://v3.fal.media', '*', '*.media', 'v3.*.media', 'fal.media:443', ',']) {
      expect(() => fal({ FAL_RESULT_HOSTS: value }), value).toThrow(/FAL_RESULT_HOSTS/);
    }
    expect(() => fal({ FAL_MAX_RESULT_MB: '0' })).toThrow(/FAL_MAX_RESULT_MB/);
  });
});
