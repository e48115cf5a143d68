// coup-gateway, the product: its HTTP endpoints (contract §7), CORS and the
// WebSocket origin check (§1), the CONNECT rule for userId (§2), and how it
// takes its configuration (§8).

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startServer, runToExit, freePort, binaryFromEnv, skipReason } from './lib/server.mjs';
import { waitFor, pollUntil } from './lib/wait.mjs';
import { request, eioUrl } from './lib/eio-polling.mjs';
import { openWs, eioWs, sioWs } from './lib/raw-ws.mjs';
import { Clients } from './lib/sio-client.mjs';
import { startMockApi } from './lib/mock-api.mjs';

const GATEWAY = binaryFromEnv('COUP_GATEWAY');
const SKIP = skipReason('COUP_GATEWAY');
const GOOD = 'http://good.example';
const EVIL = 'http://evil.example';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

async function getJson(url, headers = {}) {
  const res = await request(url, { headers });
  assert.equal(res.status, 200, `GET ${url}: HTTP ${res.status ?? res.error?.message} ${res.body}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, `content-type of ${url}`);
  let body;
  try {
    body = JSON.parse(res.body);
  } catch {
    assert.fail(`GET ${url}: not JSON: ${JSON.stringify(res.body)}`);
  }
  return { res, body };
}

describe('coup-gateway', { skip: SKIP }, () => {
  describe('running', () => {
    let server;
    let api;
    let url;
    const clients = new Clients();

    before(async () => {
      api = await startMockApi();
      server = await startServer(
        GATEWAY,
        ['NODE_ENV=development', `NEXTJS_URL=${api.url}`, `ALLOWED_ORIGINS=${GOOD}`, 'LOG_LEVEL=info'],
        { name: 'coup-gateway' },
      );
      url = server.url;
    });
    afterEach(() => clients.closeAll());
    after(async () => {
      clients.closeAll();
      try {
        if (server) await server.stopAndCheck();
      } finally {
        if (api) await api.close();
      }
    });

    const health = async () => (await getJson(`${url}/health`)).body;
    const waitConnections = (n, what) =>
      pollUntil(
        async () => {
          const h = await health();
          return { ok: h.connections === n, value: h };
        },
        { attempts: 50, intervalMs: 100, what },
      );

    describe('GET /health', () => {
      it('answers {"status":"ok","connections":N,"uptime":secs,"timestamp":"ISO"}', async () => {
        const before = Date.now();
        const h = await health();
        assert.deepEqual(Object.keys(h).sort(), ['connections', 'status', 'timestamp', 'uptime']);
        assert.equal(h.status, 'ok');
        assert.equal(h.connections, 0, 'no client yet');
        assert.equal(typeof h.uptime, 'number');
        assert.ok(h.uptime >= 0 && h.uptime < 600, `uptime ${h.uptime}`);
        assert.match(h.timestamp, ISO_UTC);
        const t = Date.parse(h.timestamp);
        assert.ok(Math.abs(t - before) < 60000, `timestamp ${h.timestamp} is not now`);
      });

      it('counts a websocket client while it is connected', async () => {
        const base = (await health()).connections;
        const socket = await clients.connect(url, { transports: ['websocket'], auth: { userId: 'u-health' } });
        const up = await waitConnections(base + 1, `connections = ${base + 1} while a client is connected`);
        assert.equal(up.connections, base + 1);
        const m = (await getJson(`${url}/metrics`)).body;
        assert.equal(m.connections, base + 1, '/metrics agrees');
        socket.disconnect();
        const down = await waitConnections(base, `connections back to ${base} after the client left`);
        assert.equal(down.connections, base);
      });

      it('CORS: an allowed Origin gets Access-Control-Allow-Origin and -Credentials', async () => {
        const { res } = await getJson(`${url}/health`, { Origin: GOOD });
        assert.equal(res.headers.get('access-control-allow-origin'), GOOD);
        assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
      });

      it('CORS: another Origin gets no Access-Control-Allow-Origin', async () => {
        const { res } = await getJson(`${url}/health`, { Origin: EVIL });
        assert.equal(res.headers.get('access-control-allow-origin'), null);
      });
    });

    describe('GET /metrics', () => {
      it('answers connections, rooms, roomDetails, memory {rss, gateway, rooms}, uptime', async () => {
        const { res, body: m } = await getJson(`${url}/metrics`, { Origin: GOOD });
        assert.equal(res.headers.get('access-control-allow-origin'), GOOD, 'CORS on /metrics too');
        assert.equal(typeof m.connections, 'number');
        assert.equal(m.rooms, 0);
        assert.deepEqual(m.roomDetails, []);
        assert.equal(typeof m.uptime, 'number');
        assert.ok(m.uptime >= 0);
        assert.equal(typeof m.memory, 'object');
        assert.ok(Number.isInteger(m.memory.rss) && m.memory.rss > 1024 * 1024, `memory.rss ${m.memory.rss} bytes`);
        assert.ok(Number.isInteger(m.memory.gateway.rss) && m.memory.gateway.rss > 1024 * 1024, `memory.gateway.rss ${m.memory.gateway.rss}`);
        assert.ok(m.memory.rss >= m.memory.gateway.rss, 'the total includes the gateway');
        assert.deepEqual(m.memory.rooms, { rss: 0, processes: 0 });
      });
    });

    describe('transport and CORS (contract §1)', () => {
      it('a polling handshake from an allowed Origin gets the CORS headers', async () => {
        const res = await request(eioUrl(url, { path: '/socket.io/' }), { headers: { Origin: GOOD } });
        assert.equal(res.status, 200);
        assert.equal(res.body[0], '0');
        assert.equal(res.headers.get('access-control-allow-origin'), GOOD);
        assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
      });

      it('a polling handshake from another Origin gets no Access-Control-Allow-Origin', async () => {
        const res = await request(eioUrl(url, { path: '/socket.io/' }), { headers: { Origin: EVIL } });
        assert.equal(res.headers.get('access-control-allow-origin'), null);
      });

      it('a CORS preflight (OPTIONS) for polling from an allowed Origin is answered with the CORS headers', async () => {
        const res = await request(eioUrl(url, { path: '/socket.io/' }), {
          method: 'OPTIONS',
          headers: { Origin: GOOD, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
        });
        assert.ok([200, 204].includes(res.status), `OPTIONS: HTTP ${res.status} ${JSON.stringify(res.body)}`);
        assert.equal(res.headers.get('access-control-allow-origin'), GOOD);
        assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
        const methods = res.headers.get('access-control-allow-methods') ?? '';
        assert.match(methods, /POST/, `Access-Control-Allow-Methods: ${methods}`);
      });

      it('a WebSocket from a disallowed Origin is refused', async () => {
        let ws = null;
        try {
          ws = await openWs(eioUrl(server.wsUrl, { path: '/socket.io/', transport: 'websocket' }), { origin: EVIL });
        } catch (err) {
          assert.ok(err.statusCode >= 400 || /ECONNRESET|hang up/.test(err.message), `refused: ${err.message}`);
          return;
        }
        try {
          await ws.waitClosed({ timeoutMs: 3000, what: 'the disallowed WebSocket to be closed' });
          const open = ws.queue.find((f) => f.text && f.text.startsWith('0'));
          assert.equal(open, undefined, 'no session for a disallowed Origin');
        } finally {
          ws.close();
        }
      });

      it('a WebSocket from the allowed Origin gets a session', async () => {
        const { ws, open } = await eioWs(url, { path: '/socket.io/', origin: GOOD });
        ws.close();
        assert.equal(typeof open.sid, 'string');
        assert.deepEqual(open.upgrades, []);
      });

      it('an unknown namespace gets 44/<nsp>,{"message":"Invalid namespace"}', async () => {
        const { ws } = await eioWs(url, { path: '/socket.io/', autoPong: true });
        try {
          ws.send('40/admin,{"userId":"u1"}');
          assert.equal(await ws.nextText(), '44/admin,{"message":"Invalid namespace"}');
        } finally {
          ws.close();
        }
      });

      it('an unknown event is ignored: the connection stays and keeps answering', async () => {
        const { ws } = await sioWs(url, { auth: { userId: 'u-unknown' } });
        try {
          ws.send('42["no-such-event",{"x":1}]');
          ws.send('421["no-such-event-with-ack"]');
          // Something the server must answer, on the same connection, after
          // the unknown events: if they had broken it, this would not come.
          ws.send('40/nope,');
          assert.equal(await ws.nextText({ what: 'the answer after the unknown events' }), '44/nope,{"message":"Invalid namespace"}');
          assert.ok(ws.isOpen);
        } finally {
          ws.close();
        }
      });
    });

    describe('hostile input (contract §5)', () => {
      for (const [name, frame] of [
        ['an unknown packet type', '4abc'],
        ['an EVENT that is not an array', '42{"x":1}'],
        ['an EVENT with broken JSON', '42["video:join-room",{'],
        ['a BINARY_EVENT whose attachments never come', '451-["video:join-room",{"_placeholder":true,"num":0}]'],
      ]) {
        it(`${name} affects only its sender`, async () => {
          const other = await sioWs(url, { auth: { userId: 'u-bystander' } });
          const bad = await sioWs(url, { auth: { userId: 'u-hostile' } });
          try {
            bad.ws.send(frame);
            if (!frame.startsWith('451-')) {
              await bad.ws.waitClosed({ timeoutMs: 3000, what: `the server to close the sender of ${JSON.stringify(frame)}` });
            }
            // The bystander is still served, on its own connection.
            other.ws.send('40/nope,');
            assert.equal(await other.ws.nextText({ what: 'an answer to the bystander' }), '44/nope,{"message":"Invalid namespace"}');
            assert.ok(server.running, 'the gateway is still running');
            const h = (await getJson(`${url}/health`)).body;
            assert.equal(h.status, 'ok');
          } finally {
            bad.ws.close();
            other.ws.close();
          }
        });
      }
    });

    describe('CONNECT and userId (contract §2)', () => {
      for (const [name, auth] of [
        ['no auth object', undefined],
        ['no userId', { token: 't' }],
        ['an empty userId', { userId: '' }],
        ['a userId that is an object', { userId: { id: 'u1' } }],
      ]) {
        it(`${name}: connect_error "Authentication required: userId missing"`, async () => {
          const socket = clients.open(url, { transports: ['websocket'], ...(auth === undefined ? {} : { auth }) });
          const [err] = await waitFor(socket, 'connect_error', { failOn: ['connect'] });
          assert.equal(err.message, 'Authentication required: userId missing');
        });
      }

      it('a string userId connects over websocket', async () => {
        const socket = await clients.connect(url, { transports: ['websocket'], auth: { userId: 'u1', token: 'tok' } });
        assert.ok(socket.connected);
        assert.equal(socket.io.engine.transport.name, 'websocket');
      });

      it('a numeric userId connects over polling', async () => {
        const socket = await clients.connect(url, { transports: ['polling'], auth: { userId: 42 } });
        assert.ok(socket.connected);
        assert.equal(socket.io.engine.transport.name, 'polling');
      });

      it('the default transports connect and upgrade to websocket', async () => {
        const socket = clients.open(url, { auth: { userId: 'u-upgrade' } });
        const upgraded = waitFor(socket.io.engine, 'upgrade', { failOn: ['upgradeError'] });
        await waitFor(socket, 'connect', { failOn: ['connect_error'] });
        await upgraded;
        assert.equal(socket.io.engine.transport.name, 'websocket');
      });
    });
  });

  describe('configuration (contract §8)', () => {
    const KEYS = ['PORT', 'NODE_ENV', 'NEXTJS_URL', 'ALLOWED_ORIGINS', 'LOG_LEVEL', 'PING_INTERVAL_MS', 'PING_TIMEOUT_MS', 'MAX_PAYLOAD'];

    it('--check-config with valid values prints every key and exits 0', async () => {
      const r = await runToExit(GATEWAY, ['--check-config', 'PORT=4123', '--ping-interval-ms=1234']);
      const out = r.stdout + r.stderr;
      assert.equal(r.code, 0, `exit code; output:\n${out}`);
      for (const k of KEYS) assert.match(out, new RegExp(`\\b${k}\\b`), `${k} in the output:\n${out}`);
      assert.match(out, /4123/, 'the PORT given');
      assert.match(out, /1234/, 'the value of --ping-interval-ms');
    });

    for (const [key, bad] of [
      ['PORT', 'abc'],
      ['NODE_ENV', 'staging'],
      ['LOG_LEVEL', 'loud'],
      ['PING_INTERVAL_MS', '-5'],
    ]) {
      it(`--check-config refuses ${key}=${bad} and names the key`, async () => {
        const r = await runToExit(GATEWAY, ['--check-config', `${key}=${bad}`]);
        const out = r.stdout + r.stderr;
        assert.notEqual(r.code, 0, `exit code; output:\n${out}`);
        assert.equal(r.signal, null, `it exits, it does not crash (${r.signal})`);
        assert.match(out, new RegExp(key), `the message names ${key}:\n${out}`);
      });
    }

    it('an invalid value from the environment is refused too (LOG_LEVEL=loud)', async () => {
      const r = await runToExit(GATEWAY, ['--check-config'], { env: { LOG_LEVEL: 'loud' } });
      const out = r.stdout + r.stderr;
      assert.notEqual(r.code, 0, `exit code; output:\n${out}`);
      assert.match(out, /LOG_LEVEL/);
    });

    it('an invalid value stops the server from starting, naming the key', async () => {
      const port = await freePort();
      const r = await runToExit(GATEWAY, ['HOST=127.0.0.1', `PORT=${port}`, 'NODE_ENV=staging']);
      const out = r.stdout + r.stderr;
      assert.notEqual(r.code, 0, `exit code; output:\n${out}`);
      assert.match(out, /NODE_ENV/);
      assert.doesNotMatch(out, /listening on/);
    });

    describe('precedence: file < environment < command line', () => {
      let dir;
      let server = null;
      before(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), 'coup-e2e-'));
      });
      afterEach(async () => {
        const s = server;
        server = null;
        if (s) await s.stopAndCheck();
      });
      after(() => {
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      const healthOk = async (s) => {
        const { body } = await getJson(`${s.url}/health`);
        assert.equal(body.status, 'ok');
      };

      it('PORT=1 in the environment is overridden by a PORT= argument', async () => {
        // startServer passes PORT=<free port> as an argument and fails if the
        // server says it listens anywhere else.
        server = await startServer(GATEWAY, ['NODE_ENV=development'], { env: { PORT: '1' }, name: 'coup-gateway precedence' });
        await healthOk(server);
      });

      it('--config FILE: the file sets PORT when nothing else does', async () => {
        const port = await freePort();
        const file = path.join(dir, 'file-only.env');
        writeFileSync(file, `# a comment\nPORT=${port}\nHOST=127.0.0.1\nNODE_ENV=development\n`);
        server = await startServer(GATEWAY, ['--config', file], { port, hostArgs: false, name: 'coup-gateway config-file' });
        await healthOk(server);
      });

      it('--config FILE: the environment overrides the file', async () => {
        const filePort = await freePort();
        const envPort = await freePort();
        const file = path.join(dir, 'env-wins.env');
        writeFileSync(file, `PORT=${filePort}\nHOST=127.0.0.1\n`);
        server = await startServer(GATEWAY, ['--config', file], {
          port: envPort,
          hostArgs: false,
          env: { PORT: String(envPort) },
          name: 'coup-gateway config-env',
        });
        await healthOk(server);
      });

      it('--config FILE: an argument overrides the environment and the file', async () => {
        const filePort = await freePort();
        const envPort = await freePort();
        const argPort = await freePort();
        const file = path.join(dir, 'arg-wins.env');
        writeFileSync(file, `PORT=${filePort}\nHOST=127.0.0.1\n`);
        server = await startServer(GATEWAY, ['--config', file, `PORT=${argPort}`], {
          port: argPort,
          hostArgs: false,
          env: { PORT: String(envPort) },
          name: 'coup-gateway config-arg',
        });
        await healthOk(server);
      });
    });
  });
});
