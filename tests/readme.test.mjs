// The README as a newcomer reads it: `make dev` started as the README says, then every `curl`
// example of the README run with the shell and curl, each checked against the status (or the
// output) and the headers its comment states. A README that drifts from the product fails here.
//
// Example format, in ```sh blocks: a comment line, then the command (continued with `\`).
//   # 200: what it shows; headers: x-rate-limit-limit, ratelimit   -> status and headers checked
//   # prints 200 200 429: what it shows                              -> the command's output checked
// Lines such as `source demo/demo.vars` in a block run before each of its examples.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { join } from 'node:path';

import { chromium } from 'playwright-core';
import { TwitterApi, ApiResponseError } from 'twitter-api-v2';

import { ROOT, clearOfWindowEnd, demoToken, freePort } from './harness.mjs';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** Every example of the README: its block's setup lines, its comment, its command. */
export function examples(text) {
  const found = [];
  for (const [, body] of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = body.split('\n');
    if (!lines.some(isExample)) continue;
    const setup = lines.filter((l) => /^(source |export |[A-Z_]+=)/.test(l));
    for (let i = 0; i < lines.length; i++) {
      const comment = lines[i].match(/^# (?:prints (.+?)|(\d{3})\b.*?)(?::|$)/);
      if (!comment || !isExample(lines[i + 1] ?? '')) continue;
      let command = lines[++i];
      while (command.endsWith('\\')) command = `${command.slice(0, -1)}${lines[++i].trimStart()}`;
      found.push({
        comment: comment.input,
        prints: comment[1] ?? null,
        status: comment[2] ? Number(comment[2]) : null,
        headers: (comment.input.match(/headers: ([a-z0-9, -]+)$/)?.[1] ?? '').split(',').map((h) => h.trim()).filter(Boolean),
        setup,
        command,
      });
    }
  }
  return found;
}

/** A line that starts an example: a curl command, or a loop of them. */
const isExample = (line) => /^(curl |for .*curl )/.test(line);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let dev;
let output = '';
let port;
let originPort;
let state;

function bash(script, ms = 30_000) {
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { cwd: ROOT, timeout: ms, env: { PATH: process.env.PATH, HOME: process.env.HOME } },
      (error, stdout, stderr) => resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }));
  });
}

/** The command as the README writes it, pointed at this run's ports. */
const local = (command) => command.replaceAll('127.0.0.1:8787', `127.0.0.1:${port}`).replaceAll('127.0.0.1:8788', `127.0.0.1:${originPort}`);

