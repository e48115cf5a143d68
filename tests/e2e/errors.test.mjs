// coup-gateway: the errors of contract §5. A refused request gets the
// event `error` {message, code} sent to the caller alone and, when the
// client passed an ack callback, the ack {ok:false, code, message}; a
// request that succeeds acks {ok:true, ...}. Codes: BAD_REQUEST,
// NOT_MEMBER, MEMBERSHIP_CHECK_FAILED, NOT_IN_ROOM, ROOM_FULL, RATE_LIMITED,
// ROOM_UNAVAILABLE. Unknown event names are ignored.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, binaryFromEnv, skipReason } from './lib/server.mjs';
import { safeJson, delay } from './lib/wait.mjs';
import { request } from './lib/eio-polling.mjs';
import { Clients } from './lib/sio-client.mjs';
import { startMockApi } from './lib/mock-api.mjs';
import { uniq, Peer, assertRefusal, expectError, useGateway } from './lib/coup.mjs';

const GATEWAY = binaryFromEnv('COUP_GATEWAY');
const SKIP = skipReason('COUP_GATEWAY');
const NOT_MEMBER_MSG = '접근 권한이 없습니다.';
const CHECK_FAILED_MSG = '멤버십 확인에 실패했습니다.';
const JOIN_FAILED_MSG = '방 입장에 실패했습니다.';

// ---------------------------------------------------------------------------
// helpers


async function joinStudy(peer, studyId) {
  peer.emit('presence:join-study', { studyId });
  return peer.next('presence:study-joined', { filter: (e) => e && e.studyId === studyId, what: `presence:study-joined for ${studyId}` });
}

async function joinVideo(peer, studyId, roomId) {
  peer.emit('video:join-room', { studyId, roomId });
  return peer.next('video:room-state', { what: `video:room-state after joining ${roomId}` });
}

function newRoom() {
  const studyId = uniq('s');
  return { studyId, roomId: `study-${studyId}-main` };
}

const OFFER = { type: 'offer', sdp: 'v=0\r\n' };
const FILE = { name: 'a.txt', size: 3, type: 'text/plain', url: 'https://files.coup.test/a.txt' };

// ---------------------------------------------------------------------------

