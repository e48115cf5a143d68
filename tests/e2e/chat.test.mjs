// coup-gateway: the chat events of contract §6 (study chat, video-room
// chat, files, typing, mark-read), the membership rule of §3 for a sender
// that has not joined the study, and CHAT_MAX_LENGTH, with the real
// socket.io-client.
//
// Absence of an event is never awaited with a sleep: a test sends a
// follow-up that must arrive after the unwanted event would have and then
// checks the unwanted event is not in the log.

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

// ---------------------------------------------------------------------------
// helpers


/** presence:join-study; resolves with presence:study-joined. */
async function joinStudy(peer, studyId) {
  peer.emit('presence:join-study', { studyId });
  return peer.next('presence:study-joined', { filter: (e) => e && e.studyId === studyId, what: `presence:study-joined for ${studyId}` });
}

/** video:join-room of study-<studyId>-main; resolves with the room-state. */
async function joinVideo(peer, studyId) {
  const roomId = `study-${studyId}-main`;
  peer.emit('video:join-room', { studyId, roomId });
  return peer.next('video:room-state', { what: `video:room-state after joining ${roomId}` });
}

let shortSeq = 0;
/**
 * `sender` (a member of study:<studyId>) sends a chat message; every peer
 * of `peers` and the sender get it: whatever the study room sent them
 * before has arrived. The text is short (CHAT_MAX_LENGTH may be 10).
 */
async function studyBarrier(sender, studyId, peers) {
  const message = `b${++shortSeq}`;
  sender.emit('chat:send-message', { studyId, message });
  await Promise.all(
    [sender, ...peers].map((p) =>
      p.next('chat:message-received', { filter: (m) => m && m.studyId === studyId && m.message === message, what: `the barrier message ${message} in study ${studyId}` }),
    ),
  );
  await sender.next('chat:message-sent', { what: 'chat:message-sent for the barrier' });
}

