// Webhooks (WEBHOOK_URL, WEBHOOK_SECRET): what happens in the calls and
// studies, told to a stand-in of the CoUp app's endpoint that checks each
// POST's signature, in order; retried when the app refuses; and a dead
// endpoint changes nothing for the call.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { skipReason, binaryFromEnv, runToExit } from './lib/server.mjs';
import { uniq, useGateway } from './lib/coup.mjs';
import { startWebhookSink } from './lib/webhook-sink.mjs';
import { startProxy } from './lib/cut-proxy.mjs';
import { useCluster, newRoom, clusterSkipReason } from './lib/cluster.mjs';

const SKIP = skipReason('COUP_GATEWAY');
const SECRET = `wh-${process.pid}`;

async function joinCall(p, studyId) {
  p.emit('video:join-room', { studyId, roomId: `study-${studyId}-main` });
  await p.next('video:room-state', { what: `${p.label} joins` });
}

/** The webhooks about `room`, as [event, participant's user id or reason]. */
function story(taken, room) {
  return taken.filter((t) => t.body.room === room).map((t) => [t.event, t.body.participant?.userId ?? t.body.userId ?? null]);
}

const COUPCTL = binaryFromEnv('COUPCTL');
const RUN_DIR = mkdtempSync(path.join(os.tmpdir(), 'coup-webhooks-'));
after(() => rmSync(RUN_DIR, { recursive: true, force: true }));