before(async () => {
  port = await freePort();
  originPort = await freePort();
  const inspector = await freePort();
  state = mkdtempSync(join(tmpdir(), 'tollgate-readme-'));
  // `make dev` as a user runs it, with this run's ports and a state folder of its own. The worker
  // was built by `make test` before the end-to-end tests started.
  dev = spawn('make', ['--no-print-directory', 'dev', `PORT=${port}`, `ORIGIN_PORT=${originPort}`], {
    cwd: ROOT,
    env: { ...process.env, TOLLGATE_STATE: state, INSPECTOR_PORT: String(inspector), TOLLGATE_PREBUILT: '1' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev.stdout.setEncoding('utf8');
  dev.stderr.setEncoding('utf8');
  dev.stdout.on('data', (d) => { output += d; });
  dev.stderr.on('data', (d) => { output += d; });
  const deadline = Date.now() + 150_000;
  for (;;) {
    if (dev.exitCode !== null) throw new Error(`make dev exited with ${dev.exitCode}:\n${output}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
      await fetch(`http://127.0.0.1:${originPort}/__origin/stats`, { signal: AbortSignal.timeout(2000) });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`make dev did not answer in time:\n${output}`);
      await sleep(250);
    }
  }
}, { timeout: 200_000 });

after(async () => {
  if (dev && dev.exitCode === null) {
    const exited = new Promise((r) => dev.once('exit', r));
    // make leads its own process group: this reaches the origin, wrangler and workerd, and nothing else.
    try { process.kill(-dev.pid, 'SIGTERM'); } catch { /* gone */ }
    await Promise.race([exited, sleep(8000)]);
    try { process.kill(-dev.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  if (state) rmSync(state, { recursive: true, force: true });
});

describe('make dev and the README', () => {
  test('the startup message names the console, the demo secret and lines to try', () => {
    const vars = readFileSync(join(ROOT, 'demo/demo.vars'), 'utf8');
    const secret = vars.match(/^ADMIN_SECRET="([^"]+)"/m)[1];
    assert.match(output, new RegExp(`Admin console: +http://127\\.0\\.0\\.1:${port}/_tollgate/console/`));
    assert.match(output, new RegExp(`Admin secret: +${secret} +\\(DEMO ONLY`));
    assert.ok(output.includes(`curl -si 'http://127.0.0.1:${port}/2/tweets/search/recent?query=edge' -H 'Authorization: Bearer ${demoToken('acme-search')}'`));
  });

  const found = examples(README);

  test('the README has the examples this test runs', () => {
    // Every curl line in an example block is an example with a stated outcome.
    const curlLines = README.split('\n').filter(isExample).length;
    assert.equal(found.length, curlLines, 'a curl line in the README has no status comment above it');
    assert.ok(found.length >= 15, `only ${found.length} examples`);
  });

  for (const example of found) {
    test(`README: ${example.comment}`, async () => {
      const setup = local(example.setup.join('\n'));
      if (example.prints !== null) {
        const res = await bash(`${setup}\n${local(example.command)}`);
        assert.equal(res.code, 0, res.stderr);
        assert.equal(res.stdout.trim().replace(/\s+/g, ' '), example.prints, example.command);
        return;
      }
      const headerFile = join(state, 'headers.txt');
      const res = await bash(`${setup}\n${local(example.command)} -o /dev/null -D '${headerFile}' -w '\\n%{http_code}'`);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(Number(res.stdout.trim().split('\n').at(-1)), example.status, example.command);
      const headers = readFileSync(headerFile, 'utf8').toLowerCase();
      for (const name of example.headers) {
        assert.match(headers, new RegExp(`^${name}: `, 'm'), `no ${name} header`);
      }
    });
  }

  test('the console signs in with the demo secret', { timeout: 90_000 }, async () => {
    const secret = readFileSync(join(ROOT, 'demo/demo.vars'), 'utf8').match(/^ADMIN_SECRET="([^"]+)"/m)[1];
    const profile = mkdtempSync(join(tmpdir(), 'tollgate-readme-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 60_000,
    });
    try {
      context.setDefaultTimeout(15_000);
      const page = context.pages()[0] ?? await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/_tollgate/console/`);
      await page.getByLabel('Admin key or secret').fill(secret);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Accounts' }).waitFor();
      // The demo accounts, as make dev seeded them.
      for (const name of ['Acme Analytics', 'Trial Co', 'Sampler Labs', 'Bulk Feeds', 'Relay Data Services']) {
        await page.getByRole('link', { name, exact: true }).waitFor();
      }
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });

  test("a stock X API client is rate limited by the README's token within its stated limit, with a future reset", { timeout: 120_000 }, async () => {
    const base = `http://127.0.0.1:${port}`;
    const token = demoToken('acme-search');
    // The window is the clock's quarter of an hour (its end is the reset the response states): a
    // run that would cross into the next one waits for it, so that every search counts in one.
    await clearOfWindowEnd(900_000, 30_000);
    const first = await fetch(`${base}/2/tweets/search/recent?query=limits`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-rate-limit-limit'), '450', 'the README states 450 searches per app per 15 minutes');
    let remaining = Number(first.headers.get('x-rate-limit-remaining'));
    assert.ok(remaining > 0 && remaining < 450, `remaining ${remaining}`);
    const toTollgate = {
      onBeforeRequestConfig({ params }) {
        params.url = params.url.replace(/^https:\/\/api\.(twitter|x)\.com\/2\//, `${base}/2/`);
      },
    };
    const agent = new http.Agent({ keepAlive: false });
    const v2 = new TwitterApi(token, { httpAgent: agent, plugins: [toTollgate] }).readOnly.v2;
    let served = 0;
    let refusal = null;
    // Eight at a time until the client is refused; never more than the limit plus a round.
    while (refusal === null && served <= 450) {
      const round = await Promise.allSettled(Array.from({ length: 8 }, () => v2.search('limits')));
      for (const r of round) {
        if (r.status === 'fulfilled') served += 1;
        else if (r.reason instanceof ApiResponseError && r.reason.code === 429) refusal = r.reason;
        else throw r.reason;
      }
    }
    assert.ok(refusal, `no 429 after ${served} searches`);
    assert.equal(served, remaining, 'served more or fewer searches than the window had left');
    assert.equal(refusal.rateLimit.limit, 450);
    assert.equal(refusal.rateLimit.remaining, 0);
    assert.ok(refusal.rateLimit.reset * 1000 > Date.now(), 'the reset time is not in the future');
    assert.ok(refusal.rateLimit.reset * 1000 <= Date.now() + 900_000);
    agent.destroy();
  });
});
