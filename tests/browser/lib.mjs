// lib.mjs — the browser tests' harness: a real kb-indexer + kb-searchd on a temporary knowledge
// base, Debian's Chromium driven by playwright-core, and the PASS/FAIL protocol that
// tests/run-all.sh counts.
//
// - Service: writes the KB files and a tokens file (one token per role, and `more` tokens:
//   {key: [role, name]}, e.g. an agent of another team) in a temporary folder, runs
//   $BIN/kb-indexer, starts $BIN/kb-searchd on a free loopback port and waits for /healthz.
// - launchBrowser(): /usr/bin/chromium (no browser download) with the flags this machine needs:
//   headless, no sandbox (we run as root), and no background networking (the network is closed,
//   and Chromium would otherwise keep trying Google's hosts). Playwright gives the browser a new
//   empty profile folder of its own, and every test gets a fresh context (no shared storage).
// - Each test page records page errors, console errors, CSP violations and dialogs; a test
//   fails if any of them happened (no alert() may ever fire, no inline code may be blocked).
// - Screenshots go to tests/browser/out/ (git-ignored) for a person to look at.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
const BIN = path.resolve(ROOT, process.env.BIN || 'bin');
export const OUT = path.join(HERE, 'out');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// ---------------------------------------------------------------- knowledge-base documents

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// One <document>. sections: [[id, title, [paragraph, ...]], ...]
// mustKnow: undefined for none, [] for every team, or the teams' names (<must-know>).
export function docXml({ id, title, categories = [], keywords, questions = [], valid, updated, sections = [], paragraphs = [], mustKnow }) {
  const out = [`<document id="${esc(id)}">`, `  <title>${esc(title)}</title>`];
  for (const c of categories) out.push(`  <category>${esc(c)}</category>`);
  if (keywords) out.push(`  <keywords>${esc(keywords)}</keywords>`);
  if (valid) out.push(`  <valid${valid[0] ? ` from="${valid[0]}"` : ''}${valid[1] ? ` until="${valid[1]}"` : ''}/>`);
  if (updated) out.push(`  <updated>${esc(updated)}</updated>`);
  if (questions.length) out.push('  <questions>' + questions.map((q) => `<q>${esc(q)}</q>`).join('') + '</questions>');
  if (mustKnow) out.push('  <must-know>' + mustKnow.map((t) => `<team>${esc(t)}</team>`).join('') + '</must-know>');
  out.push('  <body>');
  for (const [sid, stitle, paras] of sections) {
    out.push(`    <section id="${esc(sid)}" title="${esc(stitle)}">`);
    for (const p of paras) out.push(`      <p>${esc(p)}</p>`);
    out.push('    </section>');
  }
  for (const p of paragraphs) out.push(`    <p>${esc(p)}</p>`);
  out.push('  </body>', '</document>');
  return out.join('\n');
}

export const documentsFile = (...docs) => `<?xml version="1.0" encoding="UTF-8"?>\n<documents>\n${docs.join('\n')}\n</documents>\n`;

