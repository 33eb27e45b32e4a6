#!/usr/bin/env node
// Runs before `npm start` and `npm test` (their pre-scripts) with whatever Node the machine has:
// installs the npm dependencies when they are missing or older than package-lock.json (this also
// brings the pinned Node 22 that the scripts then run on), and the Debian packages it needs when
// they are missing (ffmpeg, poppler-utils; PostgreSQL's server and Chromium for tests). Everything else (Temporal CLI, Temporal test
// server, S3 server) is built into the tool cache by the code that first needs it.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const purpose = process.argv[2] ?? 'start';
const say = (m) => process.stdout.write(`[setup] ${m}\n`);

const lockHash = createHash('sha256').update(readFileSync('package-lock.json')).digest('hex');
const stamp = 'node_modules/.stickerflow-lock-hash';
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lockHash) {
  say('installing npm dependencies (npm ci)…');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  writeFileSync(stamp, lockHash);
}

{
  // Debian package → a file it installs, to tell whether it is present. ffmpeg makes the
  // animations and poppler-utils' pdftoppm rasterises print files for their preflight (start and
  // test); PostgreSQL's server and Chromium (browser tests) are for the tests.
  const wanted = {
    ffmpeg: '/usr/bin/ffmpeg',
    'poppler-utils': '/usr/bin/pdftoppm',
    ...(purpose === 'test' ? { postgresql: '/usr/lib/postgresql', chromium: '/usr/bin/chromium' } : {}),
  };
  const missing = Object.entries(wanted).filter(([, f]) => !existsSync(f)).map(([p]) => p);
  if (missing.length) {
    const root = process.getuid?.() === 0;
    if (!root || !existsSync('/usr/bin/apt-get')) {
      console.error(`Missing Debian packages: ${missing.join(' ')}\nInstall them: sudo apt-get install -y ${missing.join(' ')}`);
      process.exit(1);
    }
    say(`installing Debian packages: ${missing.join(' ')}`);
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
}
