// coup-gateway: Socket.IO connection state recovery (RECOVERY_WINDOW_MS)
// with the real socket.io-client, through a TCP proxy that cuts a
// connection without a WebSocket close frame, as a lost network does.
//
// What a user checks: after the blip the socket has its old id and
// socket.recovered is true, the peer saw no video:user-left, what was sent
// to the cut client meanwhile arrives once and in order, and the call goes
// on both ways; a deliberate disconnect still leaves at once; another
// user's pid is no way into a session.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { skipReason, binaryFromEnv, runToExit } from './lib/server.mjs';
import { uniq, Peer, useGateway, reconnectingPeer } from './lib/coup.mjs';
import { roomChild } from './lib/proc.mjs';
import { sioWs } from './lib/raw-ws.mjs';
import { startProxy } from './lib/cut-proxy.mjs';
import { pollUntil } from './lib/wait.mjs';

const SKIP = skipReason('COUP_GATEWAY');
const COUPCTL = binaryFromEnv('COUPCTL');

/** While B is away, A relays n offers to B's socket id and chats in the room. */
async function sendWhileAway(a, to, roomId, tag, n) {
  for (let i = 0; i < n; i++) a.emit('video:offer', { to, offer: { type: 'offer', sdp: `${tag}-${i}` } });
  a.emit('chat:video-message', { roomId, message: tag });
  await a.next('chat:video-message-received', { what: `A hears its own room message (${tag})` });
}

/** B is back with its id and gets what sendWhileAway sent, in order. */
async function expectMissed(b, idBefore, tag, n) {
  assert.equal(b.socket.recovered, true, 'socket.recovered after the blip');
  assert.equal(b.socket.id, idBefore, 'the same socket id');
  const sdps = [];
  for (let i = 0; i < n; i++) sdps.push((await b.next('video:offer', { what: `missed offer ${i}` })).offer.sdp);
  assert.deepEqual(sdps, Array.from({ length: n }, (_, i) => `${tag}-${i}`), 'the missed offers, in order');
  assert.equal((await b.next('chat:video-message-received', { what: 'the missed room message' })).message, tag);
}

/** A peer of gateway g whose connection goes through a proxy. */
const proxiedPeer = (g, label, proxy, user = null, transports = ['websocket']) => reconnectingPeer(g, label, proxy.url, { user, transports });

async function joinVideo(peer, studyId) {
  const roomId = `study-${studyId}-main`;
  peer.emit('video:join-room', { studyId, roomId });
  await peer.next('video:room-state', { what: `video:room-state after joining ${roomId}` });
  return roomId;
}

// The gateway's run directory, for coupctl.
const RUN_DIR = mkdtempSync(path.join(os.tmpdir(), 'coup-recovery-'));
const CTL_SOCK = path.join(RUN_DIR, 'coup-gateway.sock');
after(() => rmSync(RUN_DIR, { recursive: true, force: true }));

