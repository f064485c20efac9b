// Builds the admin console: www/src/ → www/dist/_tollgate/console/ (index.html, app.js, app.css)
// and www/dist/_headers, served by Workers static assets (see `[assets]` in wrangler.toml).
//
// Offline and idempotent: esbuild is the one wrangler installed (node_modules/.bin/esbuild, or
// ESBUILD_BIN), the chart library comes from node_modules, and a file is only written when its
// content changed, by rename, so a `wrangler dev` that is serving the folder never sees half a
// file and an unchanged build touches nothing.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const WWW = dirname(fileURLToPath(import.meta.url));
const ROOT = join(WWW, '..');
const SRC = join(WWW, 'src');
const DIST = join(WWW, 'dist');
const CONSOLE = join(DIST, '_tollgate', 'console');
const ESBUILD = process.env.ESBUILD_BIN || join(ROOT, 'node_modules', '.bin', 'esbuild');

// Headers for every console file. The console needs nothing but its own origin: no inline
// script or style, no framing, no referrer that could carry a route.
const HEADERS = `/_tollgate/console/*
  Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'
  X-Content-Type-Options: nosniff
  X-Frame-Options: DENY
  Referrer-Policy: no-referrer
  Cache-Control: no-cache
`;

/** Writes `content` to `path` unless it is already there; returns whether it wrote. */
function put(path, content) {
  const bytes = Buffer.from(content);
  try {
    if (readFileSync(path).equals(bytes)) return false;
  } catch { /* not there yet */ }
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  return true;
}

const scratch = mkdtempSync(join(tmpdir(), 'tollgate-console-'));
try {
  execFileSync(ESBUILD, [
    join(SRC, 'app.js'),
    '--bundle',
    '--minify',
    '--format=esm',
    '--target=es2020',
    '--legal-comments=none',
    '--log-level=warning',
    `--outdir=${scratch}`,
  ], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 60_000 });

  const files = {
    'index.html': readFileSync(join(SRC, 'index.html')),
    'app.js': readFileSync(join(scratch, 'app.js')),
    'app.css': readFileSync(join(scratch, 'app.css')),
  };
  let changed = 0;
  for (const [name, content] of Object.entries(files)) changed += put(join(CONSOLE, name), content);
  changed += put(join(DIST, '_headers'), HEADERS);
  // Nothing else belongs in the console folder (a file renamed in a later version, say).
  for (const name of readdirSync(CONSOLE)) {
    if (!(name in files)) { rmSync(join(CONSOLE, name), { force: true, recursive: true }); changed++; }
  }

  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const total = Object.values(files).reduce((n, b) => n + b.length, 0);
  const gz = Object.values(files).reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0);
  console.log(`console: ${relative(ROOT, CONSOLE)}/ ${kb(total)} (${kb(gz)} gzipped), ${changed ? `${changed} file(s) written` : 'unchanged'}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