describe('errors (contract §5)', { skip: SKIP }, () => {
  describe('production, default limits', () => {
    const g = useGateway(['MEMBER_CACHE_TTL=0', 'AUTH_TIMEOUT_MS=1000']);

    it('BAD_REQUEST: payload not an object, field missing, wrong type, string too long; error and ack to the caller alone', async () => {
      const { studyId, roomId } = newRoom();
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      await joinVideo(a, studyId, roomId);
      await joinVideo(b, studyId, roomId);
      await joinStudy(a, studyId);
      await joinStudy(b, studyId);
      const to = b.sid;
      const cases = [
        // payload not an object
        ['video:join-room', []],
        ['video:join-room', ['a-room']],
        ['video:join-room', [42]],
        ['video:join-room', [null]],
        ['video:join-room', [[studyId, roomId]]],
        ['video:leave-room', [true]],
        ['video:offer', ['offer']],
        ['chat:send-message', ['hello']],
        ['presence:join-study', [studyId]],
        ['presence:status-change', ['away']],
        // a field missing
        ['video:join-room', [{}]],
        ['video:join-room', [{ studyId }]],
        ['video:join-room', [{ roomId }]],
        ['video:leave-room', [{}]],
        ['video:offer', [{ to }]],
        ['video:offer', [{ offer: OFFER }]],
        ['video:answer', [{ to }]],
        ['video:ice-candidate', [{ to }]],
        ['video:toggle-audio', [{ roomId }]],
        ['video:toggle-video', [{ roomId }]],
        ['video:screen-share-start', [{}]],
        ['video:screen-share-stop', [{}]],
        ['video:speaking', [{ roomId }]],
        ['chat:send-message', [{ studyId }]],
        ['chat:send-message', [{ message: 'hi' }]],
        ['chat:video-message', [{ roomId }]],
        ['chat:video-file', [{ roomId }]],
        ['chat:file-uploaded', [{ studyId }]],
        ['chat:typing', [{ studyId }]],
        ['presence:join-study', [{}]],
        ['presence:leave-study', [{}]],
        ['presence:status-change', [{}]],
        // a field of the wrong type
        ['video:join-room', [{ studyId, roomId: { id: roomId } }]],
        ['video:join-room', [{ studyId: [studyId], roomId }]],
        ['video:offer', [{ to: { id: 'x' }, offer: OFFER }]],
        ['video:toggle-audio', [{ roomId, isMuted: 'yes' }]],
        ['video:toggle-video', [{ roomId, isVideoOff: 1 }]],
        ['video:speaking', [{ roomId, speaking: 'loud' }]],
        ['video:toggle-audio', [{ roomId: [roomId], isMuted: true }]],
        ['chat:send-message', [{ studyId, message: 42 }]],
        ['chat:send-message', [{ studyId, message: { text: 'hi' } }]],
        ['chat:send-message', [{ studyId, message: 'hi', type: 5 }]],
        ['chat:video-message', [{ roomId, message: ['hi'] }]],
        ['chat:typing', [{ studyId, isTyping: 'yes' }]],
        ['presence:join-study', [{ studyId: { id: studyId } }]],
        ['presence:status-change', [{ status: 1 }]],
        // a string too long
        ['chat:send-message', [{ studyId, message: 'x'.repeat(4001) }]],
        ['presence:status-change', [{ status: 's'.repeat(33) }]],
      ];
      // Every case acked with its refusal; the `error` event of the first
      // plainly (the rest fall in the same seconds: one a second per code).
      const t0 = Date.now();
      for (const [i, [ev, args]] of cases.entries()) await expectError(a, ev, args, 'BAD_REQUEST', undefined, { plain: i === 0 });
      const secs = (Date.now() - t0) / 1000;

      // Still connected and served; B saw none of it.
      await a.roundTrip();
      assert.ok(a.socket.connected);
      const text = uniq('after');
      a.emit('chat:send-message', { studyId, message: text });
      await b.next('chat:message-received', { filter: (m) => m && m.message === text });
      const vtext = uniq('after');
      a.emit('chat:video-message', { roomId, message: vtext });
      await b.next('chat:video-message-received', { filter: (m) => m && m.message === vtext });
      b.none('error', null, 'errors go to the caller alone');
      for (const ev of ['video:offer', 'video:answer', 'video:ice-candidate', 'video:peer-audio-changed', 'video:peer-video-changed', 'video:user-speaking', 'video:peer-screen-share', 'chat:user-typing', 'presence:user-status-changed']) {
        b.none(ev, null, 'every one of those events was refused');
      }
      assert.equal(b.all('chat:message-received').length, 1, `only the last chat message reached B: ${safeJson(b.all('chat:message-received'))}`);
      // At most one error event a second for BAD_REQUEST, however many refusals.
      const errors = a.all('error').length;
      assert.ok(errors >= 1 && errors <= Math.ceil(secs) + 1, `${errors} error events for ${cases.length * 2} refusals in ${secs.toFixed(2)} s`);
    });

    it('success: every event with an ack gets {ok:true, ...}, and does what it does', async () => {
      const { studyId, roomId } = newRoom();
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      const ok = async (ev, payload) => {
        const res = await a.ack(ev, [payload]);
        assert.ok(res && typeof res === 'object', `ack of ${ev}: ${safeJson(res)}`);
        assert.equal(res.ok, true, `ack of ${ev} ${safeJson(payload)}: ${safeJson(res)}`);
        return res;
      };
      await joinVideo(b, studyId, roomId);
      await joinStudy(b, studyId);
      await ok('video:join-room', { studyId, roomId });
      await a.next('video:room-state');
      await b.next('video:user-joined');
      await ok('presence:join-study', { studyId });
      await a.next('presence:study-joined');
      await b.next('presence:user-online');
      await ok('video:offer', { to: b.sid, offer: OFFER });
      await b.next('video:offer');
      await ok('video:answer', { to: b.sid, answer: { type: 'answer', sdp: 'x' } });
      await b.next('video:answer');
      await ok('video:ice-candidate', { to: b.sid, candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0 } });
      await b.next('video:ice-candidate');
      await ok('video:toggle-audio', { roomId, isMuted: true });
      await b.next('video:peer-audio-changed');
      await ok('video:toggle-video', { roomId, isVideoOff: true });
      await b.next('video:peer-video-changed');
      await ok('video:screen-share-start', { roomId });
      await b.next('video:screen-share-started');
      await ok('video:screen-share-stop', { roomId });
      await b.next('video:screen-share-stopped');
      await ok('video:speaking', { roomId, speaking: true });
      await b.next('video:user-speaking');
      await ok('chat:send-message', { studyId, message: 'hi' });
      await b.next('chat:message-received', { filter: (m) => m && m.message === 'hi' });
      await a.next('chat:message-sent');
      await ok('chat:video-message', { roomId, message: 'hi' });
      await b.next('chat:video-message-received');
      await ok('chat:video-file', { roomId, file: FILE });
      await b.next('chat:video-file-received');
      await ok('chat:file-uploaded', { studyId, file: FILE });
      await b.next('chat:message-received', { filter: (m) => m && m.type === 'file' });
      await ok('chat:typing', { studyId, isTyping: true });
      await b.next('chat:user-typing');
      await ok('chat:mark-read', { messageIds: ['msg_1_x'] });
      await ok('presence:status-change', { status: 'away' });
      await b.next('presence:user-status-changed');
      await ok('presence:leave-study', { studyId });
      await b.next('presence:user-offline');
      await ok('video:leave-room', { roomId });
      await b.next('video:user-left');
      a.none('error');
      b.none('error');
    });

    it('NOT_MEMBER and MEMBERSHIP_CHECK_FAILED: error event and ack, with the old messages', async () => {
      const { studyId, roomId } = newRoom();
      const [a, x] = [await g.peer('A'), await g.peer('X')];
      g.api.setMembers(studyId, [a.userId]);
      await joinStudy(a, studyId);
      await joinVideo(a, studyId, roomId);
      await expectError(x, 'video:join-room', [{ studyId, roomId }], 'NOT_MEMBER', NOT_MEMBER_MSG);
      await expectError(x, 'presence:join-study', [{ studyId }], 'NOT_MEMBER', NOT_MEMBER_MSG);
      await expectError(x, 'chat:send-message', [{ studyId, message: 'hi' }], 'NOT_MEMBER', NOT_MEMBER_MSG);
      g.api.setFailure('500', { only: 'member' });
      const other = newRoom();
      await expectError(x, 'video:join-room', [other], 'MEMBERSHIP_CHECK_FAILED', CHECK_FAILED_MSG);
      await expectError(x, 'presence:join-study', [{ studyId: other.studyId }], 'MEMBERSHIP_CHECK_FAILED', CHECK_FAILED_MSG);
      await expectError(x, 'chat:typing', [{ studyId: other.studyId, isTyping: true }], 'MEMBERSHIP_CHECK_FAILED', CHECK_FAILED_MSG);
      g.api.setFailure(null);
      a.emit('chat:send-message', { studyId, message: 'end' });
      await a.next('chat:message-received', { filter: (m) => m && m.message === 'end' });
      await x.roundTrip();
      a.none('error', null, 'the errors went to X alone');
      assert.ok(x.socket.connected, 'a refusal does not disconnect');
    });

    it('NOT_IN_ROOM: error event and ack; others see no error', async () => {
      const { studyId, roomId } = newRoom();
      const [a, b, n] = [await g.peer('A'), await g.peer('B'), await g.peer('N')];
      await joinVideo(a, studyId, roomId);
      await joinVideo(b, studyId, roomId);
      await expectError(n, 'video:toggle-audio', [{ roomId, isMuted: true }], 'NOT_IN_ROOM');
      await expectError(n, 'video:speaking', [{ roomId, speaking: true }], 'NOT_IN_ROOM');
      await expectError(a, 'video:offer', [{ to: n.sid, offer: OFFER }], 'NOT_IN_ROOM');
      const text = uniq('end');
      a.emit('chat:video-message', { roomId, message: text });
      await b.next('chat:video-message-received', { filter: (m) => m && m.message === text });
      b.none('error');
      n.none('video:offer');
      n.none('error', (e) => e && e.code !== 'NOT_IN_ROOM');
    });

    it('unknown event names are ignored: no error, the connection stays and keeps working', async () => {
      const studyId = uniq('s');
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      await joinStudy(a, studyId);
      await joinStudy(b, studyId);
      a.emit('no-such-event', { x: 1 });
      a.emit('video:no-such-thing', { roomId: 'r' });
      a.emit('chat:', 'x');
      a.emit('presence:join-study-now', { studyId });
      a.emit('', {});
      a.emit('x'.repeat(2000), { y: 2 });
      a.socket.emit('no-such-event-with-ack', { z: 3 }, () => {});
      await a.roundTrip();
      const text = uniq('after');
      a.emit('chat:send-message', { studyId, message: text });
      await b.next('chat:message-received', { filter: (m) => m && m.message === text });
      await a.next('chat:message-sent');
      a.none('error', null, 'unknown events are ignored, not refused');
      b.none('presence:user-online');
      assert.ok(a.socket.connected);
    });
  });

  describe('RATE_LIMIT_EVENTS=5, VIDEO_ROOM_MAX=1', () => {
    const g = useGateway(['RATE_LIMIT_EVENTS=5', 'VIDEO_ROOM_MAX=1']);

    it('ROOM_FULL: error event and ack', async () => {
      const room = newRoom();
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      await joinVideo(a, room.studyId, room.roomId);
      await expectError(b, 'video:join-room', [room], 'ROOM_FULL');
      b.none('video:room-state');
    });

    it('a burst up to 3x the rate is accepted; beyond, RATE_LIMITED (error and ack); the connection stays', async () => {
      const a = await g.peer('A');
      const N = 45;
      const t0 = Date.now();
      const acks = [];
      for (let i = 0; i < N; i++) acks.push(a.ack('chat:mark-read', [{ messageIds: [`m${i}`] }]));
      const res = await Promise.all(acks);
      const elapsed = (Date.now() - t0) / 1000;
      const okCount = res.filter((r) => r && r.ok === true).length;
      const refused = res.filter((r) => !(r && r.ok === true));
      for (const r of refused) assertRefusal(r, 'RATE_LIMITED', undefined, 'ack of a refused event');
      for (const r of refused) assert.equal(r.ok, false);
      const bound = 15 + Math.ceil(elapsed * 5) + 1;
      assert.ok(okCount >= 15, `a burst of 3 x 5 = 15 is accepted: ${okCount} of ${N} accepted`);
      assert.ok(okCount <= bound, `no more than the burst and the rate: ${okCount} of ${N} accepted in ${elapsed} s (bound ${bound})`);
      // The accepted ones are the first ones.
      assert.ok(res.slice(0, 15).every((r) => r && r.ok === true), `the first 15 are accepted: ${safeJson(res.slice(0, 16))}`);
      const errs = a.all('error');
      assert.ok(errs.length >= 1, 'refused events get the error event too');
      for (const e of errs) assertRefusal(e, 'RATE_LIMITED', undefined, 'error event');

      // About time itself: a second later there is room again.
      await delay(1200);
      const later = await a.ack('chat:mark-read', [{ messageIds: [] }]);
      assert.equal(later?.ok, true, `accepted again after a second: ${safeJson(later)}`);
      assert.ok(a.socket.connected, 'a short burst does not disconnect');
      assert.equal(a.disconnects.length, 0);
    });

    it('a connection that stays over the limit for 10 s is disconnected; another client is unaffected', async () => {
      const studyId = uniq('s');
      const [p, q, f] = [await g.peer('P'), await g.peer('Q'), await g.peer('F')];
      await joinStudy(p, studyId);
      await joinStudy(q, studyId);
      await joinStudy(f, studyId);

      const disconnected = new Promise((resolve) => f.socket.once('disconnect', (reason) => resolve({ reason, at: Date.now() })));
      const t0 = Date.now();
      let floodSent = 0;
      const flood = setInterval(() => {
        // 50 events per second, ten times the rate; events that reach nobody.
        for (let i = 0; i < 5 && f.socket.connected; i++) {
          f.socket.emit('chat:mark-read', { messageIds: [] });
          floodSent++;
        }
      }, 100);
      // P and Q chat at 2.5 messages per second each while F floods.
      const sentP = [];
      const sentQ = [];
      let n = 0;
      const chat = setInterval(() => {
        const i = ++n;
        p.emit('chat:send-message', { studyId, message: `p${i}` });
        sentP.push(`p${i}`);
        q.emit('chat:send-message', { studyId, message: `q${i}` });
        sentQ.push(`q${i}`);
      }, 400);
      let result;
      try {
        result = await Promise.race([disconnected, delay(15000).then(() => null)]);
      } finally {
        clearInterval(flood);
        clearInterval(chat);
      }
      assert.ok(result, `F was not disconnected within 15 s of flooding (${floodSent} events sent; errors: ${f.all('error').length})`);
      const after = (result.at - t0) / 1000;
      assert.ok(after >= 9, `F was disconnected after ${after} s: not before it had been over the limit for 10 s`);
      assert.ok(after <= 13, `F was disconnected after ${after} s: not long after 10 s over the limit`);
      assert.ok(['io server disconnect', 'transport close', 'transport error'].includes(result.reason), `reason ${result.reason}`);
      assert.ok(f.all('error').some((e) => e && e.code === 'RATE_LIMITED'), 'F was told RATE_LIMITED before');

      // P and Q got every message of each other, in order, and are connected.
      const lastP = sentP.at(-1);
      const lastQ = sentQ.at(-1);
      await q.next('chat:message-received', { filter: (m) => m && m.message === lastP, what: `P's last message ${lastP}` });
      await p.next('chat:message-received', { filter: (m) => m && m.message === lastQ, what: `Q's last message ${lastQ}` });
      assert.deepEqual(q.all('chat:message-received', (m) => m && m.userId === p.userId).map((m) => m.message), sentP, 'Q got all of P, in order');
      assert.deepEqual(p.all('chat:message-received', (m) => m && m.userId === q.userId).map((m) => m.message), sentQ, 'P got all of Q, in order');
      for (const x of [p, q]) {
        assert.ok(x.socket.connected, `${x.name} is still connected`);
        x.none('error', null, 'the bystanders were never limited');
        x.none('presence:user-offline', (e) => e && e.userId !== f.userId);
      }
      // F's disconnect is a disconnect: the study hears F went offline.
      await p.next('presence:user-offline', { filter: (e) => e && e.userId === f.userId, what: 'user-offline about F' });
      const h = await request(`${g.url}/health`);
      assert.equal(h.status, 200);
    });
  });

  describe('ROOM_UNAVAILABLE (a room process that keeps dying at start: ROOMD_PATH=/bin/false)', () => {
    const g = useGateway(['ROOMD_PATH=/bin/false']);

    it('video:join-room and presence:join-study get ROOM_UNAVAILABLE "방 입장에 실패했습니다."; the gateway lives on', async () => {
      const a = await g.peer('A');
      const room = newRoom();
      await expectError(a, 'video:join-room', [room], 'ROOM_UNAVAILABLE', JOIN_FAILED_MSG, { timeoutMs: 20000, plain: false });
      await expectError(a, 'presence:join-study', [{ studyId: uniq('s') }], 'ROOM_UNAVAILABLE', JOIN_FAILED_MSG, { timeoutMs: 20000, plain: false });
      a.none('video:room-state');
      await a.roundTrip();
      assert.ok(a.socket.connected);
      const h = await request(`${g.url}/health`);
      assert.equal(h.status, 200);
    });
  });
});
