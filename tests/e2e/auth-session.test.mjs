// AUTH_SOURCE: who a connecting user is. With `session` the gateway sends
// the handshake's NextAuth session cookie to the CoUp API's GET
// /api/auth/me (the stand-in answers as the app's route does) and a
// CONNECT that claims another user than the session's is refused; with
// `session-or-verify` a handshake without a cookie is verified as before;
// the default, `verify`, is the old behaviour, cookie or not. The real
// socket.io-client sends the cookie as a browser would, with the
// handshake (extraHeaders), over WebSocket and long-polling.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { skipReason } from './lib/server.mjs';
import { uniq, useGateway } from './lib/coup.mjs';

const SKIP = skipReason('COUP_GATEWAY');
const COOKIE = 'next-auth.session-token';

/** Connect with `auth` and `cookie`; {ok, socket} or {ok:false, message}. */
function attempt(g, { auth, cookie, transports = ['websocket'] }) {
  const socket = g.clients.open(g.url, { transports, auth, ...(cookie ? { extraHeaders: { cookie } } : {}) });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ ok: true, socket }));
    socket.once('connect_error', (err) => resolve({ ok: false, message: err.message, socket }));
  });
}

/** A user of the stand-in with a session: its cookie value. */
function withSession(g, label) {
  const u = g.user(label);
  const token = uniq(`sess-${label}`);
  g.api.setSession(token, u.id);
  return { ...u, token, cookie: `${COOKIE}=${token}` };
}

/** The user a connected socket is, as its study says (presence:study-joined). */
async function whoAmI(socket) {
  const studyId = uniq('s');
  socket.emit('presence:join-study', { studyId });
  const joined = await new Promise((resolve) => socket.once('presence:study-joined', resolve));
  return joined.users[0];
}

describe('AUTH_SOURCE=session', { skip: SKIP }, () => {
  const g = useGateway(['AUTH_SOURCE=session', 'LOG_LEVEL=debug']);

  for (const transports of [['websocket'], ['polling']]) {
    it(`${transports[0]}: a session of A claiming to be B is refused; claiming A it is A`, async () => {
      const a = withSession(g, 'A');
      const b = g.user('B');
      const lie = await attempt(g, { auth: { userId: b.id }, cookie: a.cookie, transports });
      assert.equal(lie.ok, false, 'refused');
      assert.equal(lie.message, 'Authentication failed');
      const truth = await attempt(g, { auth: { userId: a.id }, cookie: a.cookie, transports });
      assert.equal(truth.ok, true, `accepted: ${truth.message}`);
      const me = await whoAmI(truth.socket);
      assert.equal(me.userId, a.id);
      assert.equal(me.user.name, a.name, "the user is the API's");
    });
  }

  it('no cookie, or a cookie of no session, is refused; without a claim the session says who it is', async () => {
    const a = withSession(g, 'A');
    const none = await attempt(g, { auth: { userId: a.id } });
    assert.deepEqual([none.ok, none.message], [false, 'Authentication failed'], 'no cookie');
    const stale = await attempt(g, { auth: { userId: a.id }, cookie: `${COOKIE}=${uniq('expired')}` });
    assert.deepEqual([stale.ok, stale.message], [false, 'Authentication failed'], 'a session the API does not know');
    const silent = await attempt(g, { auth: {}, cookie: a.cookie });
    assert.equal(silent.ok, true, `no userId claimed: ${silent.message}`);
    assert.equal((await whoAmI(silent.socket)).userId, a.id, "the session's user");
  });

  it("only the session cookies go to the API, and neither the cookie nor the handshake's others reach the log", async () => {
    const a = withSession(g, 'A');
    g.api.clearCalls();
    const r = await attempt(g, { auth: { userId: a.id }, cookie: `theme=dark; ${a.cookie}; _ga=secret-${a.token}x` });
    assert.equal(r.ok, true, r.message);
    const calls = g.api.meCalls();
    assert.equal(calls.length, 1, 'one GET /api/auth/me');
    assert.equal(calls[0].method, 'GET');
    assert.equal(calls[0].headers.cookie, a.cookie, 'the session cookie alone');
    assert.equal(g.api.verifyCalls().length, 0, 'no verify call');
    r.socket.disconnect();
    const log = g.server.tail.join('\n');
    assert.ok(log.includes('asking the CoUp API whose session'), 'the debug log is on and says what it did');
    assert.ok(!log.includes(a.token), 'the cookie is never logged');
  });

  it('an inactive user\'s session gets the inactive refusal', async () => {
    const u = g.user('I');
    g.api.setUser(u.id, { name: u.name, status: 'SUSPENDED' });
    const token = uniq('sess-I');
    g.api.setSession(token, u.id);
    const r = await attempt(g, { auth: { userId: u.id }, cookie: `${COOKIE}=${token}` });
    assert.deepEqual([r.ok, r.message], [false, 'User not found or inactive']);
  });

  it('the API down: refused in production, never let in on a claim', async () => {
    const a = withSession(g, 'A');
    g.api.setFailure('down', { only: 'verify' });
    const r = await attempt(g, { auth: { userId: a.id }, cookie: a.cookie });
    assert.equal(r.ok, false);
    assert.equal(r.message, 'Failed to authenticate with server', 'the old server\'s words');
  });
});

describe('AUTH_SOURCE=session with AUTH_CACHE_TTL', { skip: SKIP }, () => {
  const g = useGateway(['AUTH_SOURCE=session', 'AUTH_CACHE_TTL=60']);

  it('the cache keys on the cookie: the same session twice asks the API once, another session asks again', async () => {
    const a = withSession(g, 'A');
    const b = withSession(g, 'B');
    g.api.clearCalls();
    for (let i = 0; i < 2; i++) assert.equal((await attempt(g, { auth: { userId: a.id }, cookie: a.cookie })).ok, true);
    assert.equal(g.api.meCalls().length, 1, 'one call for two connections of one session');
    const lie = await attempt(g, { auth: { userId: a.id }, cookie: b.cookie });
    assert.equal(lie.ok, false, "B's session claiming A, even with A's session cached");
    assert.equal(g.api.meCalls().length, 2);
  });
});

describe('AUTH_SOURCE=session-or-verify', { skip: SKIP }, () => {
  const g = useGateway(['AUTH_SOURCE=session-or-verify']);

  it('with a cookie, the session decides; without one, verify as before', async () => {
    const a = withSession(g, 'A');
    const b = g.user('B');
    const lie = await attempt(g, { auth: { userId: b.id }, cookie: a.cookie });
    assert.deepEqual([lie.ok, lie.message], [false, 'Authentication failed'], 'a session of A claiming B');
    g.api.clearCalls();
    const plain = await attempt(g, { auth: { userId: b.id, token: `tok-${b.id}` } });
    assert.equal(plain.ok, true, plain.message);
    assert.equal(g.api.verifyCalls().length, 1, 'verified');
    assert.equal(g.api.meCalls().length, 0, 'no session asked about');
  });
});

describe('AUTH_SOURCE=verify (the default)', { skip: SKIP }, () => {
  const g = useGateway([]);

  it('a cookie changes nothing: the claim is verified as before, no session is asked about', async () => {
    const a = withSession(g, 'A');
    const b = g.user('B');
    g.api.clearCalls();
    const r = await attempt(g, { auth: { userId: b.id }, cookie: a.cookie });
    assert.equal(r.ok, true, r.message);
    assert.equal((await whoAmI(r.socket)).userId, b.id, 'the claimed user, verified');
    assert.equal(g.api.meCalls().length, 0);
    assert.equal(g.api.verifyCalls().length, 1);
  });
});
