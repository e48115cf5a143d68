// Nothing a client sends can take down a room, a session or the gateway:
// every limit on outside input is defined once (common/bounds.h) and
// checked where the input enters. Each test sends what an attacker would
// (raw frames where socket.io-client cannot) and checks what a correct
// server does: the attacker refused with a clear error or cut, everyone
// else still in the call and hearing everything, the room's process and
// the gateway alive.
//
// (Parked HTTP requests, accept under descriptor exhaustion and long
// Origins are http-limits.test.mjs's; Redis peers cluster-hostile's.)

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, binaryFromEnv, skipReason } from './lib/server.mjs';
import { safeJson, pollUntil, withTimeout } from './lib/wait.mjs';
import { request } from './lib/eio-polling.mjs';
import { eioWs, sioWs } from './lib/raw-ws.mjs';
import { uniq, assertRefusal, expectError, useGateway } from './lib/coup.mjs';
import { readProc, roomChild } from './lib/proc.mjs';

const GATEWAY = binaryFromEnv('COUP_GATEWAY');
const SKIP = skipReason('COUP_GATEWAY') || (process.platform !== 'linux' ? 'needs /proc (Linux)' : false);
const MSG_JOIN_FAIL = '방 입장에 실패했습니다.';

// ---------------------------------------------------------------------------
// helpers

async function joinStudy(peer, studyId) {
  const res = await peer.ack('presence:join-study', [{ studyId }]);
  assert.equal(res?.ok, true, `${peer.name} joins study ${studyId}: ${safeJson(res)}`);
}

async function joinVideo(peer, studyId, roomId = `study-${studyId}-main`) {
  const res = await peer.ack('video:join-room', [{ studyId, roomId }]);
  assert.equal(res?.ok, true, `${peer.name} joins ${roomId}: ${safeJson(res)}`);
}

/** A socket.io-client connection that must be refused; its message. */
async function connectRefused(g, auth) {
  const socket = g.clients.open(g.url, { transports: ['websocket'], auth });
  return withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error(`connected with ${safeJson(auth).slice(0, 200)}`)));
    socket.once('connect_error', (err) => resolve(err.message));
  }), 5000, 'the CONNECT_ERROR');
}

/** A raw Socket.IO connection of a new user: { ws, sid, user }. */
async function rawPeer(g, label) {
  const user = g.user(label);
  const { ws, sid } = await sioWs(g.url, { auth: { userId: user.id, token: `tok-${user.id}` } });
  return { ws, sid, user };
}

/** The next text frame starting with prefix (others skipped, bounded). */
async function rawNext(ws, prefix, { timeoutMs = 5000 } = {}) {
  const until = Date.now() + timeoutMs;
  for (let i = 0; i < 10000; i++) {
    const left = until - Date.now();
    if (left <= 0) break;
    const m = await ws.next({ timeoutMs: left, what: `a frame starting ${prefix.slice(0, 60)}` });
    if (m.text !== undefined && m.text.startsWith(prefix)) return m.text;
  }
  throw new Error(`no frame starting ${prefix.slice(0, 60)} within ${timeoutMs} ms`);
}

async function rawJoinVideo(p, studyId, roomId = `study-${studyId}-main`) {
  p.ws.send(`421["video:join-room",${JSON.stringify({ studyId, roomId })}]`);
  await rawNext(p.ws, '431[{"ok":true');
}