describe('connection state recovery (RECOVERY_WINDOW_MS)', { skip: SKIP || (!COUPCTL && 'COUPCTL is not set') }, () => {
  const g = useGateway(['RECOVERY_WINDOW_MS=30000', 'PING_INTERVAL_MS=500', 'PING_TIMEOUT_MS=500', `RUN_DIR=${RUN_DIR}`]);

  const cuttablePeer = (label, proxy, user = null, transports = ['websocket']) => proxiedPeer(g, label, proxy, user, transports);

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
      await sendWhileAway(a, idBefore, roomId, 'away', 5);
      await back;
      await expectMissed(b, idBefore, 'away', 5);

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
      // Deliberate disconnects first: the cut would leave them held.
      g.clients.closeAll();
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
      // B itself still can: its session was left held for it.
      const back = reconnected(b);
      b.socket.connect();
      await back;
      assert.equal(b.socket.recovered, true, 'B recovers its own session afterwards');
    } finally {
      // Deliberate disconnects first: the cut would leave them held.
      g.clients.closeAll();
      await proxy.close();
    }
  });

  /** A raw Socket.IO connection's next EVENT (array), answering pings. */
  async function nextEvent(r, name, seen = []) {
    for (;;) {
      const t = await r.ws.nextText({ timeoutMs: 5000, what: `the event ${name}` });
      if (t === '2') {
        r.ws.send('3');
        continue;
      }
      if (!t.startsWith('42')) continue;
      const arr = JSON.parse(t.slice(2));
      seen.push(arr);
      if (arr[0] === name) return arr;
    }
  }

  /** Answer n pings on a raw connection (what it reads meanwhile is kept). */
  async function answerPings(r, n, seen = []) {
    for (let pings = 0; pings < n; ) {
      const t = await r.ws.nextText({ timeoutMs: 5000, what: `ping ${pings + 1} of ${n}` });
      if (t === '2') {
        pings++;
        r.ws.send('3');
      } else if (t.startsWith('42')) seen.push(JSON.parse(t.slice(2)));
    }
  }

  async function metrics() {
    return (await fetch(`${g.url}/metrics`)).json();
  }

  /** Wait until coupctl shows socket `sid` of user `userId` as held. */
  async function waitHeld(userId, sid) {
    return pollUntil(async () => {
      const r = await runToExit(COUPCTL, ['-s', CTL_SOCK, '--json', 'user', userId]);
      const conns = r.code === 0 ? JSON.parse(r.stdout).connections : [];
      const c = conns.find((x) => x.socketId === sid);
      return { ok: c?.transport === 'held', value: r.stdout || r.stderr };
    }, { what: `coupctl to show ${sid} of ${userId} as held` });
  }

  it('while held a session keeps its rooms, flags and status: nobody hears it leave, go offline or stop typing; coupctl shows it "held"; afterwards a newcomer sees it as before', async () => {
    const proxy = await startProxy(new URL(g.url).port);
    try {
      const study = uniq('s');
      const roomId = `study-${study}-main`;
      const a = await g.peer('A');
      const b = await cuttablePeer('B', proxy);
      for (const p of [a, b]) {
        p.emit('presence:join-study', { studyId: study });
        await p.next('presence:study-joined', { what: `${p.label} joins the study` });
      }
      await joinVideo(a, study);
      await joinVideo(b, study);
      await a.next('video:user-joined', { what: 'A sees B join' });
      b.emit('video:toggle-audio', { roomId, isMuted: true });
      await a.next('video:peer-audio-changed', { what: 'A sees B mute' });
      b.emit('presence:status-change', { status: 'focus' });
      await a.next('presence:user-status-changed', { what: "A sees B's status" });
      b.emit('chat:typing', { studyId: study, isTyping: true });
      await a.next('chat:user-typing', { what: 'A sees B typing' });
      const idBefore = b.socket.id;

      const back = reconnected(b);
      proxy.cut(2500);
      await waitHeld(b.userId, idBefore);
      const during = await metrics();
      assert.ok(during.recovery.held >= 1, '/metrics counts it as held');
      assert.equal(during.roomDetails.find((r) => r.name === `video:${roomId}`)?.participants, 2, '/metrics still counts B in the call');
      assert.equal(during.roomDetails.find((r) => r.name === `study:${study}`)?.participants, 2, '/metrics still counts B in the study');
      // A relay to the held socket is accepted: no error for its sender.
      a.emit('video:ice-candidate', { to: idBefore, candidate: { candidate: 'while held' } });
      {
        const r = await runToExit(COUPCTL, ['-s', CTL_SOCK, '--json', 'room', `video:${roomId}`]);
        assert.equal(r.code, 0, `coupctl room: ${r.stderr}`);
        const members = JSON.parse(r.stdout).members;
        const mb = members.find((m) => m.socketId === idBefore);
        assert.ok(mb, `B is still a member: ${r.stdout}`);
        assert.equal(mb.transport, 'held', 'coupctl marks B as held');
        assert.equal(mb.isMuted, true, "B's flags kept");
        const human = await runToExit(COUPCTL, ['-s', CTL_SOCK, 'room', `video:${roomId}`]);
        assert.match(human.stdout, /held/, `coupctl room (human) shows held: ${human.stdout}`);
      }
      await back;
      assert.equal(b.socket.recovered, true, 'recovered');
      assert.equal(b.socket.id, idBefore, 'the same socket id');

      // A newcomer sees B as it was: muted, online with its status.
      const c = await g.peer('C');
      c.emit('presence:join-study', { studyId: study });
      const joined = await c.next('presence:study-joined', { what: 'C joins the study' });
      const ub = joined.users.find((u) => u.userId === b.userId);
      assert.ok(ub, `B is online for C: ${JSON.stringify(joined.users)}`);
      assert.equal(ub.status, 'focus', "B's status kept");
      assert.equal(joined.onlineCount, 3);
      c.emit('video:join-room', { studyId: study, roomId });
      const state = await c.next('video:room-state', { what: 'C joins the call' });
      const pb = state.participants.find((p) => p.socketId === idBefore);
      assert.ok(pb, `B is in the call for C: ${JSON.stringify(state.participants)}`);
      assert.equal(pb.isMuted, true, "B's microphone flag kept");
      await a.next('video:user-joined', { what: 'A sees C join' });

      a.none('video:user-left', null, 'A never saw B leave');
      a.none('presence:user-offline', null, 'A never saw B go offline');
      a.none('error', null, 'A was refused nothing');
      assert.equal((await b.next('video:ice-candidate', { what: 'the candidate sent while B was held' })).candidate.candidate, 'while held');
      assert.equal(a.all('chat:user-typing').length, 1, 'no typing event about B beyond its own');
    } finally {
      // Deliberate disconnects first: the cut would leave them held.
      g.clients.closeAll();
      await proxy.close();
    }
  });

  it('a room process killed with -9 while a member is held: the member is replayed into the new one and recovered, with what it missed', { timeout: 30000 }, async () => {
    const proxy = await startProxy(new URL(g.url).port);
    try {
      const study = uniq('s');
      const roomId = `study-${study}-main`;
      const a = await g.peer('A');
      const b = await cuttablePeer('B', proxy);
      await joinVideo(a, study);
      await joinVideo(b, study);
      await a.next('video:user-joined', { what: 'A sees B join' });
      const idBefore = b.socket.id;
      const gwPid = g.server.proc.pid;
      const victim = roomChild(gwPid, `video:${roomId}`);
      assert.ok(victim, 'the room has a process');

      const back = reconnected(b);
      proxy.cut(3000);
      await waitHeld(b.userId, idBefore);
      process.kill(victim.pid, 'SIGKILL');
      const fresh = await pollUntil(() => {
        const c = roomChild(gwPid, `video:${roomId}`);
        return { ok: c !== null && c.pid !== victim.pid, value: c };
      }, { attempts: 100, intervalMs: 50, what: 'a new process for the room' });
      assert.notEqual(fresh.pid, victim.pid);
      await sendWhileAway(a, idBefore, roomId, 'after-kill', 3);
      await back;
      await expectMissed(b, idBefore, 'after-kill', 3);
      b.emit('video:answer', { to: a.sid, answer: { type: 'answer', sdp: 'still here' } });
      assert.equal((await a.next('video:answer', { what: "B's answer through the new process" })).answer.sdp, 'still here');
      a.none('video:user-left', null, 'A never saw B leave');
    } finally {
      // Deliberate disconnects first: the cut would leave them held.
      g.clients.closeAll();
      await proxy.close();
    }
  });

  it('an offset older than what is kept (the client had it: a pong came after it) is not recovered: the old session ends, the client starts afresh', async () => {
    const study = uniq('s');
    const roomId = `study-${study}-main`;
    const a = await g.peer('A');
    const u = g.user('R');
    const auth = { userId: u.id, token: `tok-${u.id}` };
    const r = await sioWs(g.url, { auth, autoPong: false });
    const { sid, pid } = JSON.parse(r.connect.slice(2));
    assert.equal(typeof pid, 'string', 'the CONNECT answer carries a pid');
    await joinVideo(a, study);
    r.ws.send(`42${JSON.stringify(['video:join-room', { studyId: study, roomId }])}`);
    await nextEvent(r, 'video:room-state');
    await a.next('video:user-joined', { what: 'A sees R join' });
    a.emit('video:offer', { to: sid, offer: { type: 'offer', sdp: 'one' } });
    a.emit('video:offer', { to: sid, offer: { type: 'offer', sdp: 'two' } });
    const first = await nextEvent(r, 'video:offer');
    const second = await nextEvent(r, 'video:offer');
    assert.match(first.at(-1), /^\d+$/, 'an event carries its offset, a decimal string, last');
    assert.ok(BigInt(second.at(-1)) > BigInt(first.at(-1)), 'offsets grow');
    // The pong of a ping sent after both offers tells the server R has them.
    await answerPings(r, 2);
    r.ws.close(); // no close frame: held
    await waitHeld(u.id, sid);
    const refusedBefore = (await metrics()).recovery.refused.offset;

    const r2 = await sioWs(g.url, { auth: { ...auth, pid, offset: first.at(-1) } });
    try {
      const again = JSON.parse(r2.connect.slice(2));
      assert.notEqual(again.sid, sid, 'a new session, not the old one');
      assert.notEqual(again.pid, pid, 'with a pid of its own');
      const left = await a.next('video:user-left', { what: 'the old session ends as a disconnect' });
      assert.equal(left.userId, u.id);
      assert.equal((await metrics()).recovery.refused.offset, refusedBefore + 1, '/metrics counts it under refused.offset');
    } finally {
      r2.ws.close();
    }
  });

  it('odd pids and offsets (wrong types, over-long, forged, unreadable) are a new session each, never an error, never the held one', async () => {
    const study = uniq('s');
    const roomId = `study-${study}-main`;
    const a = await g.peer('A');
    const u = g.user('R');
    const auth = { userId: u.id, token: `tok-${u.id}` };
    await joinVideo(a, study);

    /** R joins the call and loses its connection: held. */
    async function heldR() {
      const r = await sioWs(g.url, { auth });
      const hs = JSON.parse(r.connect.slice(2));
      r.ws.send(`42${JSON.stringify(['video:join-room', { studyId: study, roomId }])}`);
      await nextEvent(r, 'video:room-state');
      await a.next('video:user-joined', { filter: (e) => e.socketId === hs.sid, what: 'A sees R join' });
      r.ws.close();
      await waitHeld(u.id, hs.sid);
      return hs;
    }

    let hs = await heldR();
    const pids = [12345, '', 'x'.repeat(5000), { pid: hs.pid }, [hs.pid], `${hs.pid}x`, hs.pid.slice(0, -1), randomBytes(18).toString('base64url'), null, true];
    for (const pid of pids) {
      const r = await sioWs(g.url, { auth: { ...auth, pid, offset: '1' } });
      const got = JSON.parse(r.connect.slice(2));
      assert.notEqual(got.sid, hs.sid, `pid ${JSON.stringify(pid).slice(0, 40)}: a new session`);
      r.ws.close();
    }
    await waitHeld(u.id, hs.sid);
    a.none('video:user-left', null, 'nobody left yet');

    // The right pid with an offset that cannot be read: not recovered,
    // and the held session ends.
    const offsets = ['abc', '-1', '1e3', '99999999999999999999999', 7, '', `${'9'.repeat(30)}`];
    for (const [i, offset] of offsets.entries()) {
      if (i > 0) hs = await heldR();
      const r = await sioWs(g.url, { auth: { ...auth, pid: hs.pid, offset } });
      const got = JSON.parse(r.connect.slice(2));
      assert.notEqual(got.sid, hs.sid, `offset ${JSON.stringify(offset)}: a new session`);
      const left = await a.next('video:user-left', { filter: (e) => e.socketId === hs.sid, what: `offset ${JSON.stringify(offset)}: the old session ends` });
      assert.equal(left.userId, u.id);
      r.ws.close();
    }
    const health = await (await fetch(`${g.url}/health`)).json();
    assert.equal(health.status, 'ok');
  });

  it('a flood of reconnections with random pids: each a new session, counted as refused.unknown, the server unharmed', async () => {
    const u = g.user('F');
    const before = (await metrics()).recovery.refused.unknown;
    const N = 60;
    const sids = new Set();
    for (let i = 0; i < N; i++) {
      const r = await sioWs(g.url, { auth: { userId: u.id, token: `tok-${u.id}`, pid: randomBytes(18).toString('base64url'), offset: String(i + 1) } });
      const got = JSON.parse(r.connect.slice(2));
      assert.equal(typeof got.sid, 'string');
      sids.add(got.sid);
      r.ws.close();
    }
    assert.equal(sids.size, N, 'every one a session of its own');
    const m = await metrics();
    assert.equal(m.recovery.refused.unknown - before, N, `/metrics counts ${N} unknown pids`);
    const a = await g.peer('A');
    assert.ok(a.sid, 'a user still connects');
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
      // Deliberate disconnects first: the cut would leave them held.
      g.clients.closeAll();
      await proxy.close();
    }
  });
});

