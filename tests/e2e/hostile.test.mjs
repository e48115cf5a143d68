// coup-gateway under abuse (contract §5: "A malformed or hostile event
// never crashes anything and never disconnects other users"): missing,
// wrongly typed, oversized and deeply nested payloads, binary attachments
// on CoUp events, and a flood from one client. Two bystanders keep
// chatting (study chat and video-room chat) during all of it and must get
// every message, in order; at the end the gateway still answers /health and
// stops cleanly.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, binaryFromEnv, skipReason } from './lib/server.mjs';
import { safeJson, withTimeout } from './lib/wait.mjs';
import { request } from './lib/eio-polling.mjs';
import { sioWs } from './lib/raw-ws.mjs';
import { Clients } from './lib/sio-client.mjs';
import { startMockApi } from './lib/mock-api.mjs';
import { uniq, Peer, assertRefusal, expectError, useGateway } from './lib/coup.mjs';

const GATEWAY = binaryFromEnv('COUP_GATEWAY');
const SKIP = skipReason('COUP_GATEWAY');
const CODES = ['BAD_REQUEST', 'NOT_MEMBER', 'MEMBERSHIP_CHECK_FAILED', 'NOT_IN_ROOM', 'ROOM_FULL', 'RATE_LIMITED', 'ROOM_UNAVAILABLE'];

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

const COUP_EVENTS = [
  'video:join-room',
  'video:leave-room',
  'video:offer',
  'video:answer',
  'video:ice-candidate',
  'video:toggle-audio',
  'video:toggle-video',
  'video:screen-share-start',
  'video:screen-share-stop',
  'video:speaking',
  'chat:send-message',
  'chat:video-message',
  'chat:video-file',
  'chat:file-uploaded',
  'chat:typing',
  'chat:mark-read',
  'presence:join-study',
  'presence:leave-study',
  'presence:status-change',
];
const FIELDS = ['studyId', 'roomId', 'to', 'offer', 'answer', 'candidate', 'isMuted', 'isVideoOff', 'speaking', 'message', 'type', 'file', 'isTyping', 'messageIds', 'status'];
const ODD = [undefined, null, 0, -1, 1e308, true, '', 'x'.repeat(300), [], [1, [2, [3]]], {}, { a: { b: { c: {} } } }, '\u0000\ud800'];

/** Every `error` an abuser got has a known code (not INTERNAL) and a message. */
function assertKnownErrors(peer) {
  for (const e of peer.all('error')) {
    assert.ok(e && typeof e === 'object' && typeof e.message === 'string', `${peer.name}: error event ${safeJson(e)}`);
    assert.ok(CODES.includes(e.code), `${peer.name}: error code ${safeJson(e.code)} is one of the contract's and not INTERNAL (${safeJson(e)})`);
  }
}

/**
 * Send one raw frame on a fresh Socket.IO connection, then a probe the
 * server must answer ("40/nope," -> 44 Invalid namespace). Resolves with
 * { closed, errors, alive, other } once the probe is answered or the
 * connection is closed.
 */
async function rawProbe(g, label, frames) {
  const { ws } = await sioWs(g.url, { auth: { userId: g.user(label).id } });
  const out = { closed: false, errors: [], alive: false, other: [] };
  try {
    for (const f of [].concat(frames)) ws.send(f);
    if (ws.isOpen) ws.send('40/nope,');
    for (;;) {
      let m;
      try {
        m = await ws.next({ timeoutMs: 5000, what: 'an answer, the probe answer or a close' });
      } catch (err) {
        if (ws.closeInfo) {
          out.closed = true;
          return out;
        }
        throw err;
      }
      const t = m.text ?? '';
      if (t === '44/nope,{"message":"Invalid namespace"}') {
        out.alive = true;
        return out;
      }
      // (A refused chat:send-message also gets message-sent {success:false}.)
      if (t.startsWith('42["error"') || /^43\d/.test(t) || t.startsWith('42["chat:message-sent",{"success":false')) out.errors.push(t.slice(0, 300));
      else if (t === '1' || t.startsWith('41')) {
        // a close or a DISCONNECT packet: the server is closing it
      } else out.other.push(t.slice(0, 300));
    }
  } finally {
    ws.close();
  }
}

// ---------------------------------------------------------------------------