async function videoBarrier(sender, roomId, peers) {
  const message = `v${++shortSeq}`;
  sender.emit('chat:video-message', { roomId, message });
  await Promise.all(
    [sender, ...peers].map((p) =>
      p.next('chat:video-message-received', { filter: (m) => m && m.message === message, what: `the barrier message ${message} in ${roomId}` }),
    ),
  );
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function assertTimestamp(ts, from, to, where) {
  assert.equal(typeof ts, 'string', `${where}: timestamp is a string; got ${safeJson(ts)}`);
  assert.match(ts, ISO_UTC, `${where}: timestamp is ISO-8601 UTC`);
  const t = Date.parse(ts);
  assert.ok(t >= from - 2000 && t <= to + 2000, `${where}: timestamp ${ts} is now`);
}

/** An id "<prefix>_<ms>_<socketId>" with maybe a suffix; returns the ms. */
function assertId(id, prefix, sid, where, { exactShape = true } = {}) {
  assert.equal(typeof id, 'string', `${where}: id is a string; got ${safeJson(id)}`);
  const re = exactShape ? new RegExp(`^${prefix}_(\\d+)_${escapeRe(sid)}(.*)$`) : new RegExp(`^${prefix}_(\\d+)`);
  const m = re.exec(id);
  assert.ok(m, `${where}: id ${safeJson(id)} has the shape ${prefix}_<ms>_${exactShape ? sid : '...'}`);
  const ms = Number(m[1]);
  assert.ok(Math.abs(ms - Date.now()) < 60000, `${where}: the <ms> of ${id} is now`);
  return ms;
}

const FILE = { name: '회의록.pdf', size: 12345, type: 'application/pdf', url: 'https://files.coup.test/a/회의록.pdf' };

// ---------------------------------------------------------------------------

describe('chat events (contract §6)', { skip: SKIP }, () => {
  describe('production', () => {
    const g = useGateway(['MEMBER_CACHE_TTL=0']);

    it('send-message: message-received to all of study:<id> with every field; message-sent to the caller', async () => {
      const studyId = uniq('s');
      const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
      for (const p of [a, b, c]) await joinStudy(p, studyId);

      const t0 = Date.now();
      a.emit('chat:send-message', { studyId, message: '안녕하세요 👋 hello' });
      const got = [];
      for (const p of [a, b, c]) got.push(await p.next('chat:message-received', { what: `message-received at ${p.label}` }));
      const t1 = Date.now();
      const m = got[0];
      for (const other of got.slice(1)) assert.deepEqual(other, m, 'everybody gets the same message');
      const ms = assertId(m.id, 'msg', a.sid, 'message-received');
      assert.equal(m.studyId, studyId);
      assert.equal(m.userId, a.userId);
      assert.deepEqual(m.user, a.user, 'user is {id,name,email,avatar} from the API');
      assert.equal(m.message, '안녕하세요 👋 hello');
      assert.equal(m.type, 'text', 'type defaults to "text"');
      assert.equal(m.socketId, a.sid);
      assertTimestamp(m.timestamp, t0, t1, 'message-received');
      assert.ok(Math.abs(Date.parse(m.timestamp) - ms) < 1000, `the <ms> of the id (${ms}) and the timestamp (${m.timestamp}) agree`);

      const sent = await a.next('chat:message-sent');
      assert.deepEqual(sent, { success: true, messageId: m.id }, 'chat:message-sent {success:true, messageId}');

      // A given type is kept.
      b.emit('chat:send-message', { studyId, message: 'img', type: 'image' });
      const img = await c.next('chat:message-received', { filter: (x) => x && x.message === 'img' });
      assert.equal(img.type, 'image');
      assertId(img.id, 'msg', b.sid, 'message of B');
      assert.equal((await b.next('chat:message-sent')).messageId, img.id);

      await studyBarrier(c, studyId, [a, b]);
      assert.equal(a.all('chat:message-sent').length, 1, 'A got one message-sent');
      assert.equal(b.all('chat:message-sent').length, 1, 'B got one message-sent, for its own message');
      for (const p of [a, b, c]) p.none('error');
    });

    it('a burst of messages: every id is different, order is kept', async () => {
      const studyId = uniq('s');
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      await joinStudy(a, studyId);
      await joinStudy(b, studyId);
      const N = 40;
      for (let i = 0; i < N; i++) a.emit('chat:send-message', { studyId, message: `burst ${i}` });
      const got = [];
      for (let i = 0; i < N; i++) got.push(await b.next('chat:message-received', { what: `burst message ${i}` }));
      assert.deepEqual(got.map((m) => m.message), Array.from({ length: N }, (_, i) => `burst ${i}`), 'in order');
      const ids = got.map((m) => m.id);
      assert.equal(new Set(ids).size, N, `ids are unique: ${safeJson(ids)}`);
      const perMs = new Map();
      for (const id of ids) {
        const ms = assertId(id, 'msg', a.sid, 'burst');
        perMs.set(ms, (perMs.get(ms) ?? 0) + 1);
      }
      const sent = [];
      for (let i = 0; i < N; i++) sent.push(await a.next('chat:message-sent'));
      assert.deepEqual(sent.map((s) => s.messageId), ids, 'message-sent names each message in turn');
      assert.ok(sent.every((s) => s.success === true));
      process.stderr.write(`# burst: ${N} messages over ${perMs.size} distinct milliseconds\n`);
    });

    it('a member that has not joined the study: send-message, typing and file-uploaded are delivered, without joining it', async () => {
      const studyId = uniq('s');
      const [a, b, s] = [await g.peer('A'), await g.peer('B'), await g.peer('S')];
      await joinStudy(a, studyId);
      await joinStudy(b, studyId);

      s.emit('chat:send-message', { studyId, message: 'from outside' });
      for (const p of [a, b]) {
        const m = await p.next('chat:message-received', { filter: (x) => x && x.message === 'from outside' });
        assertId(m.id, 'msg', s.sid, 'guest message');
        assert.equal(m.userId, s.userId);
        assert.deepEqual(m.user, s.user);
        assert.equal(m.socketId, s.sid);
        assert.equal(m.studyId, studyId);
      }
      const sent = await s.next('chat:message-sent');
      assert.equal(sent.success, true, `message-sent to the guest: ${safeJson(sent)}`);

      s.emit('chat:typing', { studyId, isTyping: true });
      for (const p of [a, b]) assert.deepEqual(await p.next('chat:user-typing'), { userId: s.userId, user: s.user, isTyping: true });
      s.emit('chat:file-uploaded', { studyId, file: FILE });
      for (const p of [a, b]) {
        const f = await p.next('chat:message-received', { filter: (x) => x && x.type === 'file' });
        assert.deepEqual(f.file, FILE);
        assert.equal(f.userId, s.userId);
      }

      // S did not join: it gets none of the later study traffic, and nobody
      // saw it come online.
      a.emit('chat:send-message', { studyId, message: 'members only' });
      a.emit('chat:typing', { studyId, isTyping: true });
      await b.next('chat:message-received', { filter: (x) => x && x.message === 'members only' });
      await b.next('chat:user-typing', { filter: (x) => x && x.userId === a.userId });
      await studyBarrier(b, studyId, [a]);
      // A second guest message goes through the study room after A's.
      s.emit('chat:send-message', { studyId, message: 'again' });
      await a.next('chat:message-received', { filter: (x) => x && x.message === 'again' });
      await s.next('chat:message-sent', { filter: (x) => x && x.success === true });
      await s.roundTrip();
      s.none('chat:message-received', (x) => x && x.socketId !== s.sid, 'S is not in the study room');
      s.none('chat:user-typing');
      for (const p of [a, b]) {
        p.none('presence:user-online', (x) => x && x.userId === s.userId, 'S did not join');
        p.none('error');
      }
      s.none('error');
    });

    it('a non-member that has not joined: send-message, typing and file-uploaded get NOT_MEMBER and reach nobody', async () => {
      const studyId = uniq('s');
      const [a, b, x] = [await g.peer('A'), await g.peer('B'), await g.peer('X')];
      g.api.setMembers(studyId, [a.userId, b.userId]);
      await joinStudy(a, studyId);
      await joinStudy(b, studyId);

      await expectError(x, 'chat:send-message', [{ studyId, message: 'intruder' }], 'NOT_MEMBER', NOT_MEMBER_MSG);
      await expectError(x, 'chat:typing', [{ studyId, isTyping: true }], 'NOT_MEMBER', NOT_MEMBER_MSG);
      await expectError(x, 'chat:file-uploaded', [{ studyId, file: FILE }], 'NOT_MEMBER', NOT_MEMBER_MSG);
      assert.ok(
        g.api.calls.some((c) => c.url === `/api/studies/${studyId}/check-member` && c.body && c.body.userId === x.userId),
        'the gateway asked the API about X',
      );
      await studyBarrier(a, studyId, [b]);
      for (const p of [a, b]) {
        p.none('chat:message-received', (m) => m && m.userId === x.userId, 'X was refused');
        p.none('chat:user-typing');
        p.none('error');
      }
      x.none('chat:message-received');
      x.none('chat:message-sent', (s) => s && s.success === true, 'nothing was sent');
    });

    it('video-message and video-file: to all of video:<roomId> with every field, nobody else', async () => {
      const studyId = uniq('s');
      const roomId = `study-${studyId}-main`;
      const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
      await joinVideo(a, studyId);
      await joinVideo(b, studyId);
      await joinVideo(c, uniq('s')); // another room

      const t0 = Date.now();
      a.emit('chat:video-message', { roomId, message: '화면 보이나요?' });
      const ms = [await a.next('chat:video-message-received'), await b.next('chat:video-message-received')];
      const t1 = Date.now();
      assert.deepEqual(ms[1], ms[0], 'sender and other member get the same message');
      const m = ms[0];
      assertId(m.id, 'vmsg', a.sid, 'video-message', { exactShape: false });
      assert.equal(m.roomId, roomId);
      assert.equal(m.userId, a.userId);
      assert.deepEqual(m.user, a.user);
      assert.equal(m.message, '화면 보이나요?');
      assert.equal(m.socketId, a.sid);
      assertTimestamp(m.timestamp, t0, t1, 'video-message-received');

      b.emit('chat:video-file', { roomId, file: FILE });
      const fs = [await a.next('chat:video-file-received'), await b.next('chat:video-file-received')];
      assert.deepEqual(fs[1], fs[0]);
      const f = fs[0];
      assertId(f.id, 'vfile', b.sid, 'video-file', { exactShape: false });
      assert.equal(f.roomId, roomId);
      assert.equal(f.userId, b.userId);
      assert.deepEqual(f.user, b.user);
      assert.equal(f.type, 'file');
      assert.deepEqual(f.file, FILE);
      assert.equal(f.socketId, b.sid);
      assertTimestamp(f.timestamp, t0, Date.now(), 'video-file-received');

      // Two messages in a burst get different ids.
      a.emit('chat:video-message', { roomId, message: 'x1' });
      a.emit('chat:video-message', { roomId, message: 'x2' });
      const x1 = await b.next('chat:video-message-received', { filter: (e) => e && e.message === 'x1' });
      const x2 = await b.next('chat:video-message-received', { filter: (e) => e && e.message === 'x2' });
      assert.notEqual(x1.id, x2.id, 'video message ids are unique');

      await videoBarrier(a, roomId, [b]);
      await c.roundTrip();
      c.none('chat:video-message-received', (e) => e && e.roomId === roomId, 'C is in another room');
      c.none('chat:video-file-received');
      for (const p of [a, b]) p.none('error');
    });

    it('file-uploaded: message-received {id:"file_…", type:"file", file, ...} to all of study:<id>', async () => {
      const studyId = uniq('s');
      const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
      for (const p of [a, b, c]) await joinStudy(p, studyId);
      const t0 = Date.now();
      a.emit('chat:file-uploaded', { studyId, file: FILE });
      const got = [];
      for (const p of [a, b, c]) got.push(await p.next('chat:message-received', { filter: (x) => x && x.type === 'file' }));
      for (const other of got.slice(1)) assert.deepEqual(other, got[0]);
      const f = got[0];
      assertId(f.id, 'file', a.sid, 'file-uploaded', { exactShape: false });
      assert.equal(f.studyId, studyId);
      assert.equal(f.userId, a.userId);
      assert.deepEqual(f.user, a.user);
      assert.equal(f.type, 'file');
      assert.deepEqual(f.file, FILE);
      assertTimestamp(f.timestamp, t0, Date.now(), 'file message');
      await studyBarrier(b, studyId, [a, c]);
      for (const p of [a, b, c]) p.none('error');
    });

    it('typing: chat:user-typing {userId, user, isTyping} to the others only', async () => {
      const studyId = uniq('s');
      const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
      for (const p of [a, b, c]) await joinStudy(p, studyId);
      a.emit('chat:typing', { studyId, isTyping: true });
      for (const p of [b, c]) assert.deepEqual(await p.next('chat:user-typing'), { userId: a.userId, user: a.user, isTyping: true });
      a.emit('chat:typing', { studyId, isTyping: false });
      for (const p of [b, c]) assert.deepEqual(await p.next('chat:user-typing'), { userId: a.userId, user: a.user, isTyping: false });
      await studyBarrier(a, studyId, [b, c]);
      a.none('chat:user-typing', null, 'not to the sender');
      for (const p of [a, b, c]) p.none('error');
    });

    it('mark-read: accepted (ack {ok:true}), no effect on anybody', async () => {
      const studyId = uniq('s');
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      await joinStudy(a, studyId);
      await joinStudy(b, studyId);
      a.emit('chat:mark-read', { messageIds: ['msg_1_x', 'msg_2_y'] });
      const res = await a.ack('chat:mark-read', [{ messageIds: ['msg_3_z'] }]);
      assert.equal(res?.ok, true, `ack of chat:mark-read: ${safeJson(res)}`);
      await studyBarrier(a, studyId, [b]);
      const before = b.log.length;
      assert.equal(
        b.log.filter((e) => e.event !== 'chat:message-received' && e.event !== 'presence:study-joined' && e.event !== 'presence:user-online').length,
        0,
        `B got nothing else: ${b.summary()}`,
      );
      assert.ok(before >= 1);
      a.none('error');
    });
  });

  describe('CHAT_MAX_LENGTH=10', () => {
    const g = useGateway(['CHAT_MAX_LENGTH=10']);

    it('counts characters: 10 (Korean, 30 bytes) pass, 11 get BAD_REQUEST and reach nobody', async () => {
      const studyId = uniq('s');
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      await joinStudy(a, studyId);
      await joinStudy(b, studyId);
      const ten = '가나다라마바사아자차';
      assert.equal(ten.length, 10);
      a.emit('chat:send-message', { studyId, message: ten });
      assert.equal((await b.next('chat:message-received')).message, ten);
      assert.equal((await a.next('chat:message-sent')).success, true);

      await expectError(a, 'chat:send-message', [{ studyId, message: `${ten}카` }], 'BAD_REQUEST');
      await expectError(a, 'chat:send-message', [{ studyId, message: 'x'.repeat(5000) }], 'BAD_REQUEST');
      await studyBarrier(a, studyId, [b]);
      b.none('chat:message-received', (m) => m && m.message.length > 10, 'too long');
      b.none('error');
    });
  });
});