describe('connection state recovery: an overflowed replay buffer (RECOVERY_BUFFER_BYTES)', { skip: SKIP }, () => {
  const g = useGateway(['RECOVERY_WINDOW_MS=30000', 'RECOVERY_BUFFER_BYTES=1024', 'PING_INTERVAL_MS=500', 'PING_TIMEOUT_MS=500']);

  it('a held session that misses more than the buffer holds leaves at once and its client starts afresh', async () => {
    const proxy = await startProxy(new URL(g.url).port);
    try {
      const study = uniq('s');
      const roomId = `study-${study}-main`;
      const a = await g.peer('A');
      const b = await proxiedPeer(g, 'B', proxy);
      await joinVideo(a, study);
      await joinVideo(b, study);
      await a.next('video:user-joined', { what: 'A sees B join' });
      const idBefore = b.socket.id;
      const back = new Promise((resolve) => b.socket.once('connect', resolve));
      proxy.cut(3000);
      await pollUntil(async () => {
        const m = await (await fetch(`${g.url}/metrics`)).json();
        return { ok: m.recovery.held === 1, value: m.recovery };
      }, { what: 'B held' });
      const cutAt = Date.now();
      // 6 messages of 300 characters: more than 1024 bytes for B.
      for (let i = 0; i < 6; i++) a.emit('chat:video-message', { roomId, message: `${i}`.padEnd(300, '.') });
      const left = await a.next('video:user-left', { what: 'B leaves once its buffer overflows' });
      assert.equal(left.socketId, idBefore);
      assert.ok(Date.now() - cutAt < 2500, `before B could come back (${Date.now() - cutAt} ms)`);
      await back;
      assert.notEqual(b.socket.recovered, true, 'not recovered');
      assert.notEqual(b.socket.id, idBefore, 'a new socket id');
      const m = await (await fetch(`${g.url}/metrics`)).json();
      assert.ok(m.recovery.refused.overflow >= 1, `/metrics counts the overflow: ${JSON.stringify(m.recovery)}`);
    } finally {
      // Deliberate disconnects first: the cut would leave them held.
      g.clients.closeAll();
      await proxy.close();
    }
  });
});

