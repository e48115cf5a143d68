// coup.mjs - what the end-to-end tests of the CoUp contract share: a
// recording socket.io-client peer, the checks of a refusal (contract
// section 5), and a gateway with its API stand-in per suite.

import { before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, binaryFromEnv } from './server.mjs';
import { safeJson } from './wait.mjs';
import { Clients } from './sio-client.mjs';
import { startMockApi } from './mock-api.mjs';

const GATEWAY = binaryFromEnv('COUP_GATEWAY');

let seq = 0;
const uniq = (p) => `${p}-${process.pid}-${Date.now().toString(36)}-${++seq}`;

/** A connected socket.io-client socket that records every event it gets. */
class Peer {
  constructor(socket, user, label) {
    this.socket = socket;
    this.user = user;
    this.userId = user.id;
    this.label = label;
    this.id = socket.id; // socket.io-client forgets its id on disconnect
    this.log = [];
    this.waiters = new Set();
    this.disconnects = [];
    socket.onAny((event, ...args) => {
      const e = { event, data: args[0], args, taken: false, at: Date.now() };
      this.log.push(e);
      for (const w of this.waiters) {
        if (w.match(e)) {
          e.taken = true;
          w.done(e);
          break;
        }
      }
    });
    socket.on('disconnect', (reason) => this.disconnects.push(reason));
  }

  get sid() {
    return this.id;
  }

  get name() {
    return `${this.label} (${this.userId}, ${this.sid})`;
  }

  /** Payloads of every `event` received so far (taken or not). */
  all(event, filter = null) {
    return this.log.filter((e) => e.event === event && (!filter || filter(e.data))).map((e) => e.data);
  }

  summary(n = 15) {
    return this.log
      .slice(-n)
      .map((e) => `${e.event} ${safeJson(e.args.length > 1 ? e.args : e.data)}`)
      .join('\n    ');
  }

