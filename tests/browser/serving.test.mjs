// How coup-gateway serves the demo page (gateway/demo.c), over plain
// HTTP: on and off by DEMO and NODE_ENV, Content-Type and
// Content-Security-Policy, no way out of the page's directory, a clear
// 404 and log line when socket.io-client's bundle is missing, and the
// page's own origin allowed to open the WebSocket only while the demo is
// on.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, symlinkSync, rmSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import WebSocket from 'ws';

import { startServer } from '../e2e/lib/server.mjs';
import { useCall, GATEWAY } from './lib/call.mjs';

const SKIP = GATEWAY ? false : 'COUP_GATEWAY is not set (run through tests/run-node-test)';

/**
 * One GET with the path sent byte for byte (fetch would resolve "..").
 * Resolves with {status, headers, body}.
 */
function rawGet(url, rawPath, timeoutMs = 5000) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: hostname, port: Number(port) });
    const chunks = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`GET ${rawPath}: no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(`GET ${rawPath} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const i = text.indexOf('\r\n\r\n');
      const head = text.slice(0, i < 0 ? text.length : i).split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
      const headers = {};
      for (const line of head.slice(1)) {
        const k = line.indexOf(':');
        if (k > 0) headers[line.slice(0, k).trim().toLowerCase()] = line.slice(k + 1).trim();
      }
      resolve({ status: m ? Number(m[1]) : 0, headers, body: i < 0 ? '' : text.slice(i + 4) });
    });
  });
}

/** Open a WebSocket to the Engine.IO path with `origin`; resolves 'open' or the HTTP status of the refusal. */
function tryWebSocket(url, origin, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, { origin });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`WebSocket with Origin ${origin}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.on('open', () => {
      clearTimeout(timer);
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      ws.terminate();
      resolve(res.statusCode);
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('demo page: served files (DEMO=on, production)', { skip: SKIP }, () => {
  const g = useCall(['DEMO=on'], { env: 'production', browser: false });

  it('serves the page, its script, its style and the socket.io-client bundle with their types and a CSP', async () => {
    const want = {
      '/demo': /^text\/html; charset=utf-8$/,
      '/demo/': /^text\/html; charset=utf-8$/,
      '/demo/index.html': /^text\/html; charset=utf-8$/,
      '/demo/demo.js': /^text\/javascript; charset=utf-8$/,
      '/demo/demo.css': /^text\/css; charset=utf-8$/,
      '/demo/socket.io.min.js': /^text\/javascript; charset=utf-8$/,
    };
    for (const [p, type] of Object.entries(want)) {
      const res = await fetch(`${g.url}${p}`);
      const body = await res.text();
      assert.equal(res.status, 200, `GET ${p}`);
      assert.match(res.headers.get('content-type') ?? '', type, `Content-Type of ${p}`);
      assert.ok(body.length > 100, `${p} has a body`);
      const csp = res.headers.get('content-security-policy') ?? '';
      for (const d of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
        assert.ok(csp.includes(d), `CSP of ${p} has ${d}: ${csp}`);
      }
      assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), `CSP of ${p} allows no inline script or eval: ${csp}`);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `nosniff on ${p}`);
    }
    const bundle = await (await fetch(`${g.url}/demo/socket.io.min.js`)).text();
    assert.match(bundle, /Socket\.IO v4\.8\.4/, 'the bundle is socket.io-client 4.8.4 (pinned by demo/package-lock.json)');
    const html = await (await fetch(`${g.url}/demo`)).text();
    assert.ok(!/<script>|<script [^>]*>[^<]+<\/script>|\sstyle=|\son[a-z]+=/.test(html), 'no inline script, style or handler: the CSP forbids them');
  });

  it('no path leaves the page\'s directory: dot-dot in every spelling, hidden files, subdirectories, other types', async () => {
    const paths = [
      '/demo/../Makefile.am',
      '/demo/../../../../etc/passwd',
      '/demo/..%2fMakefile.am',
      '/demo/%2e%2e/Makefile.am',
      '/demo/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/demo/..\\Makefile.am',
      '/demo//etc/passwd',
      '/demo/%2fetc%2fpasswd',
      '/demo/.gitignore',
      '/demo/package.json',
      '/demo/package-lock.json',
      '/demo/node_modules/socket.io-client/package.json',
      '/demo/node_modules',
      '/demo/demo.js%00.html',
      '/demo/demo.js/',
      '/demo/./demo.js/../../configure.ac',
      '/demox',
      '/demo.js',
    ];
    for (const p of paths) {
      const res = await rawGet(g.url, p);
      // 0: libwebsockets itself hung up on the request (it does for %00).
      assert.ok([0, 400, 403, 404].includes(res.status), `GET ${p}: ${res.status} (expected a refusal)`);
      for (const leak of ['root:x:0:0', 'AC_INIT', 'ACLOCAL_AMFLAGS', '"dependencies"', 'node_modules/']) {
        assert.ok(!res.body.includes(leak), `GET ${p} leaked a file (${leak})`);
      }
    }
    // Plain names still work over the same raw requests.
    assert.equal((await rawGet(g.url, '/demo/demo.js')).status, 200);
    assert.equal((await rawGet(g.url, '/demo/index.html?x=1')).status, 200);
    // Only GET and HEAD.
    const post = await fetch(`${g.url}/demo/demo.js`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    const head = await fetch(`${g.url}/demo/demo.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  it('a WebSocket from the page\'s own origin is allowed; other origins still are not', async () => {
    assert.equal(await tryWebSocket(g.url, g.url), 'open', 'Origin = the gateway itself');
    assert.equal(await tryWebSocket(g.url, 'http://evil.example'), 403, 'a foreign Origin');
    const { port } = new URL(g.url);
    assert.equal(await tryWebSocket(g.url, `http://127.0.0.1:${Number(port) + 1}`), 403, 'same host, another port');
  });
});