describe('connection state recovery off (RECOVERY_WINDOW_MS=0)', { skip: SKIP }, () => {
  const g = useGateway(['RECOVERY_WINDOW_MS=0']);

  it('no pid, no offsets, and a lost connection leaves at once, as before', async () => {
    const proxy = await startProxy(new URL(g.url).port);
    try {
      const study = uniq('s');
      const roomId = `study-${study}-main`;
      const a = await g.peer('A');
      const u = g.user('R');
      const r = await sioWs(g.url, { auth: { userId: u.id, token: `tok-${u.id}` } });
      const hs = JSON.parse(r.connect.slice(2));
      assert.equal(hs.pid, undefined, 'no pid in the CONNECT answer');
      await joinVideo(a, study);
      r.ws.send(`42${JSON.stringify(['video:join-room', { studyId: study, roomId }])}`);
      let state;
      for (;;) {
        const t = await r.ws.nextText({ what: 'video:room-state' });
        if (t.startsWith('42["video:room-state"')) {
          state = JSON.parse(t.slice(2));
          break;
        }
      }
      assert.equal(state.length, 2, `no offset after the payload: ${JSON.stringify(state).slice(0, 200)}`);
      const left = a.next('video:user-left', { what: 'A sees R leave' });
      r.ws.close();
      assert.equal((await left).socketId, hs.sid);

      // socket.io-client through a cut: a new socket, not recovered.
      const b = await proxiedPeer(g, 'B', proxy);
      await joinVideo(b, study);
      await a.next('video:user-joined', { what: 'A sees B join' });
      const idBefore = b.socket.id;
      const back = new Promise((resolve) => b.socket.once('connect', resolve));
      proxy.cut();
      const leftB = await a.next('video:user-left', { what: 'A sees B leave at once' });
      assert.equal(leftB.socketId, idBefore);
      await back;
      assert.notEqual(b.socket.recovered, true);
      assert.notEqual(b.socket.id, idBefore);
      const m = await (await fetch(`${g.url}/metrics`)).json();
      assert.equal(m.recovery.held, 0);
      assert.equal(m.recovery.recovered, 0);
    } finally {
      // Deliberate disconnects first: the cut would leave them held.
      g.clients.closeAll();
      await proxy.close();
    }
  });
});