// ---------------------------------------------------------------- the service

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Service {
  static ROLES = ['agent', 'editor', 'lead', 'admin'];

  constructor(files, { names = {}, agentsFile = null, more = {} } = {}) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kb-browser-'));
    this.kb = path.join(this.tmp, 'kb');
    fs.mkdirSync(this.kb);
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(this.kb, name), text);
    this.tokens = {};
    this.names = {};
    // key -> [role, name]: one per role, then the `more` ones; login(page, svc, key) uses any.
    const holders = { ...Object.fromEntries(Service.ROLES.map((r) => [r, [r, names[r] || 'test-' + r]])), ...more };
    const lines = [];
    for (const [key, [role, name]] of Object.entries(holders)) {
      this.tokens[key] = [...crypto.getRandomValues(new Uint8Array(20))].map((b) => b.toString(16).padStart(2, '0')).join('');
      this.names[key] = name;
      lines.push(`${this.tokens[key]} ${role} ${name}`);
    }
    fs.writeFileSync(path.join(this.tmp, 'tokens'), lines.join('\n') + '\n', { mode: 0o600 });
    this.agentsFile = null;
    if (agentsFile) {
      this.agentsFile = path.join(this.tmp, 'agents');
      fs.writeFileSync(this.agentsFile, agentsFile);
    }
    this.proc = null;
  }

  index() {
    const r = spawnSync(path.join(BIN, 'kb-indexer'), ['--index', path.join(this.tmp, 'index'), this.kb], { encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`kb-indexer exited ${r.status}: ${(r.stderr || '').slice(-2000)}`);
  }

  async start() {
    this.index();
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    const args = ['--index', path.join(this.tmp, 'index'), '--data', path.join(this.tmp, 'data'),
      '--listen', `127.0.0.1:${this.port}`, '--tokens', path.join(this.tmp, 'tokens'), '--threads', '2',
      // As-you-type steps wait this long before the gap queue takes them (default 5 s).
      '--typing-window', '2'];
    if (this.agentsFile && this.supportsAgents()) args.push('--agents', this.agentsFile);
    const log = fs.openSync(path.join(this.tmp, 'searchd.log'), 'a');
    this.proc = spawn(path.join(BIN, 'kb-searchd'), args, { stdio: ['ignore', log, log] });
    this.exited = new Promise((r) => this.proc.on('exit', (code) => r(code)));
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error('kb-searchd exited: ' + this.log().slice(-2000));
      try {
        const r = await fetch(this.url + '/healthz');
        if (r.status === 200) return this;
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    throw new Error('kb-searchd did not answer /healthz within 30 s');
  }

  supportsAgents() {
    const r = spawnSync(path.join(BIN, 'kb-searchd'), ['--help'], { encoding: 'utf8' });
    return (r.stdout || '').includes('--agents');
  }

  log() {
    try {
      return fs.readFileSync(path.join(this.tmp, 'searchd.log'), 'utf8');
    } catch {
      return '';
    }
  }

  // A direct API call (not through the browser), e.g. to set up or check state.
  async api(role, method, p, body) {
    const headers = { Authorization: 'Bearer ' + this.tokens[role] };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(this.url + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, json, text };
  }

  // Stop with SIGTERM; returns the exit code (null when it had to be killed).
  async stop() {
    let code = this.proc ? this.proc.exitCode : null;
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      let killed = false;
      const t = setTimeout(() => {
        killed = true;
        this.proc.kill('SIGKILL');
      }, 15000);
      code = await this.exited;
      clearTimeout(t);
      if (killed) code = null;
    }
    return code;
  }

  cleanup() {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- the browser

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
}

// A new context and page that records what must never happen on our pages.
export async function newPage(browser, svc) {
  const context = await browser.newContext({ baseURL: svc.url, viewport: { width: 1280, height: 800 }, locale: 'zh-CN', acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(8000);
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    const t = m.text();
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (401|403|404|409)/.test(t)) problems.push('console error: ' + t);
    if (/Content Security Policy/i.test(t)) problems.push('CSP: ' + t);
  });
  page.on('dialog', (d) => {
    problems.push(`dialog ${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.problems = problems;
  return { context, page };
}

// Log in through the login page with a role's token (or a `more` token's key).
export async function login(page, svc, role, next) {
  await page.goto(next ? '/?next=' + encodeURIComponent(next) : '/');
  await page.fill('#token', svc.tokens[role]);
  await page.click('#login-button');
}

export async function shot(page, name) {
  fs.mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, name + '.png');
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

// ---------------------------------------------------------------- checks and the runner

// Thrown by a test that cannot run here yet (e.g. an endpoint not built): printed as SKIP, which
// tests/run-all.sh counts as neither passed nor failed.
export class Skip extends Error {}

export function check(cond, message) {
  if (!cond) throw new Error(message || 'check failed');
}

const tests = [];
export const test = (name, fn) => tests.push({ name, fn });

// Run every test in order with a fresh page each; print PASS/FAIL lines; exit 1 on failure.
export async function runTests(browser, svc) {
  const only = new Set(process.argv.slice(2));
  let failed = 0;
  for (const { name, fn } of tests) {
    if (only.size && !only.has(name)) continue;
    const t0 = Date.now();
    const { context, page } = await newPage(browser, svc);
    try {
      await fn(page, context);
      check(!page.problems.length, page.problems.join('\n'));
      console.log(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      if (e instanceof Skip) {
        console.log(`SKIP ${name}: ${e.message}`);
        continue;
      }
      failed++;
      console.log(`FAIL ${name}`);
      for (const line of String(e.stack || e).split('\n').slice(0, 20)) console.log('    ' + line);
      if (page.problems.length) console.log('    problems: ' + page.problems.join(' | '));
      try {
        await shot(page, 'FAILED-' + name);
      } catch { /* page gone */ }
    } finally {
      await context.close();
    }
  }
  return failed;
}