describe('demo page: off by default in production', { skip: SKIP }, () => {
  const g = useCall([], { env: 'production', browser: false });

  it('GET /demo is 404, and the gateway\'s own origin gets no WebSocket', async () => {
    for (const p of ['/demo', '/demo/', '/demo/demo.js', '/demo/socket.io.min.js']) {
      const res = await fetch(`${g.url}${p}`);
      await res.text();
      assert.equal(res.status, 404, `GET ${p}`);
    }
    assert.equal(await tryWebSocket(g.url, g.url), 403, 'same-origin WebSocket with the demo off');
  });
});

describe('demo page: DEMO=off in development', { skip: SKIP }, () => {
  const g = useCall(['DEMO=off'], { env: 'development', browser: false });

  it('GET /demo is 404', async () => {
    const res = await fetch(`${g.url}/demo`);
    await res.text();
    assert.equal(res.status, 404);
  });
});

describe('demo page: DEMO_DIR without the socket.io-client bundle', { skip: SKIP }, () => {
  let dir;
  let runDir;
  let gw;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'coup-demo-dir-'));
    runDir = mkdtempSync(path.join(os.tmpdir(), 'coup-browser-'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>t</title>ours');
    symlinkSync('/etc/passwd', path.join(dir, 'evil.html'));
    // No CoUp API is needed: nobody connects.
    gw = await startServer(GATEWAY, ['NODE_ENV=development', `RUN_DIR=${runDir}`, `DEMO_DIR=${dir}`], { name: 'coup-gateway' });
  });
  after(async () => {
    try {
      if (gw) await gw.stopAndCheck();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('serves the page from DEMO_DIR, refuses a symlink in it, and says the bundle is missing (404 and a log line)', async () => {
    const page = await fetch(`${gw.url}/demo`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /ours/, 'the page is DEMO_DIR\'s');
    const evil = await rawGet(gw.url, '/demo/evil.html');
    assert.equal(evil.status, 404, 'a symlink in DEMO_DIR is not followed');
    assert.ok(!evil.body.includes('root:'), 'nothing of its target leaked');
    const res = await fetch(`${gw.url}/demo/socket.io.min.js`);
    const body = await res.text();
    assert.equal(res.status, 404);
    assert.match(body, /install-deps/, `the 404 says what to do: ${body}`);
    assert.match(gw.stderrTail(100), /socket\.io\.min\.js is missing/, 'the gateway logged it');
  });
});

// The bundle served is the one the lock file pins.
describe('demo page: the pinned bundle', { skip: SKIP }, () => {
  it('demo/package-lock.json pins socket.io-client 4.8.4', () => {
    const lock = JSON.parse(readFileSync(new URL('../../demo/package-lock.json', import.meta.url), 'utf8'));
    assert.equal(lock.packages['node_modules/socket.io-client']?.version, '4.8.4');
  });
});
