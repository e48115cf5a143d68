// Multi-server mode (REDIS_URL): two gateways sharing one real Redis, with
// stock socket.io-client clients on different gateways. Every video and
// chat event of the contract across gateways, relays to a socket on the
// other gateway, cluster-wide capacity, and /metrics.
//
// Absence of an event is checked after a barrier: a chat message that
// travels the same way and must arrive after it.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import path from 'node:path';

import { safeJson, pollUntil } from './lib/wait.mjs';
import { runToExit, binaryFromEnv } from './lib/server.mjs';
import { expectError } from './lib/coup.mjs';
import { useCluster, clusterSkipReason, newRoom } from './lib/cluster.mjs';

const SKIP = clusterSkipReason();
const COUPCTL = binaryFromEnv('COUPCTL');

async function joinVideo(peer, { studyId, roomId }) {
  const res = await peer.ack('video:join-room', [{ studyId, roomId }]);
  assert.equal(res?.ok, true, `${peer.name}: join ${roomId}: ${safeJson(res)}`);
  return peer.seen('video:room-state', { what: `video:room-state for ${peer.name}` });
}

/** Everyone in `peers` has received what `sender` sent to the call before. */
async function barrier(sender, roomId, peers) {
  const message = `barrier-${Math.random()}`;
  sender.emit('chat:video-message', { roomId, message });
  await Promise.all([sender, ...peers].map((p) =>
    p.next('chat:video-message-received', { filter: (m) => m?.message === message, what: `barrier ${message}` })));
}

