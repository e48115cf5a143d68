// coup-gateway: the presence events of contract §6 (join-study,
// leave-study, status-change, disconnect), presence per user rather than
// per tab, and the membership rule of §3 for presence:join-study, with the
// real socket.io-client.
//
// Absence of an event is never awaited with a sleep: a test sends a
// follow-up that must arrive after the unwanted event would have (a chat
// message to the same study) and then checks the log.

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

/** Every peer of `peers` and `sender` get a chat message sent to the study now. */
async function studyBarrier(sender, studyId, peers) {
  const message = uniq('barrier');
  sender.emit('chat:send-message', { studyId, message });
  await Promise.all(
    [sender, ...peers].map((p) =>
      p.next('chat:message-received', { filter: (m) => m && m.studyId === studyId && m.message === message, what: `the barrier message in study ${studyId}` }),
    ),
  );
}

function assertTimestamp(ts, where) {
  assert.equal(typeof ts, 'string', `${where}: timestamp is a string; got ${safeJson(ts)}`);
  assert.match(ts, ISO_UTC, `${where}: timestamp is ISO-8601 UTC`);
  assert.ok(Math.abs(Date.parse(ts) - Date.now()) < 10000, `${where}: timestamp ${ts} is now`);
}

/** presence:user-online / -offline about `peer`. */
function assertPresence(ev, peer, where) {
  assert.ok(ev && typeof ev === 'object', `${where}: ${safeJson(ev)}`);
  assert.equal(ev.userId, peer.userId, `${where}: userId; got ${safeJson(ev)}`);
  assert.deepEqual(ev.user, peer.user, `${where}: user is {id,name,email,avatar}; got ${safeJson(ev)}`);
  assertTimestamp(ev.timestamp, where);
}

/**
 * presence:study-joined {studyId, onlineCount, users:[{userId,user,status}]}
 * naming exactly the users of `peers` (one entry per user).
 */
function assertStudyJoined(sj, studyId, peers, where, statuses = {}) {
  assert.ok(sj && typeof sj === 'object', `${where}: ${safeJson(sj)}`);
  assert.equal(sj.studyId, studyId, `${where}: studyId`);
  const users = new Map(peers.map((p) => [p.userId, p]));
  assert.equal(sj.onlineCount, users.size, `${where}: onlineCount counts users; got ${safeJson(sj)}`);
  assert.ok(Array.isArray(sj.users), `${where}: users is an array; got ${safeJson(sj)}`);
  assert.deepEqual(sj.users.map((u) => u && u.userId).sort(), [...users.keys()].sort(), `${where}: users, the joiner included, each once; got ${safeJson(sj.users)}`);
  for (const u of sj.users) {
    const p = users.get(u.userId);
    assert.deepEqual(u.user, p.user, `${where}: user of ${u.userId}`);
    assert.equal(typeof u.status, 'string', `${where}: status of ${u.userId} is a string; got ${safeJson(u)}`);
    if (statuses[u.userId] !== undefined) assert.equal(u.status, statuses[u.userId], `${where}: status of ${u.userId}`);
  }
}

// ---------------------------------------------------------------------------