describe('webhooks', { skip: SKIP }, () => {
  const args = [`WEBHOOK_SECRET=${SECRET}`, 'RECOVERY_WINDOW_MS=300', `RUN_DIR=${RUN_DIR}`];
  let sink;
  before(async () => {
    sink = await startWebhookSink(SECRET);
    args.push(`WEBHOOK_URL=${sink.url}`);
  });
  after(() => sink?.close());
  const g = useGateway(args);

  it('a call: room_started, participant_joined, participant_left (left, disconnected), room_finished with its duration and peak, signed, in order', async () => {
    const studyId = uniq('s');
    const room = `video:study-${studyId}-main`;
    const a = await g.peer('A');
    const b = await g.peer('B');
    await joinCall(a, studyId);
    await joinCall(b, studyId);
    b.emit('video:leave-room', { roomId: `study-${studyId}-main` });
    await a.next('video:user-left', { what: 'A sees B leave' });
    a.socket.disconnect();
    const taken = await sink.until((t) => t.some((x) => x.event === 'room_finished' && x.body.room === room), { what: 'room_finished' });
    assert.deepEqual(story(taken, room), [
      ['room_started', null],
      ['participant_joined', a.userId],
      ['participant_joined', b.userId],
      ['participant_left', b.userId],
      ['participant_left', a.userId],
      ['room_finished', null],
    ]);
    const mine = taken.filter((t) => t.body.room === room);
    assert.deepEqual(mine.filter((t) => t.event === 'participant_left').map((t) => t.body.reason), ['left', 'disconnected']);
    const fin = mine.at(-1).body;
    assert.equal(fin.peakParticipants, 2);
    assert.ok(fin.durationMs >= 0 && fin.durationMs < 60000, `duration ${fin.durationMs}`);
    assert.equal(mine[1].body.participant.user.name, a.user.name, "the participant's profile");
    assert.equal(mine[1].body.roomId, `study-${studyId}-main`);
    for (const t of mine) {
      assert.equal(t.headers['x-coup-event'], t.event, 'X-CoUp-Event names the event');
      assert.equal(t.headers['x-coup-delivery'], t.body.id, 'X-CoUp-Delivery is its id');
      assert.match(t.body.createdAt, /^\d{4}-\d\d-\d\dT/);
    }
    assert.ok(sink.attempts.every((x) => x.valid), 'every POST signed with WEBHOOK_SECRET');
  });

  it("a study: study_online at a user's first connection, study_offline at its last, not per tab", async () => {
    const studyId = uniq('s');
    const room = `study:${studyId}`;
    const u = g.user('T');
    const tab1 = await g.peer('T1', {}, u);
    const tab2 = await g.peer('T2', {}, u);
    for (const p of [tab1, tab2]) {
      p.emit('presence:join-study', { studyId });
      await p.next('presence:study-joined');
    }
    tab1.emit('presence:leave-study', { studyId });
    tab2.socket.disconnect();
    const taken = await sink.until((t) => story(t, room).length >= 2, { what: 'study_offline' });
    await tab1.roundTrip();
    assert.deepEqual(story(taken, room), [['study_online', u.id], ['study_offline', u.id]]);
  });

  it('a session not back within RECOVERY_WINDOW_MS leaves with the reason "expired"', async () => {
    const proxy = await startProxy(new URL(g.url).port);
    try {
      const studyId = uniq('s');
      const room = `video:study-${studyId}-main`;
      const b = await g.peer('B', {}, null);
      const u = g.user('C');
      const c = await g.clients.connect(proxy.url, { transports: ['websocket'], auth: { userId: u.id, token: `tok-${u.id}` } });
      await joinCall(b, studyId);
      c.emit('video:join-room', { studyId, roomId: `study-${studyId}-main` });
      await b.next('video:user-joined', { what: 'B sees C join' });
      proxy.cut();
      await b.next('video:user-left', { what: 'C gone once its window is over', timeoutMs: 5000 });
      const taken = await sink.until((t) => t.some((x) => x.body.room === room && x.event === 'participant_left'), { what: "C's participant_left" });
      assert.equal(taken.find((x) => x.body.room === room && x.event === 'participant_left').body.reason, 'expired');
    } finally {
      g.clients.closeAll();
      await proxy.close();
    }
  });

  it('a connection kicked by an administrator (coupctl kick) leaves with the reason "kicked"', { skip: !COUPCTL && 'COUPCTL is not set' }, async () => {
    const studyId = uniq('s');
    const room = `video:study-${studyId}-main`;
    const a = await g.peer('A');
    const k = await g.peer('K');
    await joinCall(a, studyId);
    await joinCall(k, studyId);
    const r = await runToExit(COUPCTL, ['-s', path.join(RUN_DIR, 'coup-gateway.sock'), 'kick', k.sid]);
    assert.equal(r.code, 0, r.stderr);
    await a.next('video:user-left', { what: 'A sees K kicked' });
    const taken = await sink.until((t) => story(t, room).some(([e, who]) => e === 'participant_left' && who === k.userId), { what: "K's participant_left" });
    assert.equal(taken.find((x) => x.body.room === room && x.event === 'participant_left').body.reason, 'kicked');
  });

  it('the app refusing (500): retried with backoff, nothing lost, order kept', { timeout: 30000 }, async () => {
    const studyId = uniq('s');
    const room = `video:study-${studyId}-main`;
    sink.refuseNext(2);
    const before = sink.attempts.length;
    const a = await g.peer('A');
    await joinCall(a, studyId);
    const taken = await sink.until((t) => story(t, room).length >= 2, { timeoutMs: 20000, what: 'the webhooks after two refusals' });
    assert.deepEqual(story(taken, room), [['room_started', null], ['participant_joined', a.userId]]);
    assert.ok(sink.attempts.length - before >= 4, 'two refused attempts, then both taken');
    const m = await (await fetch(`${g.url}/metrics`)).json();
    assert.ok(m.webhooks.failures >= 2, `/metrics counts the failures: ${JSON.stringify(m.webhooks)}`);
  });
});

describe('webhooks to a dead endpoint', { skip: SKIP }, () => {
  // Nothing listens there: every attempt fails at once.
  const g = useGateway(['WEBHOOK_URL=http://127.0.0.1:9/none', `WEBHOOK_SECRET=${SECRET}`, 'WEBHOOK_QUEUE_MAX=3']);

  it('changes nothing for the call; the oldest webhooks are dropped past WEBHOOK_QUEUE_MAX, and counted', async () => {
    const studyId = uniq('s');
    const a = await g.peer('A');
    const b = await g.peer('B');
    await joinCall(a, studyId);
    await joinCall(b, studyId);
    await a.next('video:user-joined');
    for (let i = 0; i < 3; i++) {
      a.emit('video:offer', { to: b.sid, offer: { type: 'offer', sdp: `x${i}` } });
      assert.equal((await b.next('video:offer')).offer.sdp, `x${i}`, 'the call goes on');
    }
    b.emit('video:leave-room', { roomId: `study-${studyId}-main` });
    await a.next('video:user-left');
    const m = await (await fetch(`${g.url}/metrics`)).json();
    assert.equal(m.webhooks.sent, 0);
    assert.ok(m.webhooks.waiting <= 3, `no more than WEBHOOK_QUEUE_MAX wait: ${JSON.stringify(m.webhooks)}`);
    assert.equal(m.webhooks.dropped, m.webhooks.queued - m.webhooks.waiting, 'what is not waiting was dropped');
    assert.ok(m.webhooks.dropped >= 1, 'some dropped');
  });
});

