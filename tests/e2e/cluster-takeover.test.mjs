// Connection state recovery across gateways: two coup-gateway nodes on a
// real redis-server behind a load balancer (a TCP proxy that sends each
// new connection to a gateway that is up and not taken out). A client's
// gateway is drained (a rolling restart) or killed with -9 mid-call; the
// client reconnects through the balancer to the other gateway, which
// takes its session over: the same socket id, the same rooms, nothing
// seen by the peer; on a drain, what was sent to it meanwhile arrives
// once and in order.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { binaryFromEnv, runToExit } from './lib/server.mjs';
import { reconnectingPeer } from './lib/coup.mjs';
import { useCluster, newRoom, clusterSkipReason } from './lib/cluster.mjs';
import { startBalancer } from './lib/cut-proxy.mjs';
import { pollUntil } from './lib/wait.mjs';

const SKIP = clusterSkipReason();
const COUPCTL = binaryFromEnv('COUPCTL');
const ARGS = ['RECOVERY_WINDOW_MS=30000', 'PING_INTERVAL_MS=1000', 'PING_TIMEOUT_MS=1000'];

/** A on node 1 and B (through the balancer, on node 0) in one call and one study. */
async function callAcross(ctx, lb) {
  const { studyId, roomId } = newRoom();
  const a = await ctx.peer('A', 1);
  const b = await reconnectingPeer(ctx, 'B@lb', lb.url);
  assert.equal(lb.openTo(ctx.nodes[0].port), 1, 'B is on node 0');
  for (const p of [a, b]) {
    p.emit('presence:join-study', { studyId });
    await p.next('presence:study-joined', { what: `${p.label} joins the study` });
  }
  a.emit('video:join-room', { studyId, roomId });
  await a.next('video:room-state', { what: 'A joins the call' });
  b.emit('video:join-room', { studyId, roomId });
  await b.next('video:room-state', { what: 'B joins the call' });
  await a.next('video:user-joined', { what: 'A sees B join' });
  b.emit('video:toggle-audio', { roomId, isMuted: true });
  await a.next('video:peer-audio-changed', { what: 'A sees B mute' });
  return { a, b, studyId, roomId };
}

/** The call goes on both ways, through node 1 only. */
async function callGoesOn(a, b, idB) {
  b.emit('video:answer', { to: a.sid, answer: { type: 'answer', sdp: 'from the new gateway' } });
  assert.equal((await a.next('video:answer', { what: "B's answer after the take-over" })).answer.sdp, 'from the new gateway');
  a.emit('video:offer', { to: idB, offer: { type: 'offer', sdp: 'to the new gateway' } });
  assert.equal((await b.next('video:offer', { filter: (e) => e.offer.sdp === 'to the new gateway', what: 'an offer after the take-over' })).offer.sdp, 'to the new gateway');
}

