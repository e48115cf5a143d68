// A Redis peer is checked like a client (multi-server mode): whatever is
// PUBLISHed on a room's channel or a node's inbox — a 1.1 MB user object,
// a 2000-byte userId, a joinedAt of 1e300, a chat message over
// CHAT_MAX_LENGTH, text that is not JSON as JSON.parse() reads it — is
// refused with the same limits as a client's input before any room
// process hears of it. The room's process never dies, the call goes on,
// and a well-formed peer message still gets through (the control).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { safeJson, pollUntil } from './lib/wait.mjs';
import { request } from './lib/eio-polling.mjs';
import { HOST } from './lib/server.mjs';
import { useCluster, clusterSkipReason, newRoom } from './lib/cluster.mjs';
import { roomChild } from './lib/proc.mjs';

const SKIP = clusterSkipReason() || (process.platform !== 'linux' ? 'needs /proc (Linux)' : false);

async function joinVideo(peer, { studyId, roomId }) {
  const res = await peer.ack('video:join-room', [{ studyId, roomId }]);
  assert.equal(res?.ok, true, `${peer.name}: join ${roomId}: ${safeJson(res)}`);
}

async function joinStudy(peer, { studyId }) {
  const res = await peer.ack('presence:join-study', [{ studyId }]);
  assert.equal(res?.ok, true, `${peer.name}: join study ${studyId}: ${safeJson(res)}`);
}

/** PUBLISH channel message, the message on stdin (argv strings are
 * bounded at 128 KB); the number of subscribers that got it. */
function publish(redis, channel, message) {
  const r = spawnSync('redis-cli', ['-h', HOST, '-p', String(redis.port), '-x', 'PUBLISH', channel], { input: message, encoding: 'utf8', maxBuffer: 1 << 20 });
  return Number(r.stdout.trim());
}

async function metrics(url) {
  const res = await request(`${url}/metrics`);
  return JSON.parse(res.body);
}

const member = (over = {}) => ({
  node: 'evil-node-1', socketId: `ghost${Math.random().toString(36).slice(2, 10)}`,
  userId: 'g1', user: { id: 'g1', name: 'Ghost', email: null, avatar: null }, flags: 0, joinedAt: Date.now(), ...over,
});

