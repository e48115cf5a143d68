// call.mjs - what the browser tests share: a headless Chromium (Debian's,
// driven by playwright-core), a gateway with the CoUp API stand-in and its
// own RUN_DIR, demo pages that join a call, and bounded waits that poll
// inside the page.
//
// Environment (from tests/run-node-test): COUP_GATEWAY, CHROMIUM
// (default /usr/bin/chromium), BROWSER_ARTIFACTS (screenshots).

import { before, after, afterEach } from 'node:test';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { startServer, binaryFromEnv } from '../../e2e/lib/server.mjs';
import { startMockApi } from '../../e2e/lib/mock-api.mjs';
import { roomChild } from '../../e2e/lib/proc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const GATEWAY = binaryFromEnv('COUP_GATEWAY');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.BROWSER_ARTIFACTS || path.resolve(here, '..', 'artifacts');

// Flags measured to work here (see the stack notes): fake camera and
// microphone with no permission prompt; loopback candidates, since the
// machine may have no other interface; sound without a user gesture.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
  // getDisplayMedia picks the (fake) screen without asking.
  '--auto-select-desktop-capture-source=Entire screen',
];

let seq = 0;
export const uniq = (p) => `${p}-${process.pid}-${Date.now().toString(36)}-${++seq}`;

/**
 * A gateway (NODE_ENV from `env`, extra KEY=VALUE `args`), its API
 * stand-in, and one Chromium, for the tests of one describe block.
 */
export function useCall(args = [], { env = 'development', browser = true } = {}) {
  const ctx = { api: null, server: null, url: null, browser: null, runDir: null, pages: [] };
  before(async () => {
    ctx.runDir = mkdtempSync(path.join(os.tmpdir(), 'coup-browser-'));
    ctx.api = await startMockApi();
    ctx.server = await startServer(
      GATEWAY,
      [`NODE_ENV=${env}`, `NEXTJS_URL=${ctx.api.url}`, `RUN_DIR=${ctx.runDir}`, 'LOG_LEVEL=info', ...args],
      { name: 'coup-gateway' },
    );
    ctx.url = ctx.server.url;
    if (browser) {
      ctx.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60000 });
    }
  });
  afterEach(async () => {
    await closePages(ctx);
    if (ctx.api) {
      ctx.api.setFailure(null);
    }
    if (ctx.server && !ctx.server.running) {
      throw new Error(`the gateway died (${ctx.server.describeExit()})\n--- last stderr lines ---\n${ctx.server.stderrTail()}`);
    }
  });
  after(async () => {
    try {
      await closePages(ctx);
      if (ctx.browser) await ctx.browser.close();
    } finally {
      try {
        if (ctx.server) await ctx.server.stopAndCheck();
      } finally {
        if (ctx.api) await ctx.api.close();
        if (ctx.runDir) rmSync(ctx.runDir, { recursive: true, force: true });
      }
    }
  });
  /** A demo page (in a browser context of its own) joining `room` as `user`. */
  ctx.open = (room, user, { token = null, label = user, query = {}, base = ctx.url } = {}) => openPage(ctx, room, user, { token, label, query, base });
  return ctx;
}

async function closePages(ctx) {
  const pages = ctx.pages.splice(0);
  await Promise.all(pages.map((p) => p.context.close().catch(() => {})));
}

/** One participant: a Playwright page with its console kept for error messages. */
class DemoPage {
  constructor(context, page, label) {
    this.context = context;
    this.page = page;
    this.label = label;
    this.console = [];
    const keep = (line) => {
      this.console.push(line);
      if (this.console.length > 60) this.console.shift();
    };
    page.on('console', (m) => keep(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => keep(`pageerror: ${e.message}`));
  }

  /** What the page shows now, for error messages. */
  async describe() {
    try {
      const s = await this.page.evaluate(() => ({
        phase: window.demo.phase,
        status: document.getElementById('status').textContent,
        selfId: window.demo.selfId,
        seen: window.demo.seen,
        remote: window.demo.remoteVideos(),
      }));
      return `${this.label}: ${JSON.stringify(s)}\n  console:\n    ${this.console.slice(-25).join('\n    ')}`;
    } catch (err) {
      return `${this.label}: (cannot read the page: ${err.message})`;
    }
  }

  /**
   * Poll `fn(arg)` inside the page until it returns a truthy value (which is
   * returned); fail after timeoutMs saying what was awaited and what the
   * page showed.
   */
  async until(what, fn, arg = null, timeoutMs = 30000) {
    try {
      const h = await this.page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 100 });
      return await h.jsonValue();
    } catch (err) {
      throw new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${what} (${err.message.split('\n')[0]})\n${await this.describe()}`);
    }
  }

  eval(fn, arg) {
    return this.page.evaluate(fn, arg);
  }

  get selfId() {
    return this.page.evaluate(() => window.demo.selfId);
  }

  /** The page's participant list: [{socketId, name, muted, videoOff, self}]. */
  participants() {
    return this.page.evaluate(() =>
      [...document.querySelectorAll('#participants li')].map((li) => ({
        socketId: li.dataset.socketId,
        text: li.textContent,
        muted: li.dataset.muted === 'true',
        videoOff: li.dataset.videoOff === 'true',
        self: li.dataset.self === 'true',
      })),
    );
  }

  /**
   * Wait until this page has `n` remote peers, every connection
   * `connected` and every remote <video> decoding: frames of a size, and
   * its clock moving on by at least `advance` seconds.
   */
  async inCallWith(n, { advance = 0.5, timeoutMs = 30000, what = '' } = {}) {
    const start = await this.until(
      `${n} connected peers with decoded video${what ? ` (${what})` : ''}`,
      (k) => {
        const v = window.demo.remoteVideos();
        if (window.demo.phase !== 'joined' || v.length !== k) return false;
        if (!v.every((r) => r.connectionState === 'connected' && r.videoWidth > 0)) return false;
        return Object.fromEntries(v.map((r) => [r.socketId, r.currentTime]));
      },
      n,
      timeoutMs,
    );
    await this.until(
      `every remote video's currentTime to advance by ${advance} s${what ? ` (${what})` : ''}`,
      ([t0, adv]) => {
        const v = window.demo.remoteVideos();
        return v.length === Object.keys(t0).length && v.every((r) => t0[r.socketId] !== undefined && r.currentTime >= t0[r.socketId] + adv);
      },
      [start, advance],
      timeoutMs,
    );
    return this.page.evaluate(() => window.demo.remoteVideos());
  }

  async screenshot(name) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, name);
    await this.page.screenshot({ path: file });
    return file;
  }

  async close() {
    await this.context.close();
  }
}

/* base: where the page is loaded from (and so where its socket goes): the
 * gateway, or a proxy in front of it. */
async function openPage(ctx, room, user, { token, label, query = {}, base }) {
  const context = await ctx.browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  const dp = new DemoPage(context, page, label);
  ctx.pages.push(dp);
  const q = new URLSearchParams({ room, user, auto: '1', ...query });
  if (token) q.set('token', token);
  const res = await page.goto(`${base}/demo/?${q}`, { timeout: 30000 });
  if (!res || res.status() !== 200) throw new Error(`${label}: GET /demo/ answered ${res && res.status()}`);
  return dp;
}

/** The pid of the live coup-roomd child of `gwPid` serving `room`, or null. */
export function roomChildPid(gwPid, room) {
  return roomChild(gwPid, room)?.pid ?? null;
}

/** Poll `fn` (in this process) until it returns a truthy value; bounded. */
export async function pollUntil(what, fn, { timeoutMs = 10000, intervalMs = 50 } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
