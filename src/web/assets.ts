/**
 * The pages' static files, made in memory when the API starts and served at content-hashed URLs
 * (`/assets/<name>.<hash>.<ext>`, cached for a year): the browser code under client/ bundled by
 * esbuild, the one stylesheet and the icon. Nothing is written to disk, so `npm start` and
 * `npm test` need no build step of their own.
 */
import { build, transformSync } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  url: string;
  contentType: string;
  body: Buffer;
}

/** One bundle per page that runs code; each is served as `/assets/<entry>.<hash>.js`. */
export const CLIENT_ENTRIES = ['upload', 'progress', 'checkout', 'order'] as const;
export type ClientEntry = (typeof CLIENT_ENTRIES)[number];

/**
 * The sources: next to this module when it runs from src/ (tsx), else the project's src/web
 * (compiled to dist/, which holds no .ts or .css).
 */
const WEB_DIR = [fileURLToPath(new URL('.', import.meta.url)), fileURLToPath(new URL('../../src/web/', import.meta.url))].find((dir) =>
  existsSync(path.join(dir, 'site.css')),
)!;

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data);

function asset(name: string, ext: string, contentType: string, body: Buffer): Asset {
  return { url: `/assets/${name}.${sha256(body).digest('hex').slice(0, 16)}.${ext}`, contentType, body };
}

export interface StaticAssets {
  stylesheet: Asset & {
    css: string;
    /** The CSP source that allows exactly this stylesheet inline (for self-contained pages). */
    inlineSource: string;
  };
  icon: Asset & { svg: string };
}

let statics: StaticAssets | undefined;

/** The stylesheet and the icon: small and needed synchronously by every page, so read at first use. */
export function staticAssets(): StaticAssets {
  if (statics) return statics;
  const css = transformSync(readFileSync(path.join(WEB_DIR, 'site.css'), 'utf8'), { loader: 'css', minify: true }).code.trim();
  const svg = readFileSync(path.join(WEB_DIR, 'icon.svg'), 'utf8').trim();
  statics = {
    stylesheet: {
      ...asset('site', 'css', 'text/css; charset=utf-8', Buffer.from(css)),
      css,
      inlineSource: `'sha256-${sha256(css).digest('base64')}'`,
    },
    icon: { ...asset('icon', 'svg', 'image/svg+xml', Buffer.from(svg)), svg },
  };
  return statics;
}

export interface SiteAssets {
  /** The URL of each page's script. */
  scripts: Record<ClientEntry, string>;
  byUrl: Map<string, Asset>;
}

let bundling: Promise<SiteAssets> | undefined;

/** Every asset, the client bundles included; built once per process (again after a failure). */
export function siteAssets(): Promise<SiteAssets> {
  bundling ??= bundleAll().catch((err: unknown) => {
    bundling = undefined;
    throw err;
  });
  return bundling;
}

async function bundleAll(): Promise<SiteAssets> {
  const client = path.join(WEB_DIR, 'client');
  const result = await build({
    entryPoints: Object.fromEntries(CLIENT_ENTRIES.map((e) => [e, path.join(client, `${e}.ts`)])),
    tsconfig: path.join(client, 'tsconfig.json'),
    bundle: true,
    write: false,
    outdir: 'out',
    format: 'esm',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const scripts = {} as Record<ClientEntry, string>;
  const { stylesheet, icon } = staticAssets();
  const byUrl = new Map<string, Asset>([
    [stylesheet.url, stylesheet],
    [icon.url, icon],
  ]);
  for (const file of result.outputFiles) {
    const name = path.basename(file.path, '.js') as ClientEntry;
    const js = asset(name, 'js', 'text/javascript; charset=utf-8', Buffer.from(file.contents));
    scripts[name] = js.url;
    byUrl.set(js.url, js);
  }
  return { scripts, byUrl };
}