describe('cluster: a call across two gateways', { skip: SKIP }, () => {
  const ctx = useCluster(2, ['VIDEO_ROOM_MAX=3']);

  it('join, room-state, user-joined, relays, media flags, chat and leave across gateways', async () => {
    const room = newRoom();
    const a = await ctx.peer('a', 0);
    const b = await ctx.peer('b', 1);
    const stA = await joinVideo(a, room);
    assert.deepEqual(stA.participants, []);
    const stB = await joinVideo(b, room);
    assert.equal(stB.participants.length, 1, `B sees A: ${safeJson(stB)}`);
    const pa = stB.participants[0];
    assert.equal(pa.socketId, a.sid);
    assert.equal(pa.userId, a.userId);
    assert.deepEqual(pa.user, { id: a.userId, name: a.user.name, email: a.user.email, avatar: null });
    assert.equal(pa.isMuted, false);
    assert.equal(pa.isVideoOff, false);
    assert.equal(pa.isSharingScreen, false);
    assert.match(pa.joinedAt, /^\d{4}-\d{2}-\d{2}T/);
    const joined = await a.next('video:user-joined');
    assert.deepEqual(joined, { socketId: b.sid, userId: b.userId, user: { id: b.userId, name: b.user.name, email: b.user.email, avatar: null } });

    // Relays both ways, to a socket on the other gateway.
    a.emit('video:offer', { to: b.sid, offer: { type: 'offer', sdp: 'v=0 a' } });
    assert.deepEqual(await b.next('video:offer'), { from: a.sid, offer: { type: 'offer', sdp: 'v=0 a' } });
    // A Buffer in a payload crosses gateways intact (base64 over pub/sub).
    const blob = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 13) & 0xff));
    a.emit('video:offer', { to: b.sid, offer: { type: 'offer', blob } });
    const bin = await b.next('video:offer');
    assert.ok(Buffer.isBuffer(bin.offer.blob) && blob.equals(bin.offer.blob), 'the Buffer, byte for byte, on the other gateway');
    const r = await b.ack('video:answer', [{ to: a.sid, answer: { type: 'answer', sdp: 'v=0 b' } }]);
    assert.equal(r.ok, true);
    assert.deepEqual(await a.next('video:answer'), { from: b.sid, answer: { type: 'answer', sdp: 'v=0 b' } });
    b.emit('video:ice-candidate', { to: a.sid, candidate: { candidate: 'c1', sdpMid: '0' } });
    assert.deepEqual(await a.next('video:ice-candidate'), { from: b.sid, candidate: { candidate: 'c1', sdpMid: '0' } });

    // Media flags.
    a.emit('video:toggle-audio', { roomId: room.roomId, isMuted: true });
    assert.deepEqual(await b.next('video:peer-audio-changed'), { socketId: a.sid, userId: a.userId, isMuted: true });
    a.emit('video:toggle-video', { roomId: room.roomId, isVideoOff: true });
    assert.deepEqual(await b.next('video:peer-video-changed'), { socketId: a.sid, userId: a.userId, isVideoOff: true });
    b.emit('video:screen-share-start', { roomId: room.roomId });
    assert.deepEqual(await a.next('video:peer-screen-share'), { socketId: b.sid, userId: b.userId, isSharing: true });
    assert.deepEqual(await a.next('video:screen-share-started'), { socketId: b.sid, userId: b.userId });
    b.emit('video:speaking', { roomId: room.roomId, speaking: true });
    assert.deepEqual(await a.next('video:user-speaking'), { socketId: b.sid, userId: b.userId, speaking: true });

    // A third member on gateway 0 sees both, with their flags.
    const c = await ctx.peer('c', 0);
    const stC = await joinVideo(c, room);
    const bySid = Object.fromEntries(stC.participants.map((p) => [p.socketId, p]));
    assert.deepEqual(Object.keys(bySid).sort(), [a.sid, b.sid].sort());
    assert.equal(bySid[a.sid].isMuted, true);
    assert.equal(bySid[a.sid].isVideoOff, true);
    assert.equal(bySid[b.sid].isSharingScreen, true);
    await b.next('video:user-joined', { filter: (j) => j.socketId === c.sid });

    // Capacity is cluster-wide: VIDEO_ROOM_MAX=3.
    const d = await ctx.peer('d', 1);
    await expectError(d, 'video:join-room', [room], 'ROOM_FULL', undefined, { plain: false });

    // Video chat reaches everyone, with one id.
    c.emit('chat:video-message', { roomId: room.roomId, message: '안녕' });
    const got = await Promise.all([a, b, c].map((p) => p.next('chat:video-message-received')));
    for (const m of got) {
      assert.equal(m.message, '안녕');
      assert.equal(m.socketId, c.sid);
      assert.equal(m.id, got[0].id);
    }
    b.emit('chat:video-file', { roomId: room.roomId, file: { name: 'x.pdf', url: 'https://f/x.pdf' } });
    assert.deepEqual((await a.next('chat:video-file-received')).file, { name: 'x.pdf', url: 'https://f/x.pdf' });

    // Leave, and disconnect: user-left on the other gateway.
    b.emit('video:leave-room', { roomId: room.roomId });
    assert.deepEqual(await a.next('video:user-left'), { socketId: b.sid, userId: b.userId });
    assert.deepEqual(await c.next('video:user-left'), { socketId: b.sid, userId: b.userId });
    // A relay to a socket that left is refused.
    await expectError(a, 'video:offer', [{ to: b.sid, offer: {} }], 'NOT_IN_ROOM', undefined, { plain: false });
    a.socket.disconnect();
    const left = await Promise.all([c.next('video:user-left')]);
    assert.deepEqual(left[0], { socketId: a.sid, userId: a.userId });
    await barrier(c, room.roomId, []);
    // D fits now.
    const stD = await joinVideo(d, room);
    assert.deepEqual(stD.participants.map((p) => p.socketId), [c.sid]);
  });

  it('flags set while alone in the call are in the room-state of a joiner on another gateway', async () => {
    const room = newRoom();
    const a = await ctx.peer('a', 0);
    await joinVideo(a, room);
    for (const [ev, arg] of [['video:toggle-audio', { isMuted: true }], ['video:toggle-video', { isVideoOff: true }], ['video:screen-share-start', {}]]) {
      const r = await a.ack(ev, [{ roomId: room.roomId, ...arg }]);
      assert.equal(r.ok, true);
    }
    const b = await ctx.peer('b', 1);
    const st = await joinVideo(b, room);
    assert.equal(st.participants.length, 1);
    const p = st.participants[0];
    assert.deepEqual([p.isMuted, p.isVideoOff, p.isSharingScreen], [true, true, true], safeJson(st));
  });

  it('study chat and typing across gateways, members and non-members of the room', async () => {
    const { studyId } = newRoom();
    const a = await ctx.peer('a', 0);
    const b = await ctx.peer('b', 1);
    const g = await ctx.peer('g', 1); // never joins the study room
    for (const p of [a, b]) {
      const res = await p.ack('presence:join-study', [{ studyId }]);
      assert.equal(res.ok, true);
    }
    a.emit('chat:send-message', { studyId, message: 'hello' });
    const [ma, mb] = await Promise.all([a.next('chat:message-received'), b.next('chat:message-received')]);
    assert.equal(ma.id, mb.id);
    assert.equal(mb.userId, a.userId);
    assert.equal(mb.message, 'hello');
    assert.equal(mb.type, 'text');
    assert.equal((await a.next('chat:message-sent')).success, true);
    b.emit('chat:typing', { studyId, isTyping: true });
    assert.deepEqual(await a.next('chat:user-typing'), { userId: b.userId, user: { id: b.userId, name: b.user.name, email: b.user.email, avatar: null }, isTyping: true });
    // A non-member of the room (a study member) writes from gateway 1.
    g.emit('chat:file-uploaded', { studyId, file: { name: 'n.txt' } });
    const [fa, fb] = await Promise.all([a.next('chat:message-received'), b.next('chat:message-received')]);
    assert.equal(fa.userId, g.userId);
    assert.equal(fa.type, 'file');
    assert.equal(fa.id, fb.id);
  });

  it('/metrics tells local from cluster-wide', async () => {
    const room = newRoom();
    const a = await ctx.peer('a', 0);
    const b = await ctx.peer('b', 1);
    await joinVideo(a, room);
    await joinVideo(b, room);
    await a.next('video:user-joined'); // gateway 0 knows of b
    const m = await (await fetch(`${ctx.nodes[0].url}/metrics`)).json();
    assert.ok(m.cluster, `cluster in /metrics: ${safeJson(m)}`);
    assert.equal(m.cluster.redis.connected, true);
    const detail = m.roomDetails.find((r) => r.name === `video:${room.roomId}`);
    assert.equal(detail.participants, 1, 'roomDetails counts local participants');
    assert.equal(detail.remoteParticipants, 1, 'and those on other gateways');
    const prom = await (await fetch(`${ctx.nodes[0].url}/metrics/prometheus`)).text();
    assert.match(prom, /coup_cluster_redis_up 1/);
  });

  it('coupctl cluster shows the nodes, their heartbeats and the rooms across nodes', { skip: !COUPCTL && 'COUPCTL is not set' }, async () => {
    const room = newRoom();
    const a = await ctx.peer('a', 0);
    const b = await ctx.peer('b', 1);
    await joinVideo(a, room);
    await joinVideo(b, room);
    const sock = path.join(ctx.runDirs[0], 'coup-gateway.sock');
    const data = await pollUntil(async () => {
      const r = await runToExit(COUPCTL, ['-s', sock, '--json', 'cluster']);
      assert.equal(r.code, 0, r.stderr);
      const d = JSON.parse(r.stdout);
      const found = d.rooms.find((x) => x.name === `video:${room.roomId}`);
      return { ok: found?.members === 2 && d.nodes.length === 2, value: d };
    }, { what: 'coupctl cluster showing the room on both nodes' });
    assert.equal(data.redis.connected, true);
    assert.ok(data.nodes.every((n) => n.alive === true && typeof n.beat === 'number'), safeJson(data.nodes));
    assert.deepEqual(data.nodes.map((n) => Number(n.port)).sort(), ctx.nodes.map((n) => n.port).sort());
    const r = data.rooms.find((x) => x.name === `video:${room.roomId}`);
    assert.deepEqual(Object.values(r.nodes), [1, 1]);
    const human = await runToExit(COUPCTL, ['-s', sock, 'cluster']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`this node: ${data.node}`));
    assert.match(human.stdout, /redis: 127\.0\.0\.1:\d+, connected/);
    assert.match(human.stdout, new RegExp(`video:${room.roomId}\\s+2`));
  });
});
