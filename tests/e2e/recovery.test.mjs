// coup-gateway: Socket.IO connection state recovery (RECOVERY_WINDOW_MS)
// with the real socket.io-client, through a TCP proxy that cuts a
// connection without a WebSocket close frame, as a lost network does.
//
// What a user checks: after the blip the socket has its old id and
// socket.recovered is true, the peer saw no video:user-left, what was sent
// to the cut client meanwhile arrives once and in order, and the call goes
// on both ways; a deliberate disconnect still leaves at once; another
// user's pid is no way into a session.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { skipReason, HOST } from './lib/server.mjs';
import { uniq, Peer, useGateway } from './lib/coup.mjs';

const SKIP = skipReason('COUP_GATEWAY');

/** A TCP proxy to port `to` whose connections can all be cut (RST). */
async function startProxy(to) {
  const pairs = new Set();
  let downUntil = 0;
  const server = net.createServer((client) => {
    if (Date.now() < downUntil) {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(to, HOST);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return {
    url: `http://${HOST}:${server.address().port}`,
    /** Reset every connection: no close frame, no FIN to read; and
     * for downMs, every new one too (a network that is away a while:
     * what a long-polling client, which opens a connection per request,
     * notices). */
    cut(downMs = 0) {
      downUntil = Date.now() + downMs;
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      pairs.clear();
    },
    close() {
      this.cut();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

async function joinVideo(peer, studyId) {
  const roomId = `study-${studyId}-main`;
  peer.emit('video:join-room', { studyId, roomId });
  await peer.next('video:room-state', { what: `video:room-state after joining ${roomId}` });
  return roomId;
}

describe('connection state recovery (RECOVERY_WINDOW_MS)', { skip: SKIP }, () => {
  const g = useGateway(['RECOVERY_WINDOW_MS=30000', 'PING_INTERVAL_MS=500', 'PING_TIMEOUT_MS=500']);

  /** A peer whose connection goes through a proxy, reconnecting. */
  async function cuttablePeer(label, proxy, user = null, transports = ['websocket']) {
    const u = user ?? g.user(label);
    const socket = g.clients.open(proxy.url, {
      transports,
      auth: { userId: u.id, token: `tok-${u.id}` },
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 200,
    });
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return new Peer(socket, u, label);
  }

  function reconnected(peer) {
    return new Promise((resolve) => peer.socket.once('connect', resolve));
  }

  const KINDS = [
    ['WebSocket', ['websocket']],
    ['long-polling', ['polling']],
    ['upgraded (polling, then WebSocket)', ['polling', 'websocket']],
  ];
  for (const [kind, transports] of KINDS) it(`a cut ${kind} client comes back with its id, its room and every event it missed, once and in order`, async () => {
    const proxy = await startProxy(new URL(g.url).port);
    try {
      const study = uniq('s');
      const a = await g.peer('A');
      const b = await cuttablePeer('B', proxy, null, transports);
      if (transports.length > 1 && b.socket.io.engine.transport.name !== 'websocket') {
        await new Promise((resolve) => b.socket.io.engine.once('upgrade', resolve));
      }
      const roomId = await joinVideo(a, study);
      await joinVideo(b, study);
      await a.next('video:user-joined', { what: 'A sees B join' });
      const idBefore = b.socket.id;

      const back = reconnected(b);
      proxy.cut(transports[0] === 'polling' ? 1500 : 0);
      // While B is away, A relays to B's socket id and chats in the room.
      for (let i = 0; i < 5; i++) a.emit('video:offer', { to: idBefore, offer: { type: 'offer', sdp: `sdp-${i}` } });
      a.emit('chat:video-message', { roomId, message: 'while you were away' });
      await a.next('chat:video-message-received', { what: 'A hears its own room message' });
      await back;

      assert.equal(b.socket.recovered, true, 'socket.recovered after the blip');
      assert.equal(b.socket.id, idBefore, 'the same socket id');
      const offers = [];
      for (let i = 0; i < 5; i++) offers.push((await b.next('video:offer', { what: `missed offer ${i}` })).offer.sdp);
      assert.deepEqual(offers, ['sdp-0', 'sdp-1', 'sdp-2', 'sdp-3', 'sdp-4'], 'the missed offers, in order');
      await b.next('chat:video-message-received', { what: 'the missed room message' });

      // The call goes on both ways, and nothing came twice.
      b.emit('video:answer', { to: a.sid, answer: { type: 'answer', sdp: 'back' } });
      assert.equal((await a.next('video:answer', { what: "B's answer after recovery" })).answer.sdp, 'back');
      a.emit('video:offer', { to: idBefore, offer: { type: 'offer', sdp: 'after' } });
      assert.equal((await b.next('video:offer', { what: 'an offer after recovery' })).offer.sdp, 'after');
      assert.equal(b.all('video:offer').length, 6, 'every offer exactly once');
      assert.equal(b.all('chat:video-message-received').length, 1, 'the room message once');
      assert.equal(a.all('video:user-left').length, 0, 'A never saw B leave');
      const metrics = await (await fetch(`${g.url}/metrics`)).json();
      assert.ok(metrics.recovery.recovered >= 1, `/metrics counts the recovery: ${JSON.stringify(metrics.recovery)}`);
    } finally {
      await proxy.close();
    }
  });

  /** A and B in a call; B leaves by `how`; A must see it at once. */
  async function leavesAtOnce(how) {
    const study = uniq('s');
    const a = await g.peer('A');
    const b = await g.peer('B');
    await joinVideo(a, study);
    await joinVideo(b, study);
    await a.next('video:user-joined', { what: 'A sees B join' });
    how(b.socket);
    const left = await a.next('video:user-left', { what: 'A sees B leave', timeoutMs: 3000 });
    assert.equal(left.userId, b.userId);
  }

  it('a page closed (a WebSocket close frame) leaves at once', () => leavesAtOnce((s) => s.io.engine.close()));

  it('a deliberate disconnect() still leaves at once', () => leavesAtOnce((s) => s.disconnect()));

  it("another user's pid does not recover that user's session", async () => {
    const proxy = await startProxy(new URL(g.url).port);
    try {
      const study = uniq('s');
      const a = await g.peer('A');
      const b = await cuttablePeer('B', proxy);
      await joinVideo(a, study);
      await joinVideo(b, study);
      await a.next('video:user-joined', { what: 'A sees B join' });
      const pid = b.socket._pid;
      assert.equal(typeof pid, 'string', 'the CONNECT answer carries a pid');
      assert.ok(pid.length >= 22, 'a pid of at least 128 bits');
      b.socket.io.reconnection(false);
      proxy.cut();
      // Mallory presents B's pid with her own credentials.
      const m = g.user('M');
      const mallory = g.clients.open(g.url, { transports: ['websocket'], auth: { pid, offset: undefined, userId: m.id, token: `tok-${m.id}` } });
      await new Promise((resolve, reject) => {
        mallory.once('connect', resolve);
        mallory.once('connect_error', reject);
      });
      assert.notEqual(mallory.id, b.id, "not B's socket id");
      assert.notEqual(mallory.recovered, true, 'not recovered');
    } finally {
      await proxy.close();
    }
  });
});

describe('connection state recovery: a window that ends', { skip: SKIP }, () => {
  const g = useGateway(['RECOVERY_WINDOW_MS=400']);

  it('a client not back within RECOVERY_WINDOW_MS leaves as a disconnect does', async () => {
    const proxy = await startProxy(new URL(g.url).port);
    try {
      const study = uniq('s');
      const a = await g.peer('A');
      const u = g.user('B');
      const b = new Peer(g.clients.open(proxy.url, { transports: ['websocket'], auth: { userId: u.id, token: `tok-${u.id}` } }), u, 'B');
      await new Promise((resolve) => b.socket.once('connect', resolve));
      b.id = b.socket.id;
      await joinVideo(a, study);
      await joinVideo(b, study);
      await a.next('video:user-joined', { what: 'A sees B join' });
      const cutAt = Date.now();
      proxy.cut();
      const left = await a.next('video:user-left', { what: 'A sees B leave once the window is over', timeoutMs: 5000 });
      assert.equal(left.userId, b.userId);
      assert.ok(Date.now() - cutAt >= 350, `not before the window (${Date.now() - cutAt} ms)`);
      const metrics = await (await fetch(`${g.url}/metrics`)).json();
      assert.equal(metrics.recovery.held, 0, 'none held any more');
      assert.ok(metrics.recovery.expired >= 1, `/metrics counts the expiry: ${JSON.stringify(metrics.recovery)}`);
    } finally {
      await proxy.close();
    }
  });
});
