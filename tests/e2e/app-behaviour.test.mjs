// What the CoUp app really does (its hooks useSocket, useVideoCall,
// useStudySocket in wovlf02/Cooperate_Up), against the gateway with the
// real socket.io-client: a join and a leave in quick succession (a double
// click, React StrictMode mounting an effect twice), video:speaking on
// every animation frame while its user talks (144 a second on a fast
// display) and for a moment after leaving, Buffers in payloads, and a
// banner for every `error` event it gets.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { skipReason } from './lib/server.mjs';
import { safeJson, pollUntil } from './lib/wait.mjs';
import { request } from './lib/eio-polling.mjs';
import { uniq, useGateway } from './lib/coup.mjs';

const SKIP = skipReason('COUP_GATEWAY');

async function joinVideo(peer, studyId, roomId = `study-${studyId}-main`) {
  const res = await peer.ack('video:join-room', [{ studyId, roomId }]);
  assert.equal(res?.ok, true, `${peer.name} joins ${roomId}: ${safeJson(res)}`);
}

async function joinStudy(peer, studyId) {
  const res = await peer.ack('presence:join-study', [{ studyId }]);
  assert.equal(res?.ok, true, `${peer.name} joins study ${studyId}: ${safeJson(res)}`);
}

async function metrics(url) {
  return JSON.parse((await request(`${url}/metrics`)).body);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('a socket\'s events are handled in the order it sent them', { skip: SKIP }, () => {
  const g = useGateway(['MEMBER_CACHE_TTL=0']);

  it('join and leave bursts (5 sockets x 3 rounds) leave only the anchor; every user-joined has its user-left', { timeout: 30000 }, async () => {
    g.api.setLatency(40);	// each join waits for the CoUp API; its leave must wait for it
    try {
      const studyId = uniq('s');
      const roomId = `study-${studyId}-main`;
      const anchor = await g.peer('anchor');
      await joinVideo(anchor, studyId);
      const peers = [];
      for (let i = 0; i < 5; i++) peers.push(await g.peer(`P${i}`));
      for (let round = 0; round < 3; round++) {
        // As the app does it: emit, emit, no waiting in between.
        for (const p of peers) {
          p.emit('video:join-room', { studyId, roomId });
          p.emit('video:leave-room', { roomId });
        }
        // Each socket's last word was a leave: wait until each leave is
        // answered (an ack, queued behind the join like the rest).
        await Promise.all(peers.map(async (p) => {
          const res = await p.ack('video:leave-room', [{ roomId }]);
          assert.equal(res?.code, 'NOT_IN_ROOM', `${p.name}: a second leave finds it out already: ${safeJson(res)}`);
        }));
      }
      for (const p of peers) {
        assert.equal(p.all('video:room-state').length, 3, `${p.name}: one room-state per join`);
        const refused = p.all('error').filter((e) => e.code !== 'NOT_IN_ROOM');
        assert.deepEqual(refused, [], `${p.name}: no join or leave was refused`);
      }
      // The anchor saw each of them come and go, 3 times.
      await pollUntil(() => {
        const joined = anchor.all('video:user-joined').length;
        const left = anchor.all('video:user-left').length;
        return { ok: joined === 15 && left === 15, value: `${joined} joined, ${left} left` };
      }, { attempts: 50, intervalMs: 100, what: 'the anchor to see 15 joins and 15 leaves' });
      for (const p of peers) {
        const j = anchor.all('video:user-joined', (e) => e.socketId === p.sid).length;
        const l = anchor.all('video:user-left', (e) => e.socketId === p.sid).length;
        assert.equal(j, l, `${p.name}: ${j} joined, ${l} left`);
      }
      const m = await metrics(g.url);
      const room = m.roomDetails.find((r) => r.name === `video:${roomId}`);
      assert.equal(room?.participants, 1, `only the anchor is in the room: ${safeJson(room)}`);
    } finally {
      g.api.setLatency(0);
    }
  });

  it('several joins in a row are each answered with video:room-state, in order', async () => {
    g.api.setLatency(30);
    try {
      const [s1, s2] = [uniq('s'), uniq('s')];
      const other = await g.peer('O');
      await joinVideo(other, s1);
      const p = await g.peer('J');
      p.emit('video:join-room', { studyId: s1, roomId: `study-${s1}-main` });
      p.emit('video:join-room', { studyId: s2, roomId: `study-${s2}-main` });
      p.emit('video:join-room', { studyId: s1, roomId: `study-${s1}-main` });
      const states = [];
      for (let i = 0; i < 3; i++) states.push(await p.next('video:room-state'));
      assert.deepEqual(states.map((s) => s.participants.map((x) => x.userId)), [[other.userId], [], [other.userId]], 'room-states in the order of the joins');
      // J's third room-state and O's second user-joined leave the gateway
      // together: wait for O's events too before counting them.
      const seen = () => ({ left: other.all('video:user-left').length, joined: other.all('video:user-joined').length });
      await pollUntil(() => ({ ok: seen().left >= 1 && seen().joined >= 2, value: seen() }), { what: 'O to see J leave and join again' });
      assert.equal(other.all('video:user-left').length, 1, 'O saw J leave once');
      assert.equal(other.all('video:user-joined').length, 2, 'O saw J join twice');
    } finally {
      g.api.setLatency(0);
    }
  });

  it('a socket waiting for the CoUp API does not hold up another socket', async () => {
    const studyId = uniq('s');
    const [a, b] = [await g.peer('A'), await g.peer('B')];
    await joinStudy(a, studyId);
    await joinStudy(b, studyId);
    g.api.setLatency(1500);
    try {
      a.emit('presence:join-study', { studyId: uniq('slow') });	// A waits for the API
      const t0 = Date.now();
      b.emit('chat:send-message', { studyId, message: 'not held up' });
      await a.next('chat:message-received', { filter: (m) => m?.message === 'not held up' });
      assert.ok(Date.now() - t0 < 1000, 'B\'s message went at once; A receives while its own join waits');
    } finally {
      g.api.setLatency(0);
    }
  });
});

describe('every refusal of chat:send-message also gets chat:message-sent {success:false}', { skip: SKIP }, () => {
  const g = useGateway(['CHAT_MAX_LENGTH=10', 'RATE_LIMIT_EVENTS=5', 'MEMBER_CACHE_TTL=0']);

  it('a bad payload, a message too long, NOT_MEMBER, MEMBERSHIP_CHECK_FAILED, RATE_LIMITED', { timeout: 20000 }, async () => {
    const p = await g.peer('M');
    const studyId = uniq('s');
    const secret = uniq('secret');
    g.api.setMembers(secret, []);
    const sendRefused = async (payload, code, what) => {
      const res = await p.ack('chat:send-message', [payload]);
      assert.equal(res?.code, code, `${what}: ${safeJson(res)}`);
      const sent = await p.next('chat:message-sent', { what: `message-sent for ${what}` });
      assert.deepEqual(sent, { success: false, error: res.message }, what);
      await sleep(250);	// (5 events a second)
    };
    await sendRefused({ studyId, message: 42 }, 'BAD_REQUEST', 'a message that is not a string');
    await sendRefused({ studyId, message: 'x'.repeat(11) }, 'BAD_REQUEST', 'a message over CHAT_MAX_LENGTH');
    await sendRefused({ studyId: secret, message: 'hi' }, 'NOT_MEMBER', 'a study the user is not a member of');
    g.api.setFailure('500', { only: 'member' });
    await sendRefused({ studyId: uniq('s'), message: 'hi' }, 'MEMBERSHIP_CHECK_FAILED', 'a check that failed');
    g.api.setFailure(null);
    await sleep(1200);
    p.drain();
    for (let i = 0; i < 40; i++) p.emit('chat:send-message', { studyId, message: `m${i}` });
    const res = await p.ack('chat:send-message', [{ studyId, message: 'last' }]);
    assert.equal(res?.code, 'RATE_LIMITED', safeJson(res));
    const failed = p.all('chat:message-sent', (s) => s.success === false);
    assert.ok(failed.length >= 20, `${failed.length} message-sent {success:false} for the refused flood`);
    for (const s of failed) assert.equal(typeof s.error, 'string');
  });
});

describe('binary attachments in CoUp events are relayed intact', { skip: SKIP }, () => {
  const g = useGateway();

  it('a 3000-byte Buffer in an offer arrives as a Buffer with the same bytes; an ack on a binary candidate', async () => {
    const studyId = uniq('s');
    const roomId = `study-${studyId}-main`;
    const [a, b] = [await g.peer('A'), await g.peer('B')];
    await joinVideo(a, studyId);
    await joinVideo(b, studyId);
    const bytes = Buffer.alloc(3000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
    a.emit('video:offer', { to: b.sid, offer: { type: 'offer', sdp: 'v=0', blob: bytes } });
    const got = await b.next('video:offer');
    assert.equal(got.from, a.sid);
    assert.ok(Buffer.isBuffer(got.offer.blob), `a Buffer arrives: ${typeof got.offer.blob}`);
    assert.ok(bytes.equals(got.offer.blob), 'the same 3000 bytes');
    const res = await a.ack('video:ice-candidate', [{ to: b.sid, candidate: { raw: Buffer.from([1, 2, 3, 255]) } }]);
    assert.equal(res?.ok, true, `the ack of a binary event: ${safeJson(res)}`);
    const cand = await b.next('video:ice-candidate');
    assert.ok(Buffer.from([1, 2, 3, 255]).equals(cand.candidate.raw));
    // Through the room's process: a file with a Buffer in the call's chat.
    a.emit('chat:video-file', { roomId, file: { name: 'a.bin', data: bytes } });
    const file = await b.next('chat:video-file-received');
    assert.ok(Buffer.isBuffer(file.file.data) && bytes.equals(file.file.data), 'the file\'s bytes, through the room process');
    assert.equal(file.file.name, 'a.bin');
  });
});

describe('video:speaking at the app\'s rate', { skip: SKIP }, () => {
  const g = useGateway();

  it('144 a second for 30 s is never refused nor cut; the others get one user-speaking per change', { timeout: 60000 }, async () => {
    const studyId = uniq('s');
    const roomId = `study-${studyId}-main`;
    const [speaker, listener] = [await g.peer('S'), await g.peer('L')];
    await joinVideo(speaker, studyId);
    await joinVideo(listener, studyId);
    // As useVideoCall does: speaking:true on every frame while the level
    // is high, speaking:false one second after the last; 3 s of talk, 1.5
    // s of silence, for 30 s.
    const FRAME = 1000 / 144;
    const t0 = Date.now();
    let changes = 0;
    let speaking = false;
    let frames = 0;
    while (Date.now() - t0 < 30000) {
      const phase = (Date.now() - t0) % 4500;
      const talking = phase < 3000;
      if (talking) {
        speaker.emit('video:speaking', { roomId, speaking: true });
        frames++;
        if (!speaking) changes++;
        speaking = true;
      } else if (speaking && phase >= 4000) {
        speaker.emit('video:speaking', { roomId, speaking: false });
        changes++;
        speaking = false;
      }
      await sleep(FRAME);
    }
    await speaker.roundTrip();
    assert.ok(speaker.socket.connected, 'the speaker is still connected');
    speaker.none('error', null, `after ${frames} video:speaking`);
    await pollUntil(() => ({ ok: listener.all('video:user-speaking').length >= changes, value: listener.all('video:user-speaking').length }), { what: `${changes} user-speaking at the listener` });
    const heard = listener.all('video:user-speaking').map((e) => e.speaking);
    assert.equal(heard.length, changes, `one user-speaking per change: ${heard.length} for ${changes} changes (${frames} frames)`);
    for (let i = 1; i < heard.length; i++) assert.notEqual(heard[i], heard[i - 1], 'each one a change');
    process.stderr.write(`# speaking: ${frames} frames at 144/s, ${changes} changes relayed\n`);
  });

  it('a newcomer is told who speaks now (speaking is relayed only when it changes)', async () => {
    const studyId = uniq('s');
    const roomId = `study-${studyId}-main`;
    const [s1, s2] = [await g.peer('S1'), await g.peer('S2')];
    await joinVideo(s1, studyId);
    await joinVideo(s2, studyId);
    for (let i = 0; i < 5; i++) s1.emit('video:speaking', { roomId, speaking: true });
    await s2.next('video:user-speaking');
    const late = await g.peer('N');
    await joinVideo(late, studyId);
    const sp = await late.next('video:user-speaking');
    assert.deepEqual(sp, { socketId: s1.sid, userId: s1.userId, speaking: true });
    late.none('video:user-speaking', (e) => e.socketId === s2.sid, 'S2 is silent');
  });

  it('after leaving, the detector runs on: one NOT_IN_ROOM a second at most, never a disconnect', { timeout: 30000 }, async () => {
    const studyId = uniq('s');
    const roomId = `study-${studyId}-main`;
    const p = await g.peer('X');
    await joinVideo(p, studyId);
    assert.equal((await p.ack('video:leave-room', [{ roomId }]))?.ok, true);
    const t0 = Date.now();
    let n = 0;
    while (Date.now() - t0 < 12000) {	// past the rate limit's 10 s of grace
      p.emit('video:speaking', { roomId, speaking: true });
      n++;
      await sleep(1000 / 144);
    }
    await p.roundTrip();
    const secs = (Date.now() - t0) / 1000;
    assert.ok(p.socket.connected, 'still connected');
    const errors = p.all('error');
    assert.ok(errors.every((e) => e.code === 'NOT_IN_ROOM'), safeJson(errors.slice(0, 3)));
    assert.ok(errors.length >= 1 && errors.length <= Math.ceil(secs) + 1, `${errors.length} errors for ${n} events in ${secs.toFixed(1)} s`);
  });

  it('a real flood of other events gets at most one error a second', { timeout: 30000 }, async () => {
    const studyId = uniq('s');
    const roomId = `study-${studyId}-main`;
    const p = await g.peer('F');
    await joinVideo(p, studyId);
    const t0 = Date.now();
    let n = 0;
    while (Date.now() - t0 < 5000) {
      for (let i = 0; i < 20; i++) p.emit('video:toggle-audio', { roomId, isMuted: (n++ % 2) === 0 });
      await sleep(10);
    }
    await p.roundTrip().catch(() => {});
    const secs = (Date.now() - t0) / 1000;
    const errors = p.all('error');
    assert.ok(errors.length >= 1, 'the flood was refused');
    assert.ok(errors.every((e) => e.code === 'RATE_LIMITED'), safeJson(errors.slice(0, 3)));
    assert.ok(errors.length <= Math.ceil(secs) + 1, `${errors.length} errors for ${n} events in ${secs.toFixed(1)} s`);
  });
});