describe('presence events (contract §6)', { skip: SKIP }, () => {
  const g = useGateway(['MEMBER_CACHE_TTL=0']);

  it('join-study: study-joined {studyId, onlineCount, users} to the caller, user-online {userId,user,timestamp} to the others', async () => {
    const studyId = uniq('s');
    const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
    assertStudyJoined(await joinStudy(a, studyId), studyId, [a], 'study-joined of the first user');
    assertStudyJoined(await joinStudy(b, studyId), studyId, [a, b], 'study-joined of the second user');
    assertPresence(await a.next('presence:user-online'), b, 'user-online about B at A');
    assertStudyJoined(await joinStudy(c, studyId), studyId, [a, b, c], 'study-joined of the third user');
    for (const p of [a, b]) assertPresence(await p.next('presence:user-online', { filter: (e) => e && e.userId === c.userId }), c, `user-online about C at ${p.label}`);

    await studyBarrier(a, studyId, [b, c]);
    for (const p of [a, b, c]) {
      p.none('presence:user-online', (e) => e && e.userId === p.userId, 'nobody hears about itself');
      assert.equal(p.all('presence:study-joined').length, 1);
      p.none('error');
    }
    assert.equal(a.all('presence:user-online').length, 2);
    assert.equal(c.all('presence:user-online').length, 0);
  });

  it('leave-study: user-offline {userId,user,timestamp} to the others; the leaver gets no more study traffic', async () => {
    const studyId = uniq('s');
    const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
    for (const p of [a, b, c]) await joinStudy(p, studyId);
    c.emit('presence:leave-study', { studyId });
    for (const p of [a, b]) assertPresence(await p.next('presence:user-offline'), c, `user-offline about C at ${p.label}`);
    a.emit('chat:typing', { studyId, isTyping: true });
    await b.next('chat:user-typing');
    await studyBarrier(a, studyId, [b]);
    await c.roundTrip();
    c.none('chat:user-typing', null, 'C left');
    c.none('chat:message-received', null, 'C left');
    c.none('presence:user-offline', (e) => e && e.userId === c.userId, 'not to the leaver');
    const d = await g.peer('D');
    assertStudyJoined(await joinStudy(d, studyId), studyId, [a, b, d], 'study-joined after C left');
  });

  it('disconnect sends user-offline to the study', async () => {
    const studyId = uniq('s');
    const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
    for (const p of [a, b, c]) await joinStudy(p, studyId);
    b.socket.disconnect();
    for (const p of [a, c]) assertPresence(await p.next('presence:user-offline'), b, `user-offline about B at ${p.label}`);
    c.socket.io.engine.close(); // a transport close, no DISCONNECT packet
    assertPresence(await a.next('presence:user-offline', { filter: (e) => e && e.userId === c.userId }), c, 'user-offline about C');
    const d = await g.peer('D');
    assertStudyJoined(await joinStudy(d, studyId), studyId, [a, d], 'study-joined after the disconnects');
  });

  it('per user, not per tab: user-online for the first tab only; user-offline when the last tab leaves', async () => {
    const studyId = uniq('s');
    const b = await g.peer('B');
    await joinStudy(b, studyId);
    const ua = g.user('A');
    const a1 = await g.peer('A1', {}, ua);
    const a2 = await g.peer('A2', {}, ua);

    assertStudyJoined(await joinStudy(a1, studyId), studyId, [b, a1], 'study-joined of the first tab');
    assertPresence(await b.next('presence:user-online'), a1, 'user-online for the first tab');
    assertStudyJoined(await joinStudy(a2, studyId), studyId, [b, a2], 'study-joined of the second tab (A counted once)');
    await studyBarrier(b, studyId, [a1, a2]);
    assert.equal(b.all('presence:user-online').length, 1, `no user-online for the second tab: ${safeJson(b.all('presence:user-online'))}`);
    a1.none('presence:user-online', null, 'A is not told about itself');

    // The first tab leaves: A is still online.
    a1.emit('presence:leave-study', { studyId });
    await studyBarrier(b, studyId, [a2]);
    b.none('presence:user-offline', null, 'A still has a tab in the study');
    const c = await g.peer('C');
    assertStudyJoined(await joinStudy(c, studyId), studyId, [b, a2, c], 'study-joined while A has one tab left');

    // The last tab disconnects: now A goes offline, once.
    a2.socket.disconnect();
    assertPresence(await b.next('presence:user-offline'), a2, 'user-offline when the last tab goes');
    assertPresence(await c.next('presence:user-offline'), a2, 'user-offline at C');
    await studyBarrier(b, studyId, [c]);
    assert.equal(b.all('presence:user-offline').length, 1);
  });

  it('per user: the first tab disconnecting says nothing; the last one leaving says user-offline', async () => {
    const studyId = uniq('s');
    const b = await g.peer('B');
    await joinStudy(b, studyId);
    const ua = g.user('A');
    const a1 = await g.peer('A1', {}, ua);
    const a2 = await g.peer('A2', { transports: ['polling'] }, ua);
    await joinStudy(a1, studyId);
    await joinStudy(a2, studyId);
    await b.next('presence:user-online');
    a1.socket.disconnect();
    await studyBarrier(b, studyId, [a2]);
    b.none('presence:user-offline', null, 'A still has a tab');
    a2.emit('presence:leave-study', { studyId });
    assertPresence(await b.next('presence:user-offline'), a2, 'user-offline when the last tab leaves');
    // Back again: user-online again.
    await joinStudy(a2, studyId);
    assertPresence(await b.next('presence:user-online', { filter: (e) => e && e.userId === ua.id }), a2, 'user-online when A comes back');
    assert.equal(b.all('presence:user-online').length, 2);
  });

  it('status-change: user-status-changed {userId,user,status} to the others of every study room of the socket', async () => {
    const s1 = uniq('s');
    const s2 = uniq('s');
    const s3 = uniq('s');
    const [a, b, c, d] = [await g.peer('A'), await g.peer('B'), await g.peer('C'), await g.peer('D')];
    await joinStudy(a, s1);
    await joinStudy(a, s2);
    await joinStudy(b, s1);
    await joinStudy(c, s2);
    await joinStudy(d, s3);

    a.emit('presence:status-change', { status: 'away' });
    for (const p of [b, c]) {
      assert.deepEqual(await p.next('presence:user-status-changed'), { userId: a.userId, user: a.user, status: 'away' }, `at ${p.label}`);
    }
    const s32 = `${'회의 중 '.repeat(6)}!!`;
    assert.equal(s32.length, 32);
    a.emit('presence:status-change', { status: s32 });
    for (const p of [b, c]) {
      assert.equal((await p.next('presence:user-status-changed')).status, s32, `a 32-character status at ${p.label}`);
    }
    await studyBarrier(a, s1, [b]);
    await studyBarrier(a, s2, [c]);
    await studyBarrier(d, s3, []);
    a.none('presence:user-status-changed', null, 'not to the sender');
    d.none('presence:user-status-changed', null, 'D shares no study with A');
    for (const p of [a, b, c, d]) p.none('error');
  });

  it('status-change longer than 32 characters (or not a string) is BAD_REQUEST and reaches nobody', async () => {
    const studyId = uniq('s');
    const [a, b] = [await g.peer('A'), await g.peer('B')];
    await joinStudy(a, studyId);
    await joinStudy(b, studyId);
    await expectError(a, 'presence:status-change', [{ status: 'x'.repeat(33) }], 'BAD_REQUEST');
    await expectError(a, 'presence:status-change', [{ status: 42 }], 'BAD_REQUEST');
    await expectError(a, 'presence:status-change', [{}], 'BAD_REQUEST');
    await studyBarrier(a, studyId, [b]);
    b.none('presence:user-status-changed');
    b.none('error');
  });

  it('a later joiner sees the current status in users', async () => {
    const studyId = uniq('s');
    const [a, b] = [await g.peer('A'), await g.peer('B')];
    await joinStudy(a, studyId);
    a.emit('presence:status-change', { status: 'busy' });
    const res = await a.ack('chat:mark-read', [{ messageIds: [] }]); // after the status change
    assert.equal(res?.ok, true);
    assertStudyJoined(await joinStudy(b, studyId), studyId, [a, b], 'study-joined after A changed its status', { [a.userId]: 'busy' });
  });

  it('join-study by a non-member: NOT_MEMBER "접근 권한이 없습니다.", nobody sees it online', async () => {
    const studyId = uniq('s');
    const [a, b, x] = [await g.peer('A'), await g.peer('B'), await g.peer('X')];
    g.api.setMembers(studyId, [a.userId, b.userId]);
    await joinStudy(a, studyId);
    await expectError(x, 'presence:join-study', [{ studyId }], 'NOT_MEMBER', NOT_MEMBER_MSG);
    assert.ok(
      g.api.calls.some((c) => c.url === `/api/studies/${studyId}/check-member` && c.body && c.body.userId === x.userId),
      'the gateway asked the API about X',
    );
    await studyBarrier(a, studyId, []);
    a.none('presence:user-online');
    x.none('presence:study-joined');
    x.none('chat:message-received');
    assertStudyJoined(await joinStudy(b, studyId), studyId, [a, b], 'X is not listed');
  });

  it('check-member failing (500) in production: presence:join-study gets MEMBERSHIP_CHECK_FAILED', async () => {
    const studyId = uniq('s');
    const x = await g.peer('X');
    g.api.setFailure('500', { only: 'member' });
    await expectError(x, 'presence:join-study', [{ studyId }], 'MEMBERSHIP_CHECK_FAILED', '멤버십 확인에 실패했습니다.');
    x.none('presence:study-joined');
  });
});
