// Authentication of a CONNECT (contract §2) end to end: the real
// socket.io-client against coup-gateway, with the stand-in of the CoUp
// Next.js API (lib/mock-api.mjs) answering /api/auth/verify. Every outcome
// of §2 in production and in development, what the API receives (body,
// headers), the cache (AUTH_CACHE_TTL) and the sharing of one call among
// identical concurrent verifications.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startServer, binaryFromEnv, skipReason } from './lib/server.mjs';
import { pollUntil, delay, withTimeout } from './lib/wait.mjs';
import { Clients } from './lib/sio-client.mjs';
import { startMockApi } from './lib/mock-api.mjs';
import { request } from './lib/eio-polling.mjs';

const GATEWAY = binaryFromEnv('COUP_GATEWAY');
const SKIP = skipReason('COUP_GATEWAY');

const MSG_NO_USER_ID = 'Authentication required: userId missing';
const MSG_REJECTED = 'Authentication failed';
const MSG_INACTIVE = 'User not found or inactive';
const MSG_UNREACHABLE = 'Failed to authenticate with server';

// Small enough to keep the timeout tests quick, large enough for a loaded
// machine running the sanitizer build.
const AUTH_TIMEOUT_MS = 600;

const USERS = {
  u1: { name: 'Kim', email: 'kim@example.test', avatar: 'https://example.test/kim.png' },
  42: { name: 'Numeric', email: null },
  sleeper: { name: 'Inactive Person', status: 'INACTIVE' },
};

function gateway(api, nodeEnv, extra = [], name = `coup-gateway ${nodeEnv}`) {
  return startServer(
    GATEWAY,
    [`NODE_ENV=${nodeEnv}`, `NEXTJS_URL=${api.url}`, `AUTH_TIMEOUT_MS=${AUTH_TIMEOUT_MS}`, 'LOG_LEVEL=info', ...extra],
    { name },
  );
}

/**
 * Open a client and wait for the outcome of its CONNECT: resolves with
 * { ok: true, socket } or { ok: false, message, data } for a connect_error.
 */
async function attempt(clients, url, auth, { timeoutMs = 5000, transports = ['websocket'] } = {}) {
  const opts = { transports };
  if (auth !== undefined) opts.auth = auth;
  const socket = clients.open(url, opts);
  const outcome = await withTimeout(
    new Promise((resolve) => {
      socket.once('connect', () => resolve({ ok: true, socket }));
      socket.once('connect_error', (err) => resolve({ ok: false, message: err.message, data: err.data, socket }));
    }),
    timeoutMs,
    `the outcome of a CONNECT with auth ${JSON.stringify(auth)}`,
  );
  return outcome;
}

async function assertRefused(clients, url, auth, message, opts) {
  const r = await attempt(clients, url, auth, opts);
  assert.equal(r.ok, false, `CONNECT with auth ${JSON.stringify(auth)} should be refused with "${message}"`);
  assert.equal(r.message, message, `the CONNECT_ERROR message for auth ${JSON.stringify(auth)}`);
  return r;
}

async function assertAccepted(clients, url, auth, opts) {
  const r = await attempt(clients, url, auth, opts);
  assert.equal(r.ok, true, `CONNECT with auth ${JSON.stringify(auth)} should be accepted, got "${r.message}"`);
  return r.socket;
}

async function health(url) {
  const res = await request(`${url}/health`);
  assert.equal(res.status, 200, `GET /health: ${res.status ?? res.error?.message}`);
  return JSON.parse(res.body);
}

