// coup-gateway: the video events of contract §6 (join, leave, relay of
// offer/answer/ice-candidate, the status events, one video room per socket,
// capacity, disconnect) and the membership rule of §3 for video:join-room,
// with the real socket.io-client.
//
// Absence of an event is never awaited with a sleep: a test sends a
// follow-up that must arrive after the unwanted event would have (a
// chat:video-message to the same room, or a round trip on the same
// connection) and then checks the unwanted event is not in the log.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, binaryFromEnv, skipReason } from './lib/server.mjs';
import { safeJson } from './lib/wait.mjs';
import { Clients } from './lib/sio-client.mjs';
import { startMockApi } from './lib/mock-api.mjs';
import { uniq, Peer, assertRefusal, expectError, useGateway } from './lib/coup.mjs';

const GATEWAY = binaryFromEnv('COUP_GATEWAY');
const SKIP = skipReason('COUP_GATEWAY');
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const NOT_MEMBER_MSG = '접근 권한이 없습니다.';
const CHECK_FAILED_MSG = '멤버십 확인에 실패했습니다.';

// ---------------------------------------------------------------------------
// helpers


/** A study id and the room id the CoUp app uses for it. */
function newRoom() {
  const studyId = uniq('s');
  return { studyId, roomId: `study-${studyId}-main` };
}

/** video:join-room (no ack, as the CoUp app does it); resolves with the room-state. */
async function joinVideo(peer, { studyId, roomId }) {
  peer.emit('video:join-room', { studyId, roomId });
  return peer.next('video:room-state', { what: `video:room-state after joining ${roomId}` });
}

/**
 * Every peer of `peers` gets a chat:video-message that `sender` sends to
 * video:<roomId> now: whatever the room sent them before has arrived.
 */
async function videoBarrier(sender, roomId, peers) {
  const message = uniq('barrier');
  sender.emit('chat:video-message', { roomId, message });
  await Promise.all(
    [sender, ...peers].map((p) =>
      p.next('chat:video-message-received', { filter: (m) => m && m.message === message, what: `the barrier message ${message} in ${roomId}` }),
    ),
  );
}

function assertJoinedAt(v, from, to, where) {
  let t;
  if (typeof v === 'string') {
    assert.match(v, ISO_UTC, `${where}: joinedAt as a string is ISO-8601 UTC`);
    t = Date.parse(v);
  } else {
    assert.equal(typeof v, 'number', `${where}: joinedAt is an ISO string or ms since the epoch; got ${safeJson(v)}`);
    t = v;
  }
  assert.ok(t >= from - 2000 && t <= to + 2000, `${where}: joinedAt ${safeJson(v)} is the time of the join (${new Date(from).toISOString()}..${new Date(to).toISOString()})`);
}

/** One entry of video:room-state participants, describing `peer`. */
function assertParticipant(p, peer, { isMuted = false, isVideoOff = false, isSharingScreen = false, joined } = {}) {
  const where = `room-state entry for ${peer.name}`;
  assert.ok(p && typeof p === 'object', `${where}: ${safeJson(p)}`);
  assert.equal(p.socketId, peer.sid, `${where}: socketId`);
  assert.equal(p.userId, peer.userId, `${where}: userId`);
  assert.deepEqual(p.user, peer.user, `${where}: user is {id,name,email,avatar} from the API`);
  assert.equal(p.isMuted, isMuted, `${where}: isMuted (a boolean); got ${safeJson(p)}`);
  assert.equal(p.isVideoOff, isVideoOff, `${where}: isVideoOff (a boolean); got ${safeJson(p)}`);
  assert.equal(p.isSharingScreen, isSharingScreen, `${where}: isSharingScreen (a boolean); got ${safeJson(p)}`);
  assert.ok('joinedAt' in p, `${where}: joinedAt present; got ${safeJson(p)}`);
  if (joined) assertJoinedAt(p.joinedAt, joined[0], joined[1], where);
}