describe('hostile clients (contract §5)', { skip: SKIP }, () => {
  // A high rate limit: the point here is what the server does with what it
  // accepts (RATE_LIMITED itself is errors.test.mjs's).
  const g = useGateway(['MAX_PAYLOAD=1000000', 'RATE_LIMIT_EVENTS=1000']);

  it('none of the abuse disturbs two users chatting; the gateway lives on', { timeout: 60000 }, async () => {
    // The bystanders: P and Q in a study and in a video room.
    const studyId = uniq('s');
    const roomId = `study-${studyId}-main`;
    const [p, q] = [await g.peer('P'), await g.peer('Q')];
    await joinStudy(p, studyId);
    await joinStudy(q, studyId);
    await joinVideo(p, studyId, roomId);
    await joinVideo(q, studyId, roomId);
    const sentP = [];
    const sentQ = [];
    let n = 0;
    const chatter = setInterval(() => {
      const i = ++n;
      p.emit('chat:send-message', { studyId, message: `p${i}` });
      sentP.push(`p${i}`);
      q.emit('chat:video-message', { roomId, message: `q${i}` });
      sentQ.push(`q${i}`);
    }, 50);

    const abusers = [];
    try {
      // --- 1. missing and wrongly typed payloads, every CoUp event -------
      const h1 = await g.peer('H1');
      const h2 = await g.peer('H2');
      abusers.push(h1, h2);
      const hStudy = uniq('s');
      const hRoom = `study-${hStudy}-main`;
      await joinStudy(h1, hStudy);
      await joinVideo(h1, hStudy, hRoom);
      await joinVideo(h2, hStudy, hRoom);
      let sent = 0;
      for (const ev of COUP_EVENTS) {
        for (const v of ODD) {
          if (v === undefined) h1.emit(ev);
          else h1.emit(ev, v);
          sent++;
        }
        // (Variations of the leave events would be valid leaves.)
        for (const f of ev.endsWith('leave-room') || ev.endsWith('leave-study') ? [] : FIELDS) {
          for (const v of [null, 42, true, [], { x: 1 }]) {
            h1.emit(ev, { studyId: hStudy, roomId: hRoom, to: h2.sid, [f]: v });
            sent++;
          }
        }
        if (!ev.includes('leave')) h1.emit(ev, { studyId: hStudy, roomId: hRoom }, 'extra', { argument: true });
        await h1.roundTrip(); // one event name at a time: stay under the rate limit
      }
      assert.ok(h1.socket.connected, `H1 is still connected after ${sent} malformed events`);
      assertKnownErrors(h1);
      assert.ok(h1.all('error').length > 0, 'malformed events were refused');

      // --- 2. oversized (up to MAX_PAYLOAD) -------------------------------
      // Some variations were valid (ids may be numbers: {roomId: 42} is
      // room "42"), so H1 may have moved: back to its study and room.
      for (const [ev, payload] of [['video:join-room', { studyId: hStudy, roomId: hRoom }], ['presence:join-study', { studyId: hStudy }]]) {
        const res = await h1.ack(ev, [payload]);
        assert.equal(res?.ok, true, `H1 ${ev} again: ${safeJson(res)}`);
      }
      h1.drain();
      h2.drain();
      const bigSdp = 'a=x-big:'.padEnd(900000, 'y');
      h1.emit('video:offer', { to: h2.sid, offer: { type: 'offer', sdp: bigSdp } });
      const big = await h2.next('video:offer', { filter: (o) => o && o.offer && o.offer.sdp && o.offer.sdp.length > 1000, timeoutMs: 10000 });
      assert.equal(big.from, h1.sid);
      assert.equal(big.offer.sdp, bigSdp, 'a 900 KB offer is relayed intact');
      await expectError(h1, 'chat:send-message', [{ studyId: hStudy, message: 'm'.repeat(990000) }], 'BAD_REQUEST', undefined, { timeoutMs: 10000 });
      assert.equal((await h1.ack('presence:status-change', [{ status: 's'.repeat(990000) }], 10000)).code, 'BAD_REQUEST');
      // Over MAX_PAYLOAD: the sender is refused or closed, nothing else.
      const over = await rawProbe(g, 'uover', `42["chat:send-message",{"studyId":"${hStudy}","message":"${'o'.repeat(1100000)}"}]`);
      assert.ok(over.closed || over.errors.length > 0, `over MAX_PAYLOAD: closed or refused: ${safeJson(over)}`);

      // --- 3. deeply nested and malformed raw frames ----------------------
      const deep = 10000;
      for (const [what, frame] of [
        ['10,000 nested arrays as a payload', `42["chat:send-message",${'['.repeat(deep)}${']'.repeat(deep)}]`],
        ['10,000 nested arrays as the packet', `42${'['.repeat(deep)}${']'.repeat(deep)}`],
        ['10,000 nested objects in an offer', `42["video:offer",{"to":"x","offer":${'{"a":'.repeat(deep)}1${'}'.repeat(deep)}}]`],
        ['10,000 nested objects with an ack id', `4217["chat:typing",${'{"a":'.repeat(deep)}1${'}'.repeat(deep)}]`],
        ['unterminated nesting', `42["chat:typing",${'['.repeat(deep)}`],
      ]) {
        const r = await rawProbe(g, 'udeep', frame);
        assert.ok(r.closed || r.errors.length > 0, `${what}: the sender gets an error or is closed: ${safeJson(r)}`);
        assert.deepEqual(r.other, [], `${what}: nothing else comes back`);
      }
      for (const frame of ['42["video:join-room"]', '42[]', '42[42,{}]', '42[null]', '42[{"studyId":"s"}]', '42["chat:send-message",null]', '42["video:offer",{"to":null,"offer":null}]', '42["presence:status-change",{"status":"\\ud800"}]', '4299999999999999999999["chat:mark-read",{}]', '42["video:join-room",{"studyId":"s","__proto__":{"roomId":"r"}}]']) {
        const r = await rawProbe(g, 'uraw', frame);
        assert.ok(r.closed || r.alive, `${frame}: ${safeJson(r)}`);
        assert.deepEqual(r.other, [], `${frame}: nothing but an error comes back: ${safeJson(r)}`);
        for (const e of r.errors) assert.doesNotMatch(e, /INTERNAL/, `${frame}: ${e}`);
      }

      // --- 4. binary attachments on CoUp events ---------------------------
      const h3 = await g.peer('H3');
      abusers.push(h3);
      await joinStudy(h3, hStudy);
      const bin = Buffer.from([0, 1, 2, 255, 254]);
      h3.emit('chat:send-message', { studyId: hStudy, message: bin });
      h3.emit('video:join-room', { studyId: bin, roomId: new Uint8Array([1, 2, 3]) });
      h3.emit('presence:status-change', bin);
      h3.emit('chat:typing', { studyId: hStudy, isTyping: bin });
      h3.emit('chat:file-uploaded', { studyId: hStudy, file: { name: 'x', data: bin } });
      h3.emit('chat:mark-read', { messageIds: [bin, bin] });
      h3.emit('no-such-event', bin, bin, bin);
      h1.emit('video:offer', { to: h2.sid, offer: bin });
      await h1.roundTrip();
      await h3.roundTrip();
      assert.ok(h3.socket.connected, 'binary attachments do not break the connection');
      assertKnownErrors(h3);
      // Raw: an attachment count far beyond what follows, then a probe.
      const att = await rawProbe(g, 'uatt', ['452-["chat:typing",{"_placeholder":true,"num":0},{"_placeholder":true,"num":7}]', Buffer.from([1])]);
      assert.ok(att.closed || att.alive || att.errors.length > 0, safeJson(att));

      // --- 5. a flood from one client (bounded) ---------------------------
      const h4 = await g.peer('H4');
      abusers.push(h4);
      await joinStudy(h4, hStudy);
      const FLOOD = 5000;
      for (let i = 0; i < FLOOD; i++) {
        switch (i % 4) {
          case 0: h4.emit('chat:typing', { studyId: hStudy, isTyping: i % 8 === 0 }); break;
          case 1: h4.emit('video:toggle-audio', { roomId, isMuted: true }); break; // not its room
          case 2: h4.emit('no-such-event', i); break;
          default: h4.emit('chat:send-message', { studyId: hStudy, message: `f${i}` });
        }
      }
            await h1.next('chat:user-typing', { filter: (e) => e && e.userId === h4.userId });
      assertKnownErrors(h4);
      // The flooder's traffic must not have reached the bystanders.
      for (const x of [p, q]) x.none('video:peer-audio-changed');
    } finally {
      clearInterval(chatter);
    }

    // Every bystander message arrived, in order, at both bystanders.
    const lastP = sentP.at(-1);
    const lastQ = sentQ.at(-1);
    for (const x of [p, q]) {
      await x.next('chat:message-received', { filter: (m) => m && m.message === lastP, timeoutMs: 10000, what: `P's last message ${lastP}` });
      await x.next('chat:video-message-received', { filter: (m) => m && m.message === lastQ, timeoutMs: 10000, what: `Q's last message ${lastQ}` });
      assert.deepEqual(x.all('chat:message-received', (m) => m && m.studyId === studyId).map((m) => m.message), sentP, `${x.label} got all of P's study chat, in order`);
      assert.deepEqual(x.all('chat:video-message-received', (m) => m && m.roomId === roomId).map((m) => m.message), sentQ, `${x.label} got all of Q's video chat, in order`);
      assert.ok(x.socket.connected, `${x.name} is connected`);
      assert.deepEqual(x.disconnects, []);
      x.none('error', null, 'the bystanders were never refused');
      x.none('video:user-left');
      x.none('presence:user-offline');
      const others = x.log.filter((e) => !['chat:message-received', 'chat:video-message-received', 'chat:message-sent', 'presence:study-joined', 'presence:user-online', 'video:room-state', 'video:user-joined'].includes(e.event));
      assert.deepEqual(others.map((e) => e.event), [], `${x.name} saw nothing of the abuse`);
    }
    process.stderr.write(`# hostile: bystanders exchanged ${sentP.length} + ${sentQ.length} messages during the abuse\n`);

    const h = await withTimeout(request(`${g.url}/health`), 5000, 'GET /health');
    assert.equal(h.status, 200, `GET /health after the abuse: ${h.status}`);
    assert.equal(JSON.parse(h.body).status, 'ok');
    assert.ok(g.server.running, 'the gateway is alive');
  });
});