async function prometheus(url) {
  const res = await request(`${url}/metrics/prometheus`);
  assert.equal(res.status, 200);
  const out = {};
  for (const line of res.body.split('\n')) {
    const m = /^([a-z_]+) ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

function rssOf(pid) {
  const statm = readProc(pid, 'statm');
  return Number(statm.split(' ')[1]) * 4096;
}

/** A and B in one call; they then check they still hear each other. */
async function pair(g, studyId = uniq('s')) {
  const [a, b] = [await g.peer('A'), await g.peer('B')];
  await joinVideo(a, studyId);
  await joinVideo(b, studyId);
  return { a, b, studyId, roomId: `study-${studyId}-main` };
}

async function stillTalking({ a, b, roomId }, tag) {
  a.emit('chat:video-message', { roomId, message: `${tag} a->b` });
  await b.next('chat:video-message-received', { filter: (m) => m?.message === `${tag} a->b`, what: `${tag}: A's message at B` });
  b.emit('chat:video-message', { roomId, message: `${tag} b->a` });
  await a.next('chat:video-message-received', { filter: (m) => m?.message === `${tag} b->a`, what: `${tag}: B's message at A` });
  for (const p of [a, b]) {
    assert.ok(p.socket.connected, `${p.name} is connected (${tag})`);
    p.none('video:user-left', null, tag);
  }
}

// ---------------------------------------------------------------------------

describe('ids and user fields are bounded where they enter', { skip: SKIP }, () => {
  const g = useGateway();

  it('a userId over 128 bytes gets a CONNECT_ERROR that names the problem; 128 bytes get in', async () => {
    const before = g.api.verifyCalls().length;
    for (const userId of ['u'.repeat(129), 'v'.repeat(2000), 'a\nb', `x${'\u0001'}y`]) {
      const msg = await connectRefused(g, { userId, token: 't' });
      assert.match(msg, /userId/, `userId ${safeJson(userId).slice(0, 40)}: ${msg}`);
      assert.match(msg, /128/, 'the message says the bound');
    }
    assert.equal(g.api.verifyCalls().length, before, 'the CoUp API was never asked about them');
    const ok = g.user('L');
    const long = { ...ok, id: `${ok.id}-${'k'.repeat(128 - ok.id.length - 1)}` };
    assert.equal(long.id.length, 128);
    g.api.setUser(long.id, { name: 'Long', status: 'ACTIVE' });
    const p = await g.peer('L', {}, long);
    const studyId = uniq('s');
    const other = await g.peer('O');
    await joinVideo(other, studyId);
    await joinVideo(p, studyId);
    const joined = await other.next('video:user-joined');
    assert.equal(joined.userId, long.id, 'a 128-byte userId is in the call as it is');
  });

  it('a token over 8192 bytes or with a CR LF is refused before the API is asked', async () => {
    const u = g.user('T');
    const before = g.api.verifyCalls().length;
    for (const token of ['t'.repeat(8193), 'abc\r\nX-Injected: 1']) {
      const msg = await connectRefused(g, { userId: u.id, token });
      assert.match(msg, /token/, `${safeJson(token).slice(0, 40)}: ${msg}`);
    }
    assert.equal(g.api.verifyCalls().length, before, 'no API call for them');
    const s = await g.clients.connect(g.url, { transports: ['websocket'], auth: { userId: u.id, token: 't'.repeat(8192) } });
    assert.ok(s.connected, 'a token of 8192 bytes is fine');
    const last = g.api.verifyCalls().at(-1);
    assert.equal(last.headers.authorization, `Bearer ${'t'.repeat(8192)}`);
    assert.equal(last.headers['x-injected'], undefined);
  });

  it('ids over 128 bytes and statuses over 32 characters get BAD_REQUEST; at the bound they pass', async () => {
    const p = await g.peer('I');
    const long = 's'.repeat(129);
    for (const [ev, payload, field] of [
      ['presence:join-study', { studyId: long }, 'studyId'],
      ['video:join-room', { studyId: 's', roomId: long }, 'roomId'],
      ['video:offer', { to: long, offer: {} }, 'to'],
      ['chat:send-message', { studyId: long, message: 'm' }, 'studyId'],
      ['presence:status-change', { status: 'x'.repeat(33) }, 'status'],
      ['chat:send-message', { studyId: 's', message: 'm', type: 't'.repeat(33) }, 'type'],
    ]) {
      const res = await expectError(p, ev, [payload], 'BAD_REQUEST', undefined, { plain: false });
      assert.match(res.message, new RegExp(field), `${ev}: the message names ${field}: ${res.message}`);
    }
    // At the bounds: a 128-character study, a 32-character status.
    const studyId = `${uniq('s')}-`.padEnd(128, 'z');
    await joinStudy(p, studyId);
    const res = await p.ack('presence:status-change', [{ status: '가'.repeat(32) }]);
    assert.equal(res?.ok, true, `a status of 32 characters (96 bytes): ${safeJson(res)}`);
  });

  it('numbers out of range are refused, not cast: studyId 1e300 gets BAD_REQUEST', async () => {
    const p = await g.peer('N');
    for (const v of [1e300, -1e300, 2 ** 53 + 2, 1.5, Number.MAX_VALUE]) {
      await expectError(p, 'presence:join-study', [{ studyId: v }], 'BAD_REQUEST', undefined, { plain: false });
    }
    await joinStudy(p, 2 ** 53);	// an integer a double still holds
    const r = await request(`${g.url}/health`);
    assert.equal(r.status, 200, 'the gateway lives');
  });

  it('the CoUp API\'s over-long avatar is handed on as null; name and room intact', async () => {
    const u = g.user('V');
    g.api.setUser(u.id, { name: u.name, email: u.email, avatar: `data:image/png;base64,${'A'.repeat(200000)}`, status: 'ACTIVE' });
    const studyId = uniq('s');
    const other = await g.peer('W');
    await joinVideo(other, studyId);
    const p = await g.peer('V', {}, u);
    await joinVideo(p, studyId);
    const joined = await other.next('video:user-joined');
    assert.equal(joined.user.avatar, null, 'the 200 KB avatar is null');
    assert.equal(joined.user.name, u.name, 'the name is as the API said');
    await stillTalking({ a: other, b: p, roomId: `study-${studyId}-main` }, 'after the avatar');
  });
});

describe('a call study-<X>-... belongs to study X exactly; ids in API URLs are path segments', { skip: SKIP }, () => {
  const g = useGateway();

  it('studyId "." and ".." reach the API as segments, never as /api/check-member', async () => {
    const p = await g.peer('D');
    g.api.clearCalls();
    for (const studyId of ['..', '.', '../..']) {
      await p.ack('presence:join-study', [{ studyId }]);
    }
    const paths = g.api.calls.map((c) => c.path);
    assert.deepEqual(paths, ['/api/studies/%2E%2E/check-member', '/api/studies/%2E/check-member', '/api/studies/%2E%2E%2F%2E%2E/check-member']);
  });

  it('study "s1-main" is not study "s1": its member cannot join the call study-s1-main', async () => {
    const a = await g.peer('A');
    const s1 = uniq('s1');
    g.api.setMembers(`${s1}-main`, [a.userId]);
    g.api.setMembers(s1, []);
    g.api.clearCalls();
    await expectError(a, 'video:join-room', [{ studyId: `${s1}-main`, roomId: `study-${s1}-main` }], 'NOT_MEMBER', '접근 권한이 없습니다.', { plain: false });
    assert.equal(g.api.memberCalls().length, 0, 'refused without asking: the room is not that study\'s');
    await expectError(a, 'video:join-room', [{ studyId: s1, roomId: `study-${s1}-main` }], 'NOT_MEMBER', '접근 권한이 없습니다.', { plain: false });
    const b = await g.peer('B');
    g.api.setMembers(s1, [b.userId]);
    await joinVideo(b, s1, `study-${s1}-main`);
    // The study of a call with a dash in its id: up to the last dash.
    g.api.setMembers(`${s1}-main`, [a.userId]);
    await joinVideo(a, `${s1}-main`, `study-${s1}-main-main`);
  });
});

describe('a room process that dies on a message is not fed that message again', { skip: SKIP }, () => {
  const g = useGateway(['ROOM_SPARES=1'], { vars: { COUP_ROOMD_FAULT: 'abort-on:POISON-PILL' } });

  it('the message is dropped, its sender told INTERNAL; everyone stays and hears everything', { timeout: 30000 }, async () => {
    const call = await pair(g);
    const { a, b, roomId } = call;
    await stillTalking(call, 'before');
    const before = await prometheus(g.url);
    a.emit('chat:video-message', { roomId, message: 'POISON-PILL' });
    const err = await a.next('error', { timeoutMs: 10000, what: 'INTERNAL for the poison' });
    assertRefusal(err, 'INTERNAL', MSG_JOIN_FAIL, 'the poison\'s sender');
    await stillTalking(call, 'after');
    const after = await prometheus(g.url);
    assert.equal(after.coup_room_messages_dropped_total - before.coup_room_messages_dropped_total, 1, 'one message dropped');
    assert.equal(after.coup_room_process_restarts_total - before.coup_room_process_restarts_total, 2, 'two deaths: the one it killed first, the one on probation');
    for (const p of [a, b]) p.none('chat:video-message-received', (m) => m?.message === 'POISON-PILL');
    assert.ok(roomChild(g.server.proc.pid, `video:${roomId}`), 'the room has a process');
    b.none('error');
  });

  it('a room whose process dies at start is given up, and cooled down under its whole name however long', { timeout: 30000 }, async () => {
    const p = await g.peer('C');
    const studyId = `POISON-PILL-${uniq('s')}`.padEnd(128, 'x');	// video:<128> = 134 bytes
    const before = await prometheus(g.url);
    const first = await p.ack('video:join-room', [{ studyId, roomId: studyId }], 10000);
    assert.equal(first.code, 'ROOM_UNAVAILABLE', `the first join: ${safeJson(first)}`);
    // Joins during the cooldown are refused at once, with no new process.
    const t0 = Date.now();
    for (let i = 0; i < 30 && Date.now() - t0 < 4000; i++) {
      const res = await p.ack('video:join-room', [{ studyId, roomId: studyId }]);
      assert.equal(res.code, 'ROOM_UNAVAILABLE', `join ${i}: ${safeJson(res)}`);
    }
    const after = await prometheus(g.url);
    const starts = after.coup_room_process_starts_total - before.coup_room_process_starts_total;
    assert.ok(starts <= 8, `${starts} room processes started for 31 joins (3 tries and the spares' refills; not one per join)`);
    const other = await pair(g);
    await stillTalking(other, 'another room');
  });
});

describe('no work or memory for someone who has not authenticated; attachments bounded', { skip: SKIP }, () => {
  const g = useGateway(['MAX_PAYLOAD=1000000', 'RATE_LIMIT_CONNECTS=5']);

  it('a BINARY_EVENT for a namespace not joined closes the session before any attachment is read', async () => {
    const { ws } = await eioWs(g.url, { path: '/socket.io/', autoPong: true });
    ws.send('464-["x",{"_placeholder":true,"num":0}]');
    await ws.waitClosed({ timeoutMs: 3000 });
  });

  it('... also while its CONNECT is being verified', async () => {
    g.api.setLatency(3000);
    try {
      const u = g.user('P');
      const { ws } = await eioWs(g.url, { path: '/socket.io/', autoPong: true });
      ws.send(`40${JSON.stringify({ userId: u.id })}`);
      ws.send('451-["chat:typing",{"_placeholder":true,"num":0}]');
      const t0 = Date.now();
      await ws.waitClosed({ timeoutMs: 2500 });
      assert.ok(Date.now() - t0 < 2500, 'closed before the verification answered');
    } finally {
      g.api.setLatency(0);
    }
  });

  it('attachments over MAX_PAYLOAD in all close the sender; memory stays bounded; others go on', { timeout: 30000 }, async () => {
    const call = await pair(g);
    const pid = g.server.proc.pid;
    const rss0 = rssOf(pid);
    const chunk = Buffer.alloc(200 * 1024, 7);
    for (let n = 0; n < 10; n++) {
      const p = await rawPeer(g, `M${n}`);
      const ph = Array.from({ length: 64 }, (_, i) => `{"_placeholder":true,"num":${i}}`).join(',');
      p.ws.send(`4564-["chat:typing",${ph}]`);
      for (let i = 0; i < 64 && p.ws.isOpen; i++) p.ws.send(chunk);
      await p.ws.waitClosed({ timeoutMs: 5000 });
    }
    const grew = rssOf(pid) - rss0;
    assert.ok(grew < 40 * 1024 * 1024, `the gateway grew ${grew} bytes for 10 senders of 64 x 200 KB (each cut at 1 MB)`);
    await stillTalking(call, 'after the attachments');
  });

  it('a CONNECT flood is refused without asking the API, and cut once it goes on for 10 s', { timeout: 30000 }, async () => {
    const u = g.user('F');
    const before = g.api.verifyCalls().length;
    const { ws } = await eioWs(g.url, { path: '/socket.io/', autoPong: true });
    let refused = 0;
    let accepted = 0;
    const t0 = Date.now();
    // 20 CONNECT/DISCONNECT pairs a second, for at most 14 s.
    for (let i = 0; i < 280 && ws.isOpen; i++) {
      ws.send(`40${JSON.stringify({ userId: u.id })}`);
      ws.send('41');
      await new Promise((r) => setTimeout(r, 50));
      while (ws.queue.length) {
        const m = ws.queue.shift();
        if (m.text?.startsWith('44{"message":"Too many connection attempts')) refused++;
        else if (m.text?.startsWith('40{"sid"')) accepted++;
      }
    }
    const secs = (Date.now() - t0) / 1000;
    await ws.waitClosed({ timeoutMs: 3000, what: 'the flooder to be cut' });
    assert.ok(secs > 9 && secs < 14, `cut after ${secs.toFixed(1)} s over the limit`);
    assert.ok(refused > 50, `${refused} CONNECTs refused`);
    const calls = g.api.verifyCalls().length - before;
    assert.ok(calls <= 15 + 5 * secs, `${calls} verify calls for ${accepted} accepted CONNECTs in ${secs.toFixed(1)} s (the limit is 5/s, bursts of 15)`);
  });
});

describe('what a recipient receives is never larger than what the sender sent', { skip: SKIP }, () => {
  const g = useGateway(['MAX_PAYLOAD=3000000', 'SEND_QUEUE_MAX=8000000']);

  it('an offer of 1e14s is relayed as written, directly and through the room process', { timeout: 30000 }, async () => {
    const studyId = uniq('s');
    const a = await rawPeer(g, 'A');
    const b = await rawPeer(g, 'B');
    await rawJoinVideo(a, studyId);
    await rawJoinVideo(b, studyId);
    const numbers = Array(500000).fill('1e14').join(',');	// 2.5 MB; 7.5 MB printed by cJSON
    const sent = `42["video:offer",{"to":"${b.sid}","offer":{"type":"offer","n":[${numbers}]}}]`;
    a.ws.send(sent);
    const got = await rawNext(b.ws, '42["video:offer"', { timeoutMs: 20000 });
    // Its envelope is ours ("from" for "to"); the payload is the sender's.
    assert.ok(got.length <= sent.length + 64, `received ${got.length} bytes for ${sent.length} sent`);
    assert.ok(got.includes(`"n":[1e14,1e14,`), 'the numbers as written');
    const roomId = `study-${studyId}-main`;
    const file = `42["chat:video-file",{"roomId":"${roomId}","file":{"name":"f","sizes":[${Array(200000).fill('9e14').join(',')}]}}]`;
    a.ws.send(file);
    const viaRoom = await rawNext(b.ws, '42["chat:video-file-received"', { timeoutMs: 20000 });
    assert.ok(viaRoom.length <= file.length + 2000, `through the room process: ${viaRoom.length} bytes for ${file.length} sent (plus the sender and the stamps)`);
    assert.ok(viaRoom.includes('"sizes":[9e14,9e14,'), 'the numbers as written');
    assert.ok(b.ws.isOpen && a.ws.isOpen, 'nobody was dropped as a slow reader');
  });

  it('MAX_PAYLOAD beyond what a room process\'s channel carries is a start-up error that names the key', async () => {
    let err = null;
    try {
      const s = await startServer(GATEWAY, ['NODE_ENV=development', 'MAX_PAYLOAD=9000000'], { name: 'coup-gateway-big' });
      await s.stop();
    } catch (e) {
      err = e;
    }
    assert.ok(err, 'the gateway did not start');
    assert.match(String(err.message), /MAX_PAYLOAD/, err.message);
  });
});

describe('USER_ROOMS_MAX: one user cannot hold rooms without bound', { skip: SKIP }, () => {
  const g = useGateway(['USER_ROOMS_MAX=3']);

  it('a connection and a user are in at most USER_ROOMS_MAX rooms; others are not affected', async () => {
    const u = g.user('R');
    const a1 = await g.peer('R1', {}, u);
    const [s1, s2, s3, s4] = [uniq('s'), uniq('s'), uniq('s'), uniq('s')];
    await joinStudy(a1, s1);
    await joinStudy(a1, s2);
    await joinVideo(a1, s1);
    await expectError(a1, 'presence:join-study', [{ studyId: s3 }], 'ROOM_UNAVAILABLE', MSG_JOIN_FAIL, { plain: false });
    // Its user's other connection: the user holds three rooms already.
    const a2 = await g.peer('R2', {}, u);
    await expectError(a2, 'presence:join-study', [{ studyId: s3 }], 'ROOM_UNAVAILABLE', MSG_JOIN_FAIL, { plain: false });
    await joinStudy(a2, s1);	// one of the user's: nothing more held
    // Another user is not affected.
    const b = await g.peer('B');
    await joinStudy(b, s3);
    // Moving to another call frees the old one first.
    await joinVideo(a1, s4);
    // A room left is a place free.
    assert.equal((await a1.ack('presence:leave-study', [{ studyId: s2 }]))?.ok, true);
    await joinStudy(a1, s3);
  });
});