/** participants of a room-state, checked to be exactly `peers` (any order). */
function assertParticipants(state, peers, where, opts = {}) {
  assert.ok(state && Array.isArray(state.participants), `${where}: video:room-state {participants: [...]}; got ${safeJson(state)}`);
  const got = [...state.participants].map((p) => p && p.socketId).sort();
  const want = peers.map((p) => p.sid).sort();
  assert.deepEqual(got, want, `${where}: participants are the OTHER members; got ${safeJson(state.participants)}`);
  for (const peer of peers) {
    assertParticipant(
      state.participants.find((p) => p.socketId === peer.sid),
      peer,
      (opts[peer.label] ?? {}),
    );
  }
}

function assertIdentity(ev, peer, where) {
  assert.equal(ev.socketId, peer.sid, `${where}: socketId; got ${safeJson(ev)}`);
  assert.equal(ev.userId, peer.userId, `${where}: userId; got ${safeJson(ev)}`);
}

const VIDEO_EVENTS = [
  'video:room-state',
  'video:user-joined',
  'video:user-left',
  'video:offer',
  'video:answer',
  'video:ice-candidate',
  'video:peer-audio-changed',
  'video:peer-video-changed',
  'video:peer-screen-share',
  'video:screen-share-started',
  'video:screen-share-stopped',
  'video:user-speaking',
  'chat:video-message-received',
];

const OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n' };
const ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const CANDIDATE = { candidate: 'candidate:842163049 1 udp 1677729535 192.0.2.1 3478 typ srflx raddr 0.0.0.0 rport 0', sdpMid: '0', sdpMLineIndex: 0 };

// ---------------------------------------------------------------------------