  /** The first not yet taken `event` (matching filter), received or to come. */
  next(event, { filter = null, timeoutMs = 5000, what } = {}) {
    const match = (e) => !e.taken && e.event === event && (!filter || filter(e.data));
    const found = this.log.find(match);
    if (found) {
      found.taken = true;
      return Promise.resolve(found.data);
    }
    return new Promise((resolve, reject) => {
      const w = {
        match,
        done: (e) => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(e.data);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(
          new Error(
            `${this.name}: timed out after ${timeoutMs} ms waiting for ${what ?? `"${event}"`}\n` +
              `  last events received:\n    ${this.summary() || '(none)'}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Like next(), but an event already taken counts too. */
  async seen(event, opts = {}) {
    const f = opts.filter;
    const done = this.log.find((e) => e.event === event && (!f || f(e.data)));
    if (done) return done.data;
    return this.next(event, opts);
  }

  emit(event, ...args) {
    this.socket.emit(event, ...args);
  }

  /** Mark everything received so far as taken: next() waits for new events. */
  drain() {
    for (const e of this.log) e.taken = true;
  }

  /** Emit with an ack callback; resolves with the ack's first argument. */
  async ack(event, args = [], timeoutMs = 5000) {
    try {
      return await this.socket.timeout(timeoutMs).emitWithAck(event, ...args);
    } catch (err) {
      throw new Error(`${this.name}: no ack for "${event}" ${safeJson(args)} within ${timeoutMs} ms (${err.message})`);
    }
  }

  /** A round trip on this connection (chat:mark-read with an ack). */
  async roundTrip() {
    const res = await this.ack('chat:mark-read', [{ messageIds: [] }]);
    assert.equal(res?.ok, true, `${this.name}: ack of chat:mark-read (the round trip): ${safeJson(res)}`);
  }

  /** Assert no `event` (matching filter) was received. */
  none(event, filter = null, why = '') {
    const got = this.all(event, filter);
    assert.equal(got.length, 0, `${this.name} must not receive "${event}"${why ? ` (${why})` : ''}; got ${safeJson(got)}`);
  }
}

function assertRefusal(obj, code, message, where) {
  assert.ok(obj && typeof obj === 'object', `${where}: expected an object, got ${safeJson(obj)}`);
  assert.equal(obj.code, code, `${where}: code; got ${safeJson(obj)}`);
  assert.equal(typeof obj.message, 'string', `${where}: message is a string; got ${safeJson(obj)}`);
  assert.ok(obj.message.length > 0, `${where}: message is not empty`);
  if (message !== undefined) assert.equal(obj.message, message, `${where}: message; got ${safeJson(obj)}`);
}

/** When `peer` last got an `error` of `code` (ms), or 0. */
function lastError(peer, code) {
  const e = peer.log.findLast((x) => x.event === 'error' && x.data?.code === code);
  return e ? e.at : 0;
}

// The server sends at most one `error` a second per code (contract §5);
// the client's clock is not the server's, so "surely in a new second"
// and "surely the same one" leave a margin around it.
const ERROR_QUIET_MS = 1000;
const CLOCK_MARGIN_MS = 150;

/**
 * Send `event` and expect it to be refused with `code`: first without an
 * ack (the `error` event: waiting out the error throttle first if an
 * error of that code came less than a second ago), then with one (the ack
 * {ok:false, code, message}, and the `error` event unless the throttle
 * held it back).
 */
async function expectError(peer, event, args, code, message, { timeoutMs = 5000, plain = true, withAck = true } = {}) {
  if (plain) {
    const since = Date.now() - lastError(peer, code);
    if (since < ERROR_QUIET_MS + CLOCK_MARGIN_MS) await new Promise((r) => setTimeout(r, ERROR_QUIET_MS + CLOCK_MARGIN_MS - since));
    peer.emit(event, ...args);
    const err = await peer.next('error', { timeoutMs, filter: (e) => e?.code === code, what: `"error" ${code} for ${event} ${safeJson(args)}` });
    assertRefusal(err, code, message, `"error" event for ${event} ${safeJson(args)}`);
  }
  if (withAck) {
    const before = lastError(peer, code);
    const t0 = Date.now();
    const res = await peer.ack(event, args, timeoutMs);
    assertRefusal(res, code, message, `ack of ${event} ${safeJson(args)}`);
    assert.equal(res.ok, false, `ack of ${event}: ok is false; got ${safeJson(res)}`);
    // The server writes the `error` before the ack: it is here already.
    const err = peer.log.find((e) => !e.taken && e.event === 'error' && e.data?.code === code && e.at >= t0);
    if (err) {
      err.taken = true;
      assertRefusal(err.data, code, message, `"error" event for ${event} with an ack`);
    }
    const t1 = Date.now();
    if (err) assert.ok(err.at - before >= ERROR_QUIET_MS - CLOCK_MARGIN_MS, `at most one "error" ${code} a second: got another ${err.at - before} ms after the last`);
    else assert.ok(t1 - before < ERROR_QUIET_MS + CLOCK_MARGIN_MS, `"error" ${code} for ${event} with an ack (none for ${t1 - before} ms before)`);
    return res;
  }
  return undefined;
}

/**
 * A gateway (and its mock API) for the tests of one describe block.
 * args: extra KEY=VALUE; env: NODE_ENV; vars: environment variables of
 * the gateway (and so of its room processes); wrap: see startServer.
 */
function useGateway(args = [], { env = 'production', name = 'coup-gateway', vars = {}, wrap = [] } = {}) {
  const ctx = { api: null, server: null, url: null, clients: new Clients() };
  before(async () => {
    ctx.api = await startMockApi();
    ctx.server = await startServer(GATEWAY, [`NODE_ENV=${env}`, `NEXTJS_URL=${ctx.api.url}`, 'LOG_LEVEL=info', ...args], { name, env: vars, wrap });
    ctx.url = ctx.server.url;
  });
  afterEach(() => {
    ctx.clients.closeAll();
    if (ctx.api) ctx.api.setFailure(null);
    if (ctx.server && !ctx.server.running) {
      throw new Error(`the gateway died (${ctx.server.describeExit()})\n--- last stderr lines ---\n${ctx.server.stderrTail()}`);
    }
  });
  after(async () => {
    ctx.clients.closeAll();
    try {
      if (ctx.server) await ctx.server.stopAndCheck();
    } finally {
      if (ctx.api) await ctx.api.close();
    }
  });
  /** A new user known to the mock API, with every field set. */
  ctx.user = (label) => {
    const id = uniq(`u${label}`);
    const user = { id, name: `사용자 ${label} ${id}`, email: `${id}@coup.test`, avatar: `https://cdn.coup.test/${id}.png` };
    ctx.api.setUser(id, { name: user.name, email: user.email, avatar: user.avatar, status: 'ACTIVE' });
    return user;
  };
  /** Connect a new user (websocket only unless opts say otherwise). */
  ctx.peer = async (label, opts = {}, user = null) => {
    const u = user ?? ctx.user(label);
    const socket = await ctx.clients.connect(ctx.url, {
      transports: ['websocket'],
      auth: { userId: u.id, token: `tok-${u.id}` },
      ...opts,
    });
    return new Peer(socket, u, label);
  };
  return ctx;
}

/**
 * A peer of ctx (a gateway's or a cluster's: user() and clients) that
 * connects to url (a proxy, a balancer) and reconnects quickly, as the
 * recovery tests need.
 */
async function reconnectingPeer(ctx, label, url, { user = null, transports = ['websocket'] } = {}) {
  const u = user ?? ctx.user(label);
  const socket = ctx.clients.open(url, {
    transports,
    auth: { userId: u.id, token: `tok-${u.id}` },
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 300,
  });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return new Peer(socket, u, label);
}

export { uniq, Peer, assertRefusal, expectError, useGateway, reconnectingPeer };