describe('webhooks in multi-server mode', { skip: SKIP || clusterSkipReason() }, () => {
  const args = [`WEBHOOK_SECRET=${SECRET}`];
  let sink;
  before(async () => {
    sink = await startWebhookSink(SECRET);
    args.push(`WEBHOOK_URL=${sink.url}`);
  });
  after(() => sink?.close());
  const ctx = useCluster(2, args);

  it('one webhook per event, sent by the gateway that owns the change', async () => {
    const { studyId, roomId } = newRoom();
    const room = `video:${roomId}`;
    const a = await ctx.peer('A', 0);
    const b = await ctx.peer('B', 1);
    a.emit('video:join-room', { studyId, roomId });
    await a.next('video:room-state');
    b.emit('video:join-room', { studyId, roomId });
    await b.next('video:room-state');
    await a.next('video:user-joined');
    a.emit('video:leave-room', { roomId });
    await b.next('video:user-left', { what: 'B sees A leave' });
    b.emit('video:leave-room', { roomId });
    const taken = await sink.until((t) => t.some((x) => x.event === 'room_finished' && x.body.room === room), { what: 'room_finished' });
    await b.roundTrip();
    // Each gateway sends its own in order; between two gateways the app
    // gets them as they come.
    const got = story(taken, room);
    const key = (e) => e.join(' ');
    assert.deepEqual(got.map(key).sort(), [
      ['room_started', null],
      ['participant_joined', a.userId],
      ['participant_joined', b.userId],
      ['participant_left', a.userId],
      ['participant_left', b.userId],
      ['room_finished', null],
    ].map(key).sort(), 'each event once, though both gateways have the room');
    assert.equal(key(got[0]), key(['room_started', null]), 'started first (by the first member\'s gateway)');
    assert.ok(got.findIndex((e) => e[0] === 'room_finished') > got.findIndex((e) => key(e) === key(['participant_left', b.userId])), 'finished after the last one left (by its gateway)');
    // Started on node 0, finished on node 1: its start and peak are the
    // cluster's (coup:call:<room>), not lost between the two.
    const fin = taken.find((x) => x.body.room === room && x.event === 'room_finished').body;
    assert.equal(fin.peakParticipants, 2, 'the peak across both gateways');
    assert.ok(fin.durationMs > 0 && fin.durationMs < 60000, `the duration since node 0 started it: ${fin.durationMs}`);
    assert.equal(ctx.redis.cli('EXISTS', `coup:call:${room}`), '0', 'and its record is gone');
  });

  it('a user with a tab on each gateway: one study_online, one study_offline once both have left', async () => {
    const { studyId } = newRoom();
    const room = `study:${studyId}`;
    const u = ctx.user('T');
    const t0 = await ctx.peer('T0', 0, u);
    const t1 = await ctx.peer('T1', 1, u);
    const w = await ctx.peer('W', 1);
    for (const p of [w, t0, t1]) {
      p.emit('presence:join-study', { studyId });
      await p.next('presence:study-joined');
    }
    t0.emit('presence:leave-study', { studyId });
    await t0.roundTrip();
    await w.roundTrip();
    t1.emit('presence:leave-study', { studyId });
    await w.next('presence:user-offline', { filter: (e) => e.userId === u.id, what: 'W hears T go offline' });
    const taken = await sink.until((t) => story(t, room).some(([e, who]) => e === 'study_offline' && who === u.id), { timeoutMs: 30000, what: "T's study_offline" });
    await w.roundTrip();
    assert.deepEqual(story(taken, room).filter(([, who]) => who === u.id), [['study_online', u.id], ['study_offline', u.id]], 'once each, across gateways');
  });
});