describe('cluster: a hostile Redis peer', { skip: SKIP }, () => {
  const ctx = useCluster(1, ['CHAT_MAX_LENGTH=100']);

  it('what a peer publishes is held to a client\'s limits; the room and the call live on', { timeout: 30000 }, async () => {
    const room = newRoom();
    const [a, b] = [await ctx.peer('a', 0), await ctx.peer('b', 0)];
    await joinVideo(a, room);
    await joinVideo(b, room);
    await joinStudy(a, room);
    await joinStudy(b, room);
    const gw = ctx.nodes[0].proc.pid;
    const video = roomChild(gw, `video:${room.roomId}`);
    const study = roomChild(gw, `study:${room.studyId}`);
    assert.ok(video && study, 'both rooms have a process');
    const node = (await metrics(ctx.nodes[0].url)).cluster.node;
    const vch = `coup:ch:room:video:${room.roomId}`;
    const sch = `coup:ch:room:study:${room.studyId}`;
    const huge = 'n'.repeat(1100000);

    const hostile = [
      [vch, JSON.stringify({ t: 'join', node: 'evil-node-1', m: member({ user: { id: 'g1', name: huge } }) }), 'a 1.1 MB user object'],
      [vch, JSON.stringify({ t: 'join', node: 'evil-node-1', m: member({ userId: 'u'.repeat(2000) }) }), 'a 2000-byte userId'],
      [vch, JSON.stringify({ t: 'join', node: 'evil-node-1', m: member({ socketId: 's'.repeat(65) }) }), 'a 65-byte socket id'],
      [vch, JSON.stringify({ t: 'join', node: 'n'.repeat(200), m: member({ node: 'n'.repeat(200) }) }), 'a 200-byte node id'],
      [sch, JSON.stringify({ t: 'ev', node: 'evil-node-1', e: 'chat:send-message', from: { socketId: 'gx', userId: 'g1', user: { id: 'g1' } }, id: 'msg_1_gx', p: { studyId: room.studyId, message: 'm'.repeat(101) } }), 'a message over CHAT_MAX_LENGTH'],
      [sch, JSON.stringify({ t: 'ev', node: 'evil-node-1', e: 'presence:status-change', from: { socketId: 'gx', userId: 'g1', user: { id: 'g1' } }, p: { status: 's'.repeat(33) } }), 'a status over 32 characters'],
      [sch, JSON.stringify({ t: 'ev', node: 'evil-node-1', e: 'chat:send-message', from: { socketId: 'gx', userId: 'g1', user: { id: 'g1', name: huge } }, p: { studyId: room.studyId, message: 'hi' } }), 'a guest with a 1.1 MB user'],
      [sch, JSON.stringify({ t: 'ev', node: 'evil-node-1', e: 'chat:typing', from: { socketId: 'gx', userId: 'g1', user: { id: 'g1' } }, p: 'not an object' }), 'a payload that is not an object'],
      [sch, `{"t":"ev","node":"evil-node-1","e":"chat:send-message","from":{"socketId":"gx","userId":"g1","user":{"id":"g1"}},"p":{"studyId":"${room.studyId}","message":"a\u0001b"}}`, 'a raw control character in a string'],
      [sch, `{"t":"ev","node":"evil-node-1","e":"chat:send-message","from":{"socketId":"gx","userId":"g1","user":{"id":"g1"}},"p":{"studyId":"${room.studyId}","message":"x"}`, 'text that is not JSON (unterminated)'],
      [sch, `{"t":"ev","node":"evil-node-1","e":"chat:send-message","from":{"socketId":"gx","userId":"g1","user":{"id":"g1"}},"p":{"studyId":"${room.studyId}","message":"x","n":01}}`, 'a number outside JSON\'s grammar'],
      [`coup:ch:node:${node}`, JSON.stringify({ t: 'snap', room: `video:${room.roomId}`, req: 0, m: [member({ user: { id: 'g1', name: huge } }), member({ userId: 'u'.repeat(2000) })], alive: ['evil-node-1'] }), 'a snapshot of oversized members'],
    ];
    for (const [ch, msg, what] of hostile) {
      assert.equal(publish(ctx.redis, ch, msg), 1, `${what}: the gateway is subscribed to ${ch}`);
    }
    // A well-formed peer member with a joinedAt out of range: in, with a
    // sane time (the control that the path works at all).
    const ok = member({ joinedAt: 1e300 });
    publish(ctx.redis, vch, JSON.stringify({ t: 'join', node: 'evil-node-1', m: ok }));
    const joined = await a.next('video:user-joined', { filter: (j) => j?.socketId === ok.socketId, what: 'the well-formed ghost' });
    assert.equal(joined.userId, 'g1');
    // And a well-formed guest message from a peer.
    publish(ctx.redis, sch, JSON.stringify({ t: 'ev', node: 'evil-node-1', e: 'chat:send-message', from: { socketId: 'gy', userId: 'g2', user: { id: 'g2', name: 'Guest' } }, id: 'msg_2_gy', p: { studyId: room.studyId, message: 'hello from a peer' } }));
    const m = await b.next('chat:message-received', { filter: (x) => x?.message === 'hello from a peer' });
    assert.equal(m.id, 'msg_2_gy');

    // Nothing hostile got through, and nothing died.
    for (const p of [a, b]) {
      const others = p.all('video:user-joined').filter((j) => j.socketId !== ok.socketId && j.socketId !== a.sid && j.socketId !== b.sid);
      assert.deepEqual(others, [], `${p.name}: no hostile member joined`);
      p.none('chat:message-received', (x) => x?.message !== 'hello from a peer');
      p.none('presence:user-status-changed');
      p.none('error');
    }
    assert.equal(roomChild(gw, `video:${room.roomId}`)?.pid, video.pid, 'the call\'s process never died');
    assert.equal(roomChild(gw, `study:${room.studyId}`)?.pid, study.pid, 'the study\'s process never died');
    a.emit('chat:video-message', { roomId: room.roomId, message: 'still here' });
    await b.next('chat:video-message-received', { filter: (x) => x?.message === 'still here' });
    const mt = await metrics(ctx.nodes[0].url);
    assert.ok(mt.memory.rooms.processes >= 2, safeJson(mt.memory));
  });
});