/** node 1's view of the cluster (coupctl --json cluster). */
async function clusterView(ctx) {
  const r = await runToExit(COUPCTL, ['-s', path.join(ctx.runDirs[1], 'coup-gateway.sock'), '--json', 'cluster']);
  assert.equal(r.code, 0, `coupctl cluster: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('cluster: a drained gateway\'s sessions are taken over by another (a rolling restart)', { skip: SKIP || (!COUPCTL && 'COUPCTL is not set') }, () => {
  const ctx = useCluster(2, ARGS);

  it('drain the gateway of one party mid-call: recovered on the other with its id, its rooms and what it missed, and the peer sees nothing', { timeout: 30000 }, async () => {
    const lb = await startBalancer([ctx.nodes[0].port, ctx.nodes[1].port]);
    try {
      const { a, b, studyId, roomId } = await callAcross(ctx, lb);
      const idB = b.socket.id;
      const back = new Promise((resolve) => b.socket.once('connect', resolve));
      const t0 = Date.now();
      // The balancer takes node 0 out, then node 0 is drained (SIGTERM).
      lb.out(ctx.nodes[0].port);
      ctx.nodes[0].proc.kill('SIGTERM');
      // Meanwhile A keeps signaling to B, and chats.
      for (let i = 0; i < 5; i++) a.emit('video:offer', { to: idB, offer: { type: 'offer', sdp: `drain-${i}` } });
      a.emit('chat:video-message', { roomId, message: 'during the drain' });
      await a.next('chat:video-message-received', { what: 'A hears its message' });
      await back;
      const took = Date.now() - t0;
      assert.equal(b.socket.recovered, true, 'socket.recovered on the other gateway');
      assert.equal(b.socket.id, idB, 'the same socket id');
      assert.equal(lb.openTo(ctx.nodes[1].port), 1, 'B is on node 1 now');
      const sdps = [];
      for (let i = 0; i < 5; i++) sdps.push((await b.next('video:offer', { what: `offer ${i} sent during the drain` })).offer.sdp);
      assert.deepEqual(sdps, ['drain-0', 'drain-1', 'drain-2', 'drain-3', 'drain-4'], 'every offer, in order');
      await b.next('chat:video-message-received', { what: 'the room message sent during the drain' });
      await callGoesOn(a, b, idB);
      const exit = await ctx.nodes[0].exited;
      assert.equal(exit.code, 0, `node 0 drained and exited cleanly (${JSON.stringify(exit)})`);
      // node 0 is gone from the cluster; B is still in the call, muted.
      await pollUntil(async () => {
        const v = await clusterView(ctx);
        return { ok: v.nodes.length === 1, value: v.nodes };
      }, { what: 'node 0 gone from the cluster' });
      a.none('video:user-left', null, 'A never saw B leave');
      a.none('presence:user-offline', null, 'A never saw B go offline');
      assert.equal(b.all('video:offer').length, 6, 'each offer once');
      assert.equal(b.all('chat:video-message-received').length, 1, 'the message once');
      const c = await ctx.peer('C', 1);
      c.emit('video:join-room', { studyId, roomId });
      const state = await c.next('video:room-state', { what: 'C joins the call' });
      const pb = state.participants.find((p) => p.socketId === idB);
      assert.ok(pb && pb.isMuted, `a newcomer sees B in the call, muted: ${JSON.stringify(state.participants)}`);
      process.stderr.write(`drain: B recovered on node 1 ${took} ms after SIGTERM to node 0; A saw no leave, B got 5 offers and 1 message sent meanwhile\n`);
    } finally {
      ctx.clients.closeAll();
      await lb.close();
    }
  });
});

describe('cluster: a killed gateway\'s sessions are taken over by another', { skip: SKIP || (!COUPCTL && 'COUPCTL is not set') }, () => {
  const ctx = useCluster(2, ARGS);

  it('kill -9 the gateway of one party mid-call: recovered on the other before the node is declared dead; the peer sees nothing, then or after', { timeout: 30000 }, async () => {
    const lb = await startBalancer([ctx.nodes[0].port, ctx.nodes[1].port]);
    try {
      const { a, b } = await callAcross(ctx, lb);
      const idB = b.socket.id;
      const back = new Promise((resolve) => b.socket.once('connect', resolve));
      ctx.nodes[0].proc.kill('SIGKILL');
      await back;
      assert.equal(b.socket.recovered, true, 'socket.recovered on the other gateway');
      assert.equal(b.socket.id, idB, 'the same socket id');
      await callGoesOn(a, b, idB);
      // The dead node is reaped: its members leave, but B is node 1's now.
      await pollUntil(async () => {
        const v = await clusterView(ctx);
        return { ok: v.nodes.length === 1, value: v.nodes };
      }, { attempts: 100, what: 'node 0 reaped' });
      await callGoesOn(a, b, idB);
      a.none('video:user-left', null, 'A never saw B leave');
      a.none('presence:user-offline', null, 'A never saw B go offline');
    } finally {
      ctx.clients.closeAll();
      await lb.close();
    }
  });
});

describe('cluster: a session taken over by a gateway new to its rooms', { skip: SKIP || (!COUPCTL && 'COUPCTL is not set') }, () => {
  const ctx = useCluster(3, ARGS);

  it('A on node 2, B on node 0 drained to node 1 (no members there): node 1 learns the rooms from their snapshots, silently; A sees nothing; another user presenting the pid gets a session of her own', { timeout: 30000 }, async () => {
    const lb = await startBalancer([ctx.nodes[0].port, ctx.nodes[1].port]);
    try {
      const { studyId, roomId } = newRoom();
      const a = await ctx.peer('A', 2);
      const b = await reconnectingPeer(ctx, 'B@lb', lb.url);
      for (const p of [a, b]) {
        p.emit('presence:join-study', { studyId });
        await p.next('presence:study-joined', { what: `${p.label} joins the study` });
        p.emit('video:join-room', { studyId, roomId });
        await p.next('video:room-state', { what: `${p.label} joins the call` });
      }
      await a.next('video:user-joined', { what: 'A sees B join' });
      b.emit('presence:status-change', { status: 'focus' });
      await a.next('presence:user-status-changed', { what: "A sees B's status" });
      b.emit('video:toggle-video', { roomId, isVideoOff: true });
      await a.next('video:peer-video-changed', { what: 'A sees B turn its camera off' });
      const idB = b.socket.id;
      const pid = b.socket._pid;

      // A forged handover on node 0's inbox (anyone on Redis can
      // publish one): Redis does not confirm it, node 0 keeps B.
      const node0 = (await (await fetch(`${ctx.nodes[0].url}/metrics`)).json()).cluster.node;
      const node1 = (await (await fetch(`${ctx.nodes[1].url}/metrics`)).json()).cluster.node;
      ctx.redis.cli('PUBLISH', `coup:ch:node:${node0}`, JSON.stringify({ t: 'handover', node: node1, sid: idB, offset: '0' }));
      ctx.redis.cli('PUBLISH', `coup:ch:node:${node0}`, JSON.stringify({ t: 'replay', node: node1, sid: idB, p: [{ s: '2["video:offer",{"from":"x"}]' }] }));
      a.emit('video:offer', { to: idB, offer: { type: 'offer', sdp: 'still on node 0' } });
      assert.equal((await b.next('video:offer', { what: 'an offer after the forged handover' })).offer.sdp, 'still on node 0');
      assert.equal(b.socket.connected, true, 'B still connected to node 0');
      b.drain();

      // Mallory, on node 1, presents B's pid with her own credentials.
      const m = ctx.user('M');
      const mallory = await ctx.clients.connect(ctx.nodes[1].url, { transports: ['websocket'], auth: { userId: m.id, token: `tok-${m.id}`, pid, offset: '1' } });
      assert.notEqual(mallory.id, idB, "not B's socket id");
      assert.notEqual(mallory.recovered, true, 'not recovered');
      mallory.disconnect();

      const back = new Promise((resolve) => b.socket.once('connect', resolve));
      lb.out(ctx.nodes[0].port);
      ctx.nodes[0].proc.kill('SIGTERM');
      for (let i = 0; i < 3; i++) a.emit('video:offer', { to: idB, offer: { type: 'offer', sdp: `new-${i}` } });
      await back;
      assert.equal(b.socket.recovered, true, 'recovered on node 1');
      assert.equal(b.socket.id, idB, 'the same socket id');
      assert.equal(lb.openTo(ctx.nodes[1].port), 1, 'B is on node 1');
      const sdps = [];
      for (let i = 0; i < 3; i++) sdps.push((await b.next('video:offer', { what: `offer ${i}` })).offer.sdp);
      assert.deepEqual(sdps, ['new-0', 'new-1', 'new-2']);
      await callGoesOn(a, b, idB);
      // Node 1 has the rooms now, with A as a member elsewhere: a chat in
      // the call and the study reaches both ways.
      b.emit('chat:video-message', { roomId, message: 'from node 1' });
      assert.equal((await a.next('chat:video-message-received', { what: "B's message via node 1" })).message, 'from node 1');
      await ctx.nodes[0].exited;
      // A newcomer on node 1 finds B as it was: camera off, status focus.
      const c = await ctx.peer('C', 1);
      c.emit('presence:join-study', { studyId });
      const joined = await c.next('presence:study-joined', { what: 'C joins the study' });
      assert.equal(joined.users.find((u) => u.userId === b.userId)?.status, 'focus', `B's status kept: ${JSON.stringify(joined.users)}`);
      c.emit('video:join-room', { studyId, roomId });
      const state = await c.next('video:room-state', { what: 'C joins the call' });
      assert.equal(state.participants.find((p) => p.socketId === idB)?.isVideoOff, true, "B's camera flag kept");
      b.none('video:user-joined', (e) => e.socketId === a.sid, 'B was not told of A again');
      const m1 = await (await fetch(`${ctx.nodes[1].url}/metrics`)).json();
      assert.deepEqual([m1.cluster.takeovers.taken, m1.cluster.takeovers.refused, m1.cluster.takeovers.failed], [1, 1, 0], `node 1's take-overs: ${JSON.stringify(m1.cluster.takeovers)}`);
      assert.ok(m1.recovery.recovered >= 1, `node 1 counts B as recovered: ${JSON.stringify(m1.recovery)}`);
      const prom = await (await fetch(`${ctx.nodes[1].url}/metrics`, { headers: { accept: 'text/plain' } })).text();
      assert.match(prom, /^coup_cluster_takeovers_total\{result="taken"\} 1$/m, 'Prometheus counts the take-over');
      a.none('video:user-left', null, 'A never saw B leave');
      a.none('presence:user-offline', null, 'A never saw B go offline');
    } finally {
      ctx.clients.closeAll();
      await lb.close();
    }
  });
});