describe('CONNECT authentication against the CoUp API', { skip: SKIP }, () => {
  const clients = new Clients();
  afterEach(() => clients.closeAll());

  describe('production', () => {
    let api;
    let server;
    before(async () => {
      api = await startMockApi({ users: USERS });
      server = await gateway(api, 'production');
    });
    afterEach(() => {
      api.setFailure(null);
      api.setLatency(0);
      api.clearCalls();
    });
    after(async () => {
      clients.closeAll();
      try {
        if (server) await server.stopAndCheck();
      } finally {
        if (api) await api.close();
      }
    });

    it('an ACTIVE user is accepted; the API got POST /api/auth/verify, JSON {"userId"}, the Bearer token', async () => {
      await assertAccepted(clients, server.url, { userId: 'u1', token: 'secret-token.abc' });
      const calls = api.verifyCalls();
      assert.equal(calls.length, 1, 'one verify call');
      const c = calls[0];
      assert.equal(c.method, 'POST');
      assert.equal(c.path, '/api/auth/verify');
      assert.match(c.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(c.headers.authorization, 'Bearer secret-token.abc');
      assert.equal(c.headers.expect, undefined, 'no Expect: 100-continue');
      assert.deepEqual(JSON.parse(c.rawBody), { userId: 'u1' }, 'the body is exactly {"userId":"u1"}');
    });

    it('over polling too (the default socket.io-client transport)', async () => {
      await assertAccepted(clients, server.url, { userId: 'u1', token: 't' }, { transports: ['polling'] });
      assert.equal(api.verifyCalls().length, 1);
    });

    it('without a token: no Authorization header, still accepted', async () => {
      await assertAccepted(clients, server.url, { userId: 'u1' });
      const calls = api.verifyCalls();
      assert.equal(calls.length, 1);
      assert.equal(calls[0].headers.authorization, undefined, 'no Authorization header');
      assert.deepEqual(calls[0].body, { userId: 'u1' });
    });

    it('a numeric userId is sent as its decimal string and accepted', async () => {
      await assertAccepted(clients, server.url, { userId: 42 });
      const calls = api.verifyCalls();
      assert.equal(calls.length, 1);
      assert.deepEqual(JSON.parse(calls[0].rawBody), { userId: '42' }, 'userId 42 becomes "42"');
    });

    it('a large numeric userId keeps every digit (no exponent, no ".0")', async () => {
      api.setUser('12345678901234', { name: 'Big' });
      try {
        await assertAccepted(clients, server.url, { userId: 12345678901234 });
        assert.deepEqual(JSON.parse(api.verifyCalls()[0].rawBody), { userId: '12345678901234' });
      } finally {
        api.removeUser('12345678901234');
      }
    });

    for (const [what, auth] of [
      ['no auth object at all', undefined],
      ['an auth object without userId', { token: 'x' }],
      ['an empty userId', { userId: '' }],
      ['a null userId', { userId: null }],
      ['a boolean userId', { userId: true }],
      ['an object userId', { userId: { id: 'u1' } }],
      ['an array userId', { userId: ['u1'] }],
    ]) {
      it(`${what}: "${MSG_NO_USER_ID}", and the API is not asked`, async () => {
        await assertRefused(clients, server.url, auth, MSG_NO_USER_ID);
        assert.equal(api.verifyCalls().length, 0, 'no verify call');
      });
    }

    it(`an unknown user (API 404): "${MSG_REJECTED}"`, async () => {
      await assertRefused(clients, server.url, { userId: 'nobody', token: 't' }, MSG_REJECTED);
      assert.equal(api.verifyCalls().length, 1);
    });

    it(`an inactive user (API 403): "${MSG_REJECTED}"`, async () => {
      await assertRefused(clients, server.url, { userId: 'sleeper' }, MSG_REJECTED);
    });

    it(`API 500: "${MSG_REJECTED}" (any non-2xx)`, async () => {
      api.setFailure('500');
      await assertRefused(clients, server.url, { userId: 'u1' }, MSG_REJECTED);
    });

    it(`a 2xx without a user: "${MSG_INACTIVE}"`, async () => {
      api.setFailure('no-user');
      await assertRefused(clients, server.url, { userId: 'u1' }, MSG_INACTIVE);
    });

    it(`a 2xx whose user is not ACTIVE: "${MSG_INACTIVE}"`, async () => {
      api.setFailure('inactive-200');
      await assertRefused(clients, server.url, { userId: 'u1' }, MSG_INACTIVE);
    });

    it(`API down (connection dropped): "${MSG_UNREACHABLE}"`, async () => {
      api.setFailure('down');
      await assertRefused(clients, server.url, { userId: 'u1' }, MSG_UNREACHABLE);
    });

    it(`API not answering within AUTH_TIMEOUT_MS: "${MSG_UNREACHABLE}", in bounded time`, async () => {
      api.setFailure('timeout');
      const t0 = Date.now();
      await assertRefused(clients, server.url, { userId: 'u1' }, MSG_UNREACHABLE);
      const took = Date.now() - t0;
      assert.ok(took >= AUTH_TIMEOUT_MS - 50, `refused after ${took} ms, before AUTH_TIMEOUT_MS=${AUTH_TIMEOUT_MS}`);
      assert.ok(took < AUTH_TIMEOUT_MS + 3000, `refused after ${took} ms, long after AUTH_TIMEOUT_MS=${AUTH_TIMEOUT_MS}`);
    });

    it(`an answer that is not JSON (HTML 200): "${MSG_UNREACHABLE}"`, async () => {
      api.setFailure('notjson');
      await assertRefused(clients, server.url, { userId: 'u1' }, MSG_UNREACHABLE);
    });

    it('a check-member failure switch does not affect verify', async () => {
      api.setFailure('down', { only: 'member' });
      await assertAccepted(clients, server.url, { userId: 'u1' });
    });

    it('after the API comes back, users are accepted again and the server still counts right', async () => {
      api.setFailure('down');
      await assertRefused(clients, server.url, { userId: 'u1' }, MSG_UNREACHABLE);
      api.setFailure(null);
      const s = await assertAccepted(clients, server.url, { userId: 'u1' });
      const h = await pollUntil(
        async () => {
          const v = await health(server.url);
          return { ok: v.connections === 1, value: v };
        },
        { attempts: 30, intervalMs: 100, what: '/health connections = 1 (the refused ones not counted)' },
      );
      assert.equal(h.connections, 1);
      s.disconnect();
    });
  });

  describe('development (NODE_ENV=development)', () => {
    let api;
    let server;
    before(async () => {
      api = await startMockApi({ users: USERS });
      server = await gateway(api, 'development');
    });
    afterEach(() => {
      api.setFailure(null);
      api.clearCalls();
    });
    after(async () => {
      clients.closeAll();
      try {
        if (server) await server.stopAndCheck();
      } finally {
        if (api) await api.close();
      }
    });

    for (const mode of ['down', 'timeout', 'notjson']) {
      it(`API ${mode}: the user is let in, and a warning is logged`, async () => {
        api.setFailure(mode);
        const userId = `dev-${mode}-user`;
        await assertAccepted(clients, server.url, { userId });
        assert.equal(api.verifyCalls().length, 1, 'the API was asked first');
        const warned = await pollUntil(
          async () => {
            const line = server.tail.find((l) => /warn/i.test(l) && l.includes(userId));
            return { ok: Boolean(line), value: line };
          },
          { attempts: 20, intervalMs: 50, what: `a warning naming ${userId}` },
        );
        assert.ok(warned);
      });
    }

    it(`an answer from the API still counts: unknown user (404) -> "${MSG_REJECTED}"`, async () => {
      await assertRefused(clients, server.url, { userId: 'nobody' }, MSG_REJECTED);
    });

    it(`API 500 is an answer, not "unreachable": "${MSG_REJECTED}"`, async () => {
      api.setFailure('500');
      await assertRefused(clients, server.url, { userId: 'u1' }, MSG_REJECTED);
    });

    it(`a 2xx without an ACTIVE user: "${MSG_INACTIVE}"`, async () => {
      api.setFailure('inactive-200');
      await assertRefused(clients, server.url, { userId: 'u1' }, MSG_INACTIVE);
    });

    it('a missing userId is refused in development too', async () => {
      await assertRefused(clients, server.url, {}, MSG_NO_USER_ID);
      assert.equal(api.verifyCalls().length, 0);
    });

    it('an ACTIVE user is accepted as in production', async () => {
      await assertAccepted(clients, server.url, { userId: 'u1', token: 'tok' });
      assert.equal(api.verifyCalls()[0].headers.authorization, 'Bearer tok');
    });
  });

  describe('AUTH_CACHE_TTL', () => {
    let api;
    let server = null;
    before(async () => {
      api = await startMockApi({ users: USERS });
    });
    afterEach(async () => {
      clients.closeAll();
      api.setFailure(null);
      api.clearCalls();
      const s = server;
      server = null;
      if (s) await s.stopAndCheck();
    });
    after(async () => {
      if (api) await api.close();
    });

    it('with a TTL, a reconnect within it makes no second API call', async () => {
      server = await gateway(api, 'production', ['AUTH_CACHE_TTL=60'], 'coup-gateway cache');
      const a = await assertAccepted(clients, server.url, { userId: 'u1', token: 'tok' });
      a.disconnect();
      await assertAccepted(clients, server.url, { userId: 'u1', token: 'tok' });
      assert.equal(api.verifyCalls().length, 1, 'the second connection was verified from the cache');
    });

    it('with a TTL, the cache is keyed by (userId, token): another token is asked about', async () => {
      server = await gateway(api, 'production', ['AUTH_CACHE_TTL=60'], 'coup-gateway cache');
      await assertAccepted(clients, server.url, { userId: 'u1', token: 'tok-a' });
      await assertAccepted(clients, server.url, { userId: 'u1', token: 'tok-b' });
      await assertAccepted(clients, server.url, { userId: 'u1' });
      await assertAccepted(clients, server.url, { userId: 'u1', token: 'tok-a' });
      const calls = api.verifyCalls();
      assert.deepEqual(
        calls.map((c) => c.headers.authorization),
        ['Bearer tok-a', 'Bearer tok-b', undefined],
        'one call per (userId, token); the repeat came from the cache',
      );
    });

    it('with a TTL, refusals and failures are not cached', async () => {
      server = await gateway(api, 'production', ['AUTH_CACHE_TTL=60'], 'coup-gateway cache');
      await assertRefused(clients, server.url, { userId: 'nobody' }, MSG_REJECTED);
      await assertRefused(clients, server.url, { userId: 'nobody' }, MSG_REJECTED);
      assert.equal(api.verifyCalls().length, 2, 'a refusal is not cached');
      api.setFailure('down');
      await assertRefused(clients, server.url, { userId: 'u1' }, MSG_UNREACHABLE);
      // (curl may retry once on a kept-alive connection that the "down" API
      // dropped, so that attempt may have reached the API twice.)
      const afterFailure = api.verifyCalls().length;
      assert.ok(afterFailure >= 3, 'the failed attempt asked the API');
      api.setFailure(null);
      await assertAccepted(clients, server.url, { userId: 'u1' });
      assert.equal(api.verifyCalls().length, afterFailure + 1, 'a failure is not cached: the next one asks again');
    });

    it('with a TTL, the entry expires', async () => {
      server = await gateway(api, 'production', ['AUTH_CACHE_TTL=1'], 'coup-gateway cache ttl 1');
      await assertAccepted(clients, server.url, { userId: 'u1' });
      await assertAccepted(clients, server.url, { userId: 'u1' });
      assert.equal(api.verifyCalls().length, 1, 'cached within the second');
      await delay(1300);
      await assertAccepted(clients, server.url, { userId: 'u1' });
      assert.equal(api.verifyCalls().length, 2, 'asked again after the TTL');
    });

    it('with AUTH_CACHE_TTL=0 (the default), every connection asks the API', async () => {
      server = await gateway(api, 'production', ['AUTH_CACHE_TTL=0'], 'coup-gateway no cache');
      const a = await assertAccepted(clients, server.url, { userId: 'u1', token: 'tok' });
      a.disconnect();
      await assertAccepted(clients, server.url, { userId: 'u1', token: 'tok' });
      assert.equal(api.verifyCalls().length, 2);
    });
  });

  describe('one call for concurrent identical verifications', () => {
    let api;
    let server;
    before(async () => {
      api = await startMockApi({ users: USERS });
      server = await gateway(api, 'production', [], 'coup-gateway coalescing');
    });
    afterEach(() => {
      api.setLatency(0);
      api.setFailure(null);
      api.clearCalls();
    });
    after(async () => {
      clients.closeAll();
      try {
        if (server) await server.stopAndCheck();
      } finally {
        if (api) await api.close();
      }
    });

    const waitVerifyCalls = (n) =>
      pollUntil(async () => ({ ok: api.verifyCalls().length >= n, value: api.verifyCalls().length }), {
        attempts: 100,
        intervalMs: 20,
        what: `${n} verify call(s) at the API`,
      });

    it('8 clients of the same (userId, token) at once while the API is slow: one verify call, all accepted', async () => {
      api.setLatency(400);
      const N = 8;
      const outcomes = await Promise.all(
        Array.from({ length: N }, () => attempt(clients, server.url, { userId: 'u1', token: 'same' }, { timeoutMs: 8000 })),
      );
      assert.deepEqual(outcomes.map((o) => o.ok), Array(N).fill(true), `all accepted: ${outcomes.map((o) => o.message)}`);
      assert.equal(api.verifyCalls().length, 1, 'one HTTP call for all of them');
    });

    it('different tokens are different questions: one call each', async () => {
      api.setLatency(300);
      const outcomes = await Promise.all([
        attempt(clients, server.url, { userId: 'u1', token: 'a' }),
        attempt(clients, server.url, { userId: 'u1', token: 'a' }),
        attempt(clients, server.url, { userId: 'u1', token: 'b' }),
        attempt(clients, server.url, { userId: 'u1', token: 'b' }),
        attempt(clients, server.url, { userId: 'nobody', token: 'a' }),
      ]);
      assert.deepEqual(outcomes.map((o) => o.ok), [true, true, true, true, false]);
      assert.equal(outcomes[4].message, MSG_REJECTED);
      assert.equal(api.verifyCalls().length, 3);
    });

    it('a shared failure reaches every waiter', async () => {
      api.setLatency(200);
      api.setFailure('500');
      const outcomes = await Promise.all(Array.from({ length: 4 }, () => attempt(clients, server.url, { userId: 'u1' })));
      assert.deepEqual(outcomes.map((o) => o.message), Array(4).fill(MSG_REJECTED));
      assert.equal(api.verifyCalls().length, 1);
    });

    it('a client that leaves while its verification is pending: no crash, the others still connect', async () => {
      api.setLatency(500);
      const leaving = clients.open(server.url, { transports: ['websocket'], auth: { userId: 'u1', token: 'x' } });
      const staying = attempt(clients, server.url, { userId: 'u1', token: 'x' }, { timeoutMs: 5000 });
      await waitVerifyCalls(1);
      // The engine closes under the pending CONNECT.
      leaving.disconnect();
      leaving.io.engine?.close();
      const r = await staying;
      assert.equal(r.ok, true, `the other client is accepted (${r.message})`);
      assert.equal(api.verifyCalls().length, 1);
      assert.ok(server.running, 'the gateway is still running');
    });

    it('the only waiter leaves: its call may be dropped, and the next client is verified normally', async () => {
      api.setLatency(400);
      const leaving = clients.open(server.url, { transports: ['websocket'], auth: { userId: 'u1', token: 'solo' } });
      await waitVerifyCalls(1);
      leaving.io.engine?.close();
      await delay(100);
      api.setLatency(0);
      await assertAccepted(clients, server.url, { userId: 'u1', token: 'solo' });
      await delay(500); // the first answer, if it still arrives, must find nobody
      assert.ok(server.running, 'the gateway is still running');
      await assertAccepted(clients, server.url, { userId: 'u1', token: 'solo' });
    });

    it('many clients leave while pending, with and without a shared call: the gateway keeps serving', async () => {
      api.setLatency(300);
      const opened = [];
      for (let i = 0; i < 20; i++) {
        opened.push(clients.open(server.url, { transports: ['websocket'], auth: { userId: `u${i % 3 === 0 ? 1 : 'x' + i}` } }));
      }
      await waitVerifyCalls(1);
      for (const s of opened) s.io.engine?.close();
      await delay(600);
      api.setLatency(0);
      assert.ok(server.running, 'the gateway is still running');
      await assertAccepted(clients, server.url, { userId: 'u1' });
      const h = await pollUntil(
        async () => {
          const v = await health(server.url);
          return { ok: v.connections === 1, value: v };
        },
        { attempts: 30, intervalMs: 100, what: '/health connections = 1 after the others left' },
      );
      assert.equal(h.connections, 1);
    });
  });

  describe('NEXTJS_URL changed by SIGHUP', () => {
    it('the next verification goes to the new API', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'coup-auth-'));
      const file = path.join(dir, 'gateway.env');
      const api1 = await startMockApi();
      const api2 = await startMockApi();
      let server = null;
      try {
        writeFileSync(file, `NODE_ENV=production\nNEXTJS_URL=${api1.url}\nLOG_LEVEL=info\n`);
        server = await startServer(GATEWAY, ['--config', file], { name: 'coup-gateway sighup' });
        await assertAccepted(clients, server.url, { userId: 'before' });
        writeFileSync(file, `NODE_ENV=production\nNEXTJS_URL=${api2.url}\nLOG_LEVEL=info\n`);
        server.proc.kill('SIGHUP');
        await pollUntil(
          async () => ({ ok: server.tail.some((l) => l.includes('NEXTJS_URL') && l.includes(api2.url)), value: server.stderrTail(5) }),
          { attempts: 50, intervalMs: 50, what: 'the gateway to log the new NEXTJS_URL' },
        );
        await assertAccepted(clients, server.url, { userId: 'after' });
        assert.deepEqual(api1.verifyCalls().map((c) => c.body.userId), ['before']);
        assert.deepEqual(api2.verifyCalls().map((c) => c.body.userId), ['after']);
      } finally {
        clients.closeAll();
        try {
          if (server) await server.stopAndCheck();
        } finally {
          await api1.close();
          await api2.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });
  });

  describe('NEXTJS_URL with a trailing slash', () => {
    it('still calls /api/auth/verify (no double slash)', async () => {
      const api = await startMockApi();
      let server = null;
      try {
        server = await startServer(
          GATEWAY,
          ['NODE_ENV=production', `NEXTJS_URL=${api.url}/`, 'LOG_LEVEL=info'],
          { name: 'coup-gateway slash' },
        );
        await assertAccepted(clients, server.url, { userId: 'anyone' });
        assert.deepEqual(api.calls.map((c) => c.path), ['/api/auth/verify']);
      } finally {
        clients.closeAll();
        try {
          if (server) await server.stopAndCheck();
        } finally {
          await api.close();
        }
      }
    });
  });
});