describe('video events (contract §6)', { skip: SKIP }, () => {
  describe('production, default capacity', () => {
    const g = useGateway(['MEMBER_CACHE_TTL=0', 'AUTH_TIMEOUT_MS=1000']);

    it('join-room: room-state lists the OTHER members with every field; others get user-joined; nobody hears about itself', async () => {
      const room = newRoom();
      const a = await g.peer('A');
      const b = await g.peer('B');
      const c = await g.peer('C');

      const t0 = Date.now();
      const sa = await joinVideo(a, room);
      const t1 = Date.now();
      assertParticipants(sa, [], 'room-state of the first member');

      const sb = await joinVideo(b, room);
      const t2 = Date.now();
      assertParticipants(sb, [a], 'room-state of the second member', { A: { joined: [t0, t1] } });
      const ja = await a.next('video:user-joined', { what: 'user-joined about B' });
      assert.deepEqual(
        { socketId: ja.socketId, userId: ja.userId, user: ja.user },
        { socketId: b.sid, userId: b.userId, user: b.user },
        `user-joined {socketId,userId,user}; got ${safeJson(ja)}`,
      );

      const sc = await joinVideo(c, room);
      assertParticipants(sc, [a, b], 'room-state of the third member', { A: { joined: [t0, t1] }, B: { joined: [t1, t2] } });
      for (const p of [a, b]) {
        const j = await p.next('video:user-joined', { filter: (e) => e && e.socketId === c.sid, what: 'user-joined about C' });
        assert.equal(j.userId, c.userId);
        assert.deepEqual(j.user, c.user);
      }

      await videoBarrier(a, room.roomId, [b, c]);
      for (const p of [a, b, c]) {
        p.none('video:user-joined', (e) => e && e.socketId === p.sid, 'the caller gets no user-joined about itself');
        assert.equal(p.all('video:room-state').length, 1, `${p.name}: exactly one room-state`);
        p.none('error');
      }
      assert.equal(a.all('video:user-joined').length, 2, 'A heard about B and C, once each');
      assert.equal(b.all('video:user-joined').length, 1, 'B heard about C once');
      assert.equal(c.all('video:user-joined').length, 0, 'C heard about nobody');
    });

    it('leave-room: others get user-left {socketId,userId}; the leaver gets no more room traffic; a re-join works', async () => {
      const room = newRoom();
      const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
      for (const p of [a, b, c]) await joinVideo(p, room);

      c.emit('video:leave-room', { roomId: room.roomId });
      for (const p of [a, b]) {
        const left = await p.next('video:user-left', { what: 'user-left about C' });
        assertIdentity(left, c, 'user-left');
      }
      // C is out: a status event of C for the room is refused, and the
      // room's traffic no longer reaches C.
      await expectError(c, 'video:toggle-audio', [{ roomId: room.roomId, isMuted: true }], 'NOT_IN_ROOM', undefined, { withAck: false });
      await videoBarrier(a, room.roomId, [b]);
      await c.roundTrip();
      c.none('chat:video-message-received', null, 'C left the room');
      a.none('video:peer-audio-changed');
      b.none('video:peer-audio-changed');

      // A later joiner sees A and B only.
      const d = await g.peer('D');
      assertParticipants(await joinVideo(d, room), [a, b], 'room-state after C left');

      // C can come back, and then sees A, B and D.
      const back = await joinVideo(c, room);
      assertParticipants(back, [a, b, d], 'room-state of C joining again');
    });

    it('offer/answer/ice-candidate go to `to` only, with `from` set', async () => {
      const room = newRoom();
      const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
      for (const p of [a, b, c]) await joinVideo(p, room);

      a.emit('video:offer', { to: b.sid, offer: OFFER });
      assert.deepEqual(await b.next('video:offer'), { from: a.sid, offer: OFFER }, 'video:offer {from, offer} at B');
      b.emit('video:answer', { to: a.sid, answer: ANSWER });
      assert.deepEqual(await a.next('video:answer'), { from: b.sid, answer: ANSWER }, 'video:answer {from, answer} at A');
      a.emit('video:ice-candidate', { to: b.sid, candidate: CANDIDATE });
      assert.deepEqual(await b.next('video:ice-candidate'), { from: a.sid, candidate: CANDIDATE }, 'video:ice-candidate {from, candidate} at B');
      b.emit('video:ice-candidate', { to: a.sid, candidate: { ...CANDIDATE, sdpMLineIndex: 1 } });
      assert.deepEqual(await a.next('video:ice-candidate'), { from: b.sid, candidate: { ...CANDIDATE, sdpMLineIndex: 1 } });
      // A relay from C to A while A and B talk.
      c.emit('video:offer', { to: a.sid, offer: { ...OFFER, sdp: 'c-to-a' } });
      assert.deepEqual(await a.next('video:offer'), { from: c.sid, offer: { ...OFFER, sdp: 'c-to-a' } });

      await videoBarrier(a, room.roomId, [b, c]);
      await videoBarrier(b, room.roomId, [a, c]);
      await videoBarrier(c, room.roomId, [a, b]);
      for (const ev of ['video:offer', 'video:answer', 'video:ice-candidate']) c.none(ev, null, 'C is not a target');
      a.none('video:offer', (e) => e && e.from !== c.sid, 'A only gets the offer C sent it');
      b.none('video:answer');
      assert.equal(a.all('video:ice-candidate').length, 1);
      assert.equal(b.all('video:ice-candidate').length, 1);
      assert.equal(b.all('video:offer').length, 1);
      for (const p of [a, b, c]) p.none('error');
    });

    it('a relay never overtakes what its sender did before: status changes, chat and relays arrive in the order sent', async () => {
      const room = newRoom();
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      await joinVideo(b, room);
      // A joins and at once offers to B (whose id the room-state gave):
      // B hears that A joined before the offer.
      const state = await joinVideo(a, room);
      a.emit('video:offer', { to: b.sid, offer: { ...OFFER, sdp: 'first' } });
      assert.ok(state.participants.some((p) => p.socketId === b.sid));
      await b.next('video:offer', { filter: (o) => o && o.offer.sdp === 'first' });
      const order = () => b.log.map((e) => e.event === 'video:offer' ? `offer:${e.data.offer.sdp}` : e.event);
      assert.ok(order().indexOf('video:user-joined') < order().indexOf('offer:first'), `user-joined before the offer: ${order().join(', ')}`);
      // Then, 30 times in one go: a status change, a chat message and a
      // relay, each sent right after the other.
      for (let i = 0; i < 30; i++) {
        a.emit('video:toggle-audio', { roomId: room.roomId, isMuted: i % 2 === 0 });
        a.emit('chat:video-message', { roomId: room.roomId, message: `m${i}` });
        a.emit('video:ice-candidate', { to: b.sid, candidate: { ...CANDIDATE, sdpMid: `c${i}` } });
      }
      await b.next('video:ice-candidate', { filter: (c) => c && c.candidate.sdpMid === 'c29' });
      const seen = b.log
        .filter((e) => ['video:peer-audio-changed', 'chat:video-message-received', 'video:ice-candidate'].includes(e.event))
        .map((e) => e.event === 'video:ice-candidate' ? `ice:${e.data.candidate.sdpMid}` : e.event === 'chat:video-message-received' ? `chat:${e.data.message}` : `mute:${e.data.isMuted}`);
      const want = [];
      for (let i = 0; i < 30; i++) want.push(`mute:${i % 2 === 0}`, `chat:m${i}`, `ice:c${i}`);
      assert.deepEqual(seen, want);
      for (const p of [a, b]) p.none('error');
    });

    it('a relay to a socket not in the same video room is refused with NOT_IN_ROOM, and the target gets nothing', async () => {
      const r1 = newRoom();
      const r2 = newRoom();
      const [a, b, t, u, n] = [await g.peer('A'), await g.peer('B'), await g.peer('T'), await g.peer('U'), await g.peer('N')];
      await joinVideo(a, r1);
      await joinVideo(b, r1);
      await joinVideo(t, r2);
      await joinVideo(u, r2);
      // t is in another room, n in none, and the last id is nobody's.
      for (const target of [t.sid, n.sid, 'no-such-socket-id']) {
        await expectError(a, 'video:offer', [{ to: target, offer: OFFER }], 'NOT_IN_ROOM');
        await expectError(a, 'video:answer', [{ to: target, answer: ANSWER }], 'NOT_IN_ROOM');
        await expectError(a, 'video:ice-candidate', [{ to: target, candidate: CANDIDATE }], 'NOT_IN_ROOM');
      }
      // A sender in no video room cannot reach a member of one.
      await expectError(n, 'video:offer', [{ to: a.sid, offer: OFFER }], 'NOT_IN_ROOM');
      await expectError(n, 'video:ice-candidate', [{ to: a.sid, candidate: CANDIDATE }], 'NOT_IN_ROOM');

      await videoBarrier(u, r2.roomId, [t]);
      await videoBarrier(b, r1.roomId, [a]);
      await n.roundTrip();
      for (const p of [a, b, t, u, n]) {
        for (const ev of ['video:offer', 'video:answer', 'video:ice-candidate']) p.none(ev, null, 'every relay was refused');
      }
      for (const p of [b, t, u]) p.none('error', null, 'the error goes to the caller alone');
    });

    it('toggle-audio/-video, screen-share-start/-stop, speaking: to others with their fields, not to the sender; a later joiner sees the state', async () => {
      const room = newRoom();
      const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
      for (const p of [a, b, c]) await joinVideo(p, room);
      const { roomId } = room;

      a.emit('video:toggle-audio', { roomId, isMuted: true });
      a.emit('video:toggle-video', { roomId, isVideoOff: true });
      a.emit('video:screen-share-start', { roomId });
      a.emit('video:speaking', { roomId, speaking: true });
      for (const p of [b, c]) {
        const au = await p.next('video:peer-audio-changed');
        assert.deepEqual(au, { socketId: a.sid, userId: a.userId, isMuted: true }, `peer-audio-changed at ${p.label}`);
        const vi = await p.next('video:peer-video-changed');
        assert.deepEqual(vi, { socketId: a.sid, userId: a.userId, isVideoOff: true }, `peer-video-changed at ${p.label}`);
        const ss = await p.next('video:peer-screen-share');
        assert.deepEqual(ss, { socketId: a.sid, userId: a.userId, isSharing: true }, `peer-screen-share at ${p.label}`);
        const st = await p.next('video:screen-share-started');
        assert.deepEqual(st, { socketId: a.sid, userId: a.userId }, `screen-share-started at ${p.label}`);
        const sp = await p.next('video:user-speaking');
        assert.deepEqual(sp, { socketId: a.sid, userId: a.userId, speaking: true }, `user-speaking at ${p.label}`);
      }

      // A later joiner sees A muted, video off, sharing; B and C untouched.
      const d = await g.peer('D');
      assertParticipants(await joinVideo(d, room), [a, b, c], 'room-state after the toggles', {
        A: { isMuted: true, isVideoOff: true, isSharingScreen: true },
      });

      a.emit('video:screen-share-stop', { roomId });
      a.emit('video:toggle-audio', { roomId, isMuted: false });
      a.emit('video:speaking', { roomId, speaking: false });
      b.emit('video:toggle-video', { roomId, isVideoOff: true });
      for (const p of [b, c, d]) {
        const ss = await p.next('video:peer-screen-share', { filter: (e) => e && e.isSharing === false });
        assert.deepEqual(ss, { socketId: a.sid, userId: a.userId, isSharing: false }, `peer-screen-share false at ${p.label}`);
        const st = await p.next('video:screen-share-stopped');
        assert.deepEqual(st, { socketId: a.sid, userId: a.userId }, `screen-share-stopped at ${p.label}`);
        const au = await p.next('video:peer-audio-changed', { filter: (e) => e && e.isMuted === false });
        assert.deepEqual(au, { socketId: a.sid, userId: a.userId, isMuted: false });
        const sp = await p.next('video:user-speaking', { filter: (e) => e && e.speaking === false });
        assert.deepEqual(sp, { socketId: a.sid, userId: a.userId, speaking: false });
      }
      for (const p of [a, c, d]) {
        const vi = await p.next('video:peer-video-changed', { filter: (e) => e && e.socketId === b.sid });
        assert.deepEqual(vi, { socketId: b.sid, userId: b.userId, isVideoOff: true }, `B's peer-video-changed at ${p.label}`);
      }
      const e = await g.peer('E');
      assertParticipants(await joinVideo(e, room), [a, b, c, d], 'room-state after the second round', {
        A: { isMuted: false, isVideoOff: true, isSharingScreen: false },
        B: { isVideoOff: true },
      });

      await videoBarrier(a, roomId, [b, c, d, e]);
      await videoBarrier(b, roomId, [a, c, d, e]);
      for (const ev of [
        'video:peer-audio-changed',
        'video:peer-video-changed',
        'video:peer-screen-share',
        'video:screen-share-started',
        'video:screen-share-stopped',
        'video:user-speaking',
      ]) {
        a.none(ev, (x) => x && x.socketId === a.sid, 'not to the sender');
        b.none(ev, (x) => x && x.socketId === b.sid, 'not to the sender');
      }
      assert.equal(b.all('video:peer-audio-changed').length, 2, 'B got each of A\'s audio toggles once');
      assert.equal(e.all('video:peer-audio-changed').length, 0, 'E joined after every toggle');
      for (const p of [a, b, c, d, e]) p.none('error');
    });

    it('status events from a socket not in that room get NOT_IN_ROOM, and the room hears nothing', async () => {
      const room = newRoom();
      const other = newRoom();
      const [a, b, x, n] = [await g.peer('A'), await g.peer('B'), await g.peer('X'), await g.peer('N')];
      await joinVideo(a, room);
      await joinVideo(b, room);
      await joinVideo(x, other); // x is in another room, n in none
      const { roomId } = room;
      const events = [
        ['video:toggle-audio', { roomId, isMuted: true }],
        ['video:toggle-video', { roomId, isVideoOff: true }],
        ['video:screen-share-start', { roomId }],
        ['video:screen-share-stop', { roomId }],
        ['video:speaking', { roomId, speaking: true }],
      ];
      for (const p of [x, n]) {
        for (const [ev, payload] of events) await expectError(p, ev, [payload], 'NOT_IN_ROOM');
      }
      // A member naming a room it is not in is refused too.
      await expectError(a, 'video:toggle-audio', [{ roomId: other.roomId, isMuted: true }], 'NOT_IN_ROOM');

      await videoBarrier(a, roomId, [b]);
      for (const p of [a, b]) {
        for (const ev of ['video:peer-audio-changed', 'video:peer-video-changed', 'video:peer-screen-share', 'video:screen-share-started', 'video:screen-share-stopped', 'video:user-speaking']) {
          p.none(ev, null, 'only refused status events were sent');
        }
      }
      b.none('error');
      // Nothing of it was stored: a later joiner sees A and B untouched.
      const d = await g.peer('D');
      assertParticipants(await joinVideo(d, room), [a, b], 'room-state after the refused events');
    });

    it('one video room per socket: joining another leaves the old one (user-left there)', async () => {
      const r1 = newRoom();
      const r2 = newRoom();
      const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
      await joinVideo(a, r1);
      await joinVideo(b, r1);
      await joinVideo(c, r2);

      const s = await joinVideo(a, r2);
      assertParticipants(s, [c], 'room-state of the new room lists its members only');
      const left = await b.next('video:user-left', { what: 'user-left in the old room' });
      assertIdentity(left, a, 'user-left in the old room');
      const joined = await c.next('video:user-joined');
      assertIdentity(joined, a, 'user-joined in the new room');

      await expectError(a, 'video:toggle-audio', [{ roomId: r1.roomId, isMuted: true }], 'NOT_IN_ROOM');
      await videoBarrier(b, r1.roomId, []);
      await videoBarrier(c, r2.roomId, [a]);
      a.none('chat:video-message-received', (m) => m && m.roomId === r1.roomId && m.socketId === b.sid, 'A left r1');
      const d = await g.peer('D');
      assertParticipants(await joinVideo(d, r1), [b], 'a joiner of the old room sees only B');
    });

    it('disconnect (clean or transport close) sends user-left to the room', async () => {
      const room = newRoom();
      const [a, b, c, d] = [await g.peer('A'), await g.peer('B'), await g.peer('C'), await g.peer('D')];
      for (const p of [a, b, c, d]) await joinVideo(p, room);

      a.socket.disconnect();
      for (const p of [b, c, d]) assertIdentity(await p.next('video:user-left'), a, `user-left about A at ${p.label}`);
      b.socket.io.engine.close(); // no DISCONNECT packet, the transport just closes
      for (const p of [c, d]) assertIdentity(await p.next('video:user-left', { filter: (e) => e && e.socketId === b.sid }), b, `user-left about B at ${p.label}`);

      await videoBarrier(c, room.roomId, [d]);
      assert.equal(c.all('video:user-left').length, 2, 'one user-left per member gone');
      const e = await g.peer('E');
      assertParticipants(await joinVideo(e, room), [c, d], 'room-state after the disconnects');
    });

    it('a non-member gets NOT_MEMBER "접근 권한이 없습니다." and never any room traffic', async () => {
      const room = newRoom();
      const [a, x] = [await g.peer('A'), await g.peer('X')];
      g.api.setMembers(room.studyId, [a.userId]);
      await joinVideo(a, room);

      await expectError(x, 'video:join-room', [room], 'NOT_MEMBER', NOT_MEMBER_MSG);
      const check = g.api.calls.find((c) => c.url === `/api/studies/${room.studyId}/check-member` && c.body && c.body.userId === x.userId);
      assert.ok(check, `the gateway asked the API about X: ${safeJson(g.api.calls.map((c) => c.url))}`);
      assert.equal(check.method, 'POST');
      assert.match(check.headers['content-type'] ?? '', /application\/json/);

      // X is not in the room: its status events are refused, the room's
      // traffic does not reach it, and A never heard of X.
      await expectError(x, 'video:toggle-audio', [{ roomId: room.roomId, isMuted: true }], 'NOT_IN_ROOM', undefined, { withAck: false });
      await expectError(a, 'video:offer', [{ to: x.sid, offer: OFFER }], 'NOT_IN_ROOM', undefined, { withAck: false });
      await videoBarrier(a, room.roomId, []);
      await x.roundTrip();
      for (const ev of VIDEO_EVENTS) x.none(ev, null, 'X was refused');
      a.none('video:user-joined');
      a.none('video:peer-audio-changed');
    });

    for (const mode of ['500', 'timeout', 'down']) {
      it(`check-member failing (${mode}) in production: MEMBERSHIP_CHECK_FAILED "멤버십 확인에 실패했습니다."`, async () => {
        const room = newRoom();
        const [a, x] = [await g.peer('A'), await g.peer('X')];
        await joinVideo(a, room);
        g.api.setFailure(mode, { only: 'member' });
        await expectError(x, 'video:join-room', [room], 'MEMBERSHIP_CHECK_FAILED', CHECK_FAILED_MSG, { timeoutMs: 5000 });
        g.api.setFailure(null);
        await videoBarrier(a, room.roomId, []);
        await x.roundTrip();
        for (const ev of VIDEO_EVENTS) x.none(ev, null, 'X was refused');
        a.none('video:user-joined');
        // Once the API answers again, X gets in.
        assertParticipants(await joinVideo(x, room), [a], 'room-state once the API is back');
      });
    }

    it('works over polling and with the default transports (polling, then upgrade)', async () => {
      const room = newRoom();
      const a = await g.peer('A', { transports: ['polling'] });
      const b = await g.peer('B', { transports: ['websocket', 'polling'] });
      const c = await g.peer('C', { transports: undefined });
      assert.equal(a.socket.io.engine.transport.name, 'polling');
      await joinVideo(a, room);
      await joinVideo(b, room);
      assertParticipants(await joinVideo(c, room), [a, b], 'room-state of the default-transports client');
      a.emit('video:offer', { to: c.sid, offer: OFFER });
      assert.deepEqual(await c.next('video:offer'), { from: a.sid, offer: OFFER });
      c.emit('video:answer', { to: a.sid, answer: ANSWER });
      assert.deepEqual(await a.next('video:answer'), { from: c.sid, answer: ANSWER });
      c.emit('video:toggle-audio', { roomId: room.roomId, isMuted: true });
      assert.deepEqual(await a.next('video:peer-audio-changed'), { socketId: c.sid, userId: c.userId, isMuted: true });
      await videoBarrier(a, room.roomId, [b, c]);
      await videoBarrier(c, room.roomId, [a, b]);
      b.none('video:offer');
      b.none('video:answer');
    });
  });

  describe('VIDEO_ROOM_MAX=2', () => {
    const g = useGateway(['VIDEO_ROOM_MAX=2']);

    it('the third join gets ROOM_FULL; the members hear nothing; a freed place can be taken', async () => {
      const room = newRoom();
      const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
      await joinVideo(a, room);
      await joinVideo(b, room);
      await expectError(c, 'video:join-room', [room], 'ROOM_FULL');
      await videoBarrier(a, room.roomId, [b]);
      await c.roundTrip();
      for (const ev of VIDEO_EVENTS) c.none(ev, null, 'C was refused');
      a.none('video:user-joined', (e) => e && e.socketId === c.sid);
      b.none('video:user-joined');

      // Another room is not affected by the full one.
      const other = newRoom();
      assertParticipants(await joinVideo(c, other), [], 'C can join another room');

      b.emit('video:leave-room', { roomId: room.roomId });
      assertIdentity(await a.next('video:user-left'), b, 'user-left about B');
      assertParticipants(await joinVideo(c, room), [a], 'C takes the freed place (leaving its other room)');
      assertIdentity(await a.next('video:user-joined', { filter: (e) => e && e.socketId === c.sid }), c, 'user-joined about C');
    });
  });

  describe('development', () => {
    const g = useGateway(['MEMBER_CACHE_TTL=0', 'AUTH_TIMEOUT_MS=1000'], { env: 'development', name: 'coup-gateway dev' });

    for (const mode of ['500', 'timeout', 'down']) {
      it(`check-member failing (${mode}) in development: the join is allowed`, async () => {
        const room = newRoom();
        const [a, x] = [await g.peer('A'), await g.peer('X')];
        await joinVideo(a, room);
        g.api.setFailure(mode, { only: 'member' });
        assertParticipants(await joinVideo(x, room), [a], 'room-state despite the failed check');
        assertIdentity(await a.next('video:user-joined'), x, 'user-joined about X');
        x.none('error');
      });
    }

    it('a 4xx answer is still NOT_MEMBER in development', async () => {
      const room = newRoom();
      const [a, x] = [await g.peer('A'), await g.peer('X')];
      g.api.setMembers(room.studyId, [a.userId]);
      await joinVideo(a, room);
      await expectError(x, 'video:join-room', [room], 'NOT_MEMBER', NOT_MEMBER_MSG);
      await videoBarrier(a, room.roomId, []);
      a.none('video:user-joined');
    });
  });
});
