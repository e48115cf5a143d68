// coup-gateway: rooms are processes. Each room runs in a coup-roomd child
// of the gateway (seen in /proc), listed by GET /metrics; a room's process
// dying (kill -9) disturbs no other room and loses no member of its own;
// an idle room's process exits after ROOM_IDLE_TIMEOUT.
//
// The room name is assumed to appear on the child's command line
// (e.g. "coup-roomd video:study-42-main").

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

import { startServer, binaryFromEnv, skipReason } from './lib/server.mjs';
import { safeJson, pollUntil, delay } from './lib/wait.mjs';
import { request } from './lib/eio-polling.mjs';
import { Clients } from './lib/sio-client.mjs';
import { startMockApi } from './lib/mock-api.mjs';
import { uniq, Peer, assertRefusal, expectError, useGateway } from './lib/coup.mjs';
import { readProc, childrenOf, cmdline, procState, roomChild } from './lib/proc.mjs';

const GATEWAY = binaryFromEnv('COUP_GATEWAY');
const SKIP = skipReason('COUP_GATEWAY') || (process.platform !== 'linux' ? 'needs /proc (Linux)' : false);

// ---------------------------------------------------------------------------
// helpers


async function joinStudy(peer, studyId) {
  peer.emit('presence:join-study', { studyId });
  return peer.next('presence:study-joined', { filter: (e) => e && e.studyId === studyId, what: `presence:study-joined for ${studyId}` });
}

async function joinVideo(peer, studyId, roomId = `study-${studyId}-main`) {
  peer.emit('video:join-room', { studyId, roomId });
  return peer.next('video:room-state', { what: `video:room-state after joining ${roomId}` });
}

// ---- /proc --------------------------------------------------------------

function describeChildren(gwPid) {
  return childrenOf(gwPid)
    .map((p) => `${p}: ${(cmdline(p) ?? ['?']).join(' ')} [${procState(p)}]`)
    .join('; ');
}

/** The live spare coup-roomd children of the gateway (no room yet). */
function spareChildren(gwPid) {
  return childrenOf(gwPid).filter((pid) => {
    const argv = cmdline(pid);
    return argv && argv[1] === '--spare' && procState(pid) !== 'Z';
  });
}

/** Wait for n spare children (other than `not`), all ready (/metrics). */
async function waitSpares(url, gwPid, n, { not = [], what } = {}) {
  return pollUntil(
    async () => {
      const pids = spareChildren(gwPid).filter((p) => !not.includes(p));
      const m = await metrics(url);
      return { ok: pids.length === n && m.memory.spares.ready === n, value: `${pids.length} spares, /metrics ${safeJson(m.memory.spares)}; children: ${describeChildren(gwPid)}` };
    },
    { attempts: 200, intervalMs: 50, what: what ?? `${n} ready spare coup-roomd children of ${gwPid}` },
  );
}

async function waitRoomChild(gwPid, room, { notPid = null, what } = {}) {
  return pollUntil(
    () => {
      const c = roomChild(gwPid, room);
      return { ok: c !== null && c.pid !== notPid, value: c ?? describeChildren(gwPid) };
    },
    { attempts: 100, intervalMs: 50, what: what ?? `a coup-roomd child of ${gwPid} for ${room}` },
  );
}

async function metrics(url) {
  const res = await request(`${url}/metrics`);
  assert.equal(res.status, 200, `GET /metrics: ${res.status}`);
  return JSON.parse(res.body);
}

// ---------------------------------------------------------------------------

describe('rooms are processes', { skip: SKIP }, () => {
  describe('production', () => {
    const g = useGateway([]);

    it('a join starts a coup-roomd child of the gateway for that room; /metrics lists it', async () => {
      const studyId = uniq('s');
      const roomId = `study-${studyId}-main`;
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      await joinVideo(a, studyId);
      await joinVideo(b, studyId);
      await joinStudy(a, studyId);
      await joinStudy(b, studyId);
      const gwPid = g.server.proc.pid;

      for (const room of [`video:${roomId}`, `study:${studyId}`]) {
        const child = await waitRoomChild(gwPid, room);
        assert.match(child.argv[0], /coup-roomd$/, `the child for ${room} runs coup-roomd: ${child.argv.join(' ')}`);
        const status = readProc(child.pid, 'status');
        assert.match(status, new RegExp(`^PPid:\\s+${gwPid}$`, 'm'), `its parent is the gateway (${gwPid})`);
      }
      const v = roomChild(gwPid, `video:${roomId}`);
      const s = roomChild(gwPid, `study:${studyId}`);
      assert.notEqual(v.pid, s.pid, 'one process per room');

      const m = await pollUntil(
        async () => {
          const body = await metrics(g.url);
          const d = body.roomDetails.find((r) => r.name === `video:${roomId}`);
          return { ok: d && d.participants === 2, value: body };
        },
        { attempts: 30, intervalMs: 100, what: '/metrics to list the video room with 2 participants' },
      );
      assert.deepEqual(m.roomDetails.find((r) => r.name === `video:${roomId}`), { name: `video:${roomId}`, participants: 2 });
      assert.deepEqual(m.roomDetails.find((r) => r.name === `study:${studyId}`), { name: `study:${studyId}`, participants: 2 });
      assert.ok(m.rooms >= 2, `rooms ${m.rooms}`);
      assert.equal(m.rooms, m.roomDetails.length, 'rooms counts roomDetails');
      assert.ok(m.memory.rooms.processes >= 2, `memory.rooms.processes ${safeJson(m.memory)}`);
      assert.ok(m.memory.rooms.rss > 0, `memory.rooms.rss ${safeJson(m.memory)}`);
      assert.ok(m.memory.rss >= m.memory.gateway.rss + m.memory.rooms.rss - 4096 * 1024, `memory.rss is gateway + rooms: ${safeJson(m.memory)}`);
    });

    it('kill -9 of one room\'s process: the other room notices nothing; the killed room keeps its members and its messages', { timeout: 60000 }, async () => {
      const sa = uniq('s');
      const sb = uniq('s');
      const ra = `study-${sa}-main`;
      const rb = `study-${sb}-main`;
      const [a1, a2, b1, b2] = [await g.peer('A1'), await g.peer('A2'), await g.peer('B1'), await g.peer('B2')];
      await joinVideo(a1, sa);
      await joinVideo(a2, sa);
      await joinVideo(b1, sb);
      await joinVideo(b2, sb);
      a1.emit('video:toggle-audio', { roomId: ra, isMuted: true });
      await a2.next('video:peer-audio-changed');
      const gwPid = g.server.proc.pid;
      const victim = await waitRoomChild(gwPid, `video:${ra}`);
      const bystander = await waitRoomChild(gwPid, `video:${rb}`);

      // Everybody sends a chat:video-message every 25 ms.
      const senders = [
        [a1, ra],
        [a2, ra],
        [b1, rb],
        [b2, rb],
      ];
      const count = new Map(senders.map(([p]) => [p, 0]));
      const timer = setInterval(() => {
        for (const [p, roomId] of senders) {
          const i = count.get(p) + 1;
          count.set(p, i);
          p.emit('chat:video-message', { roomId, message: `${p.label}#${i}` });
        }
      }, 25);
      let killIndex;
      let newChild;
      try {
        // Traffic flows in both rooms before the kill.
        for (const p of [a1, a2, b1, b2]) {
          await p.next('chat:video-message-received', { filter: (m) => m && m.message.endsWith('#5'), what: 'the 5th messages' });
        }
        killIndex = new Map([...count]);
        process.kill(victim.pid, 'SIGKILL');
        // The gateway starts a new process for room A (the members are
        // replayed into it); traffic goes on meanwhile.
        newChild = await waitRoomChild(gwPid, `video:${ra}`, { notPid: victim.pid, what: `a new process for video:${ra}` });
        // Some traffic after the restart too.
        const after = count.get(a1) + 10;
        await a2.next('chat:video-message-received', { filter: (m) => m && m.message === `A1#${after}`, timeoutMs: 10000, what: `A1#${after} after the restart` });
      } finally {
        clearInterval(timer);
      }
      assert.notEqual(newChild.pid, victim.pid);
      assert.equal(roomChild(gwPid, `video:${rb}`)?.pid, bystander.pid, 'room B keeps its process');

      // Wait for every sender's last message at both members of its room.
      for (const [p, roomId] of senders) {
        const last = `${p.label}#${count.get(p)}`;
        const members = roomId === ra ? [a1, a2] : [b1, b2];
        for (const r of members) {
          await r.seen('chat:video-message-received', { filter: (m) => m && m.message === last, timeoutMs: 10000, what: `${last} at ${r.label}` });
        }
      }
      const seqOf = (r, sender) =>
        r.all('chat:video-message-received', (m) => m && m.socketId === sender.sid).map((m) => Number(m.message.split('#')[1]));

      // Room B: everything, in order, and nothing unusual.
      for (const r of [b1, b2]) {
        for (const s of [b1, b2]) {
          const got = seqOf(r, s);
          const want = Array.from({ length: count.get(s) }, (_, i) => i + 1);
          assert.deepEqual(got, want, `room B: ${r.label} got every message of ${s.label}, in order`);
        }
        const unusual = r.log.filter((e) => !['chat:video-message-received', 'video:room-state', 'video:user-joined'].includes(e.event));
        assert.deepEqual(unusual.map((e) => `${e.event} ${safeJson(e.data)}`), [], `room B: ${r.label} saw nothing else`);
      }

      // Room A: no member lost, every message sent after the kill arrived, in order.
      for (const r of [a1, a2]) {
        r.none('video:user-left', null, 'members of the killed room stay members');
        r.none('error');
        for (const s of [a1, a2]) {
          const got = seqOf(r, s);
          const post = got.filter((i) => i > killIndex.get(s));
          const want = Array.from({ length: count.get(s) - killIndex.get(s) }, (_, i) => killIndex.get(s) + i + 1);
          assert.deepEqual(post, want, `room A: ${r.label} got every message ${s.label} sent after the kill, in order`);
          for (let i = 1; i < got.length; i++) {
            assert.ok(got[i] > got[i - 1], `room A: ${r.label} got ${s.label}'s messages in order without duplicates: ...${got.slice(Math.max(0, i - 3), i + 2)}`);
          }
          const lost = killIndex.get(s) - got.filter((i) => i <= killIndex.get(s)).length;
          if (lost > 0) process.stderr.write(`# room A: ${lost} message(s) of ${s.label} sent before the kill did not reach ${r.label}\n`);
        }
      }

      // A later joiner of room A sees both members, with their state.
      const c = await g.peer('C');
      const state = await joinVideo(c, sa);
      const ids = state.participants.map((p) => p.socketId).sort();
      assert.deepEqual(ids, [a1.sid, a2.sid].sort(), `room-state after the restart lists A1 and A2: ${safeJson(state)}`);
      assert.equal(state.participants.find((p) => p.socketId === a1.sid).isMuted, true, 'A1 is still muted');
      for (const r of [a1, a2]) {
        const j = await r.next('video:user-joined', { filter: (e) => e && e.socketId === c.sid });
        assert.equal(j.userId, c.userId);
      }
      // The replay of the members into the new process told no one.
      assert.deepEqual(a1.all('video:user-joined').map((e) => e.socketId), [a2.sid, c.sid], 'A1 heard of A2 (before the kill) and C, once each');
      assert.deepEqual(a2.all('video:user-joined').map((e) => e.socketId), [c.sid], 'A2 heard of C only');
      assert.equal(a1.all('video:room-state').length, 1, 'no second room-state');
      // Relays work in the new process.
      a1.emit('video:offer', { to: c.sid, offer: { type: 'offer', sdp: 'after-restart' } });
      assert.deepEqual(await c.next('video:offer'), { from: a1.sid, offer: { type: 'offer', sdp: 'after-restart' } });
      const m = await metrics(g.url);
      assert.deepEqual(m.roomDetails.find((r) => r.name === `video:${ra}`), { name: `video:${ra}`, participants: 3 });
      assert.deepEqual(m.roomDetails.find((r) => r.name === `video:${rb}`), { name: `video:${rb}`, participants: 2 });
    });

    it('kill -9 of a study room\'s process: presence and chat go on, nobody goes offline', async () => {
      const studyId = uniq('s');
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      await joinStudy(a, studyId);
      await joinStudy(b, studyId);
      await a.next('presence:user-online');
      const gwPid = g.server.proc.pid;
      const victim = await waitRoomChild(gwPid, `study:${studyId}`);
      process.kill(victim.pid, 'SIGKILL');
      a.emit('chat:send-message', { studyId, message: 'after the kill' });
      for (const p of [a, b]) await p.next('chat:message-received', { filter: (m) => m && m.message === 'after the kill', timeoutMs: 10000 });
      await waitRoomChild(gwPid, `study:${studyId}`, { notPid: victim.pid });
      const c = await g.peer('C');
      const sj = await joinStudy(c, studyId);
      assert.equal(sj.onlineCount, 3, `A, B and C are online: ${safeJson(sj)}`);
      for (const p of [a, b]) {
        p.none('presence:user-offline');
        await p.next('presence:user-online', { filter: (e) => e && e.userId === c.userId });
      }
    });
  });

  describe('spare processes (ROOM_SPARES)', () => {
    describe('ROOM_SPARES=2', () => {
      const g = useGateway(['ROOM_SPARES=2']);

      it('two spares wait; a new room takes one (its name shows in ps) and the pool is topped up', async () => {
        const gwPid = g.server.proc.pid;
        await waitSpares(g.url, gwPid, 2);
        const before = spareChildren(gwPid);
        let m = await metrics(g.url);
        assert.equal(m.memory.spares.processes, 2, `memory.spares ${safeJson(m.memory)}`);
        assert.ok(m.memory.spares.rss > 0, `memory.spares.rss ${safeJson(m.memory)}`);

        const studyId = uniq('s');
        const a = await g.peer('A');
        await joinVideo(a, studyId);
        const child = await waitRoomChild(gwPid, `video:study-${studyId}-main`);
        assert.ok(before.includes(child.pid), `the room runs in one of the spares ${before}: ${child.pid} (${child.argv.join(' ')})`);
        assert.deepEqual(child.argv.slice(0, 2), ['coup-roomd', `video:study-${studyId}-main`], 'ps shows the room, not --spare');
        // The other spare is still there, and a new one joins it.
        await waitSpares(g.url, gwPid, 2, { what: 'the pool topped up to 2 again' });
        const now = spareChildren(gwPid);
        assert.ok(!now.includes(child.pid));
        assert.equal(now.filter((p) => !before.includes(p)).length, 1, `one new spare: before ${before}, now ${now}`);

        // The room works as any: a second member sees the first.
        const b = await g.peer('B');
        const state = await joinVideo(b, studyId);
        assert.deepEqual(state.participants.map((p) => p.userId), [a.user.id], `room-state ${safeJson(state)}`);
        m = await metrics(g.url);
        assert.equal(m.memory.spares.processes, 2);
        assert.ok(m.memory.rooms.processes >= 1);
      });

      it('a room whose process is killed gets a spare at once, with its members', async () => {
        const gwPid = g.server.proc.pid;
        const studyId = uniq('s');
        const roomId = `study-${studyId}-main`;
        const [a, b] = [await g.peer('A'), await g.peer('B')];
        await joinVideo(a, studyId);
        await joinVideo(b, studyId);
        const victim = await waitRoomChild(gwPid, `video:${roomId}`);
        await waitSpares(g.url, gwPid, 2);
        const spares = spareChildren(gwPid);
        process.kill(victim.pid, 'SIGKILL');
        const next = await waitRoomChild(gwPid, `video:${roomId}`, { notPid: victim.pid, what: `a new process for video:${roomId}` });
        assert.ok(spares.includes(next.pid), `the replacement ${next.pid} was a spare (${spares})`);
        a.emit('chat:video-message', { roomId, message: 'after the kill' });
        const got = await b.next('chat:video-message-received', { filter: (x) => x && x.message === 'after the kill' });
        assert.equal(got.userId, a.user.id);
      });

      it('a spare killed with kill -9 is replaced; nobody notices', async () => {
        const gwPid = g.server.proc.pid;
        await waitSpares(g.url, gwPid, 2);
        const [victim] = spareChildren(gwPid);
        process.kill(victim, 'SIGKILL');
        await waitSpares(g.url, gwPid, 2, { not: [victim], what: `two spares other than the killed ${victim}` });
        const studyId = uniq('s');
        const a = await g.peer('A');
        await joinVideo(a, studyId);
        await waitRoomChild(gwPid, `video:study-${studyId}-main`);
      });
    });

    it('SIGTERM while spares are still starting: they exit, nothing is killed, the gateway exits 0', async () => {
      // 32 spares take a while to start (with sanitizers, tens of ms
      // each): some are still starting when the drain retires them.
      const server = await startServer(GATEWAY, ['NODE_ENV=development', 'NEXTJS_URL=http://127.0.0.1:9', 'LOG_LEVEL=info', 'ROOM_SPARES=32'], { name: 'coup-gateway' });
      const starting = childrenOf(server.proc.pid).length;
      const r = await server.stopAndCheck();
      assert.equal(r.code ?? 0, 0, server.describeExit());
      assert.doesNotMatch(server.stderrTail(200), /killing|HELLO twice/, `no spare was killed (${starting} children when stopped)`);
      assert.match(server.stderrTail(200), /drained/, 'it drained');
    });

    describe('ROOM_SPARES=0', () => {
      const g = useGateway(['ROOM_SPARES=0']);

      it('no spare waits; each room starts its own process on its first join', async () => {
        const gwPid = g.server.proc.pid;
        const studyId = uniq('s');
        const a = await g.peer('A');
        await joinVideo(a, studyId);
        const child = await waitRoomChild(gwPid, `video:study-${studyId}-main`);
        assert.deepEqual(child.argv, ['coup-roomd', `video:study-${studyId}-main`]);
        assert.deepEqual(spareChildren(gwPid), [], describeChildren(gwPid));
        const m = await metrics(g.url);
        assert.deepEqual(m.memory.spares, { rss: 0, processes: 0, ready: 0 });
      });
    });
  });

  describe('MAX_ROOMS=3', () => {
    const g = useGateway(['MAX_ROOMS=3', 'ROOM_IDLE_TIMEOUT=60']);

    it('a join that would open a fourth room gets ROOM_UNAVAILABLE; existing rooms still take joins; an empty room is closed early to make room', async () => {
      const gwPid = g.server.proc.pid;
      const s = [uniq('s'), uniq('s'), uniq('s'), uniq('s')];
      const [a, b, c, d] = [await g.peer('A'), await g.peer('B'), await g.peer('C'), await g.peer('D')];
      await joinVideo(a, s[0]);
      await joinVideo(b, s[1]);
      await joinVideo(c, s[2]);
      // A fourth room: refused, and D hears nothing of it.
      await expectError(d, 'video:join-room', [{ studyId: s[3], roomId: `study-${s[3]}-main` }], 'ROOM_UNAVAILABLE', '방 입장에 실패했습니다.');
      assert.equal(roomChild(gwPid, `video:study-${s[3]}-main`), null, 'no process for the refused room');
      assert.deepEqual(d.all('video:room-state'), []);
      // An existing room is no new room.
      const state = await joinVideo(d, s[0]);
      assert.deepEqual(state.participants.map((p) => p.userId), [a.user.id]);
      // B leaves: its room waits out ROOM_IDLE_TIMEOUT (60 s) empty, and
      // is closed at once when a new room needs its place.
      b.emit('video:leave-room', { roomId: `study-${s[1]}-main` });
      await pollUntil(async () => {
        const m = await metrics(g.url);
        const r = m.roomDetails.find((x) => x.name === `video:study-${s[1]}-main`);
        return { ok: r && r.participants === 0, value: m.roomDetails };
      }, { attempts: 50, intervalMs: 50, what: 'B\'s room empty' });
      const e = await g.peer('E');
      await joinVideo(e, s[3]);
      const m = await metrics(g.url);
      const names = m.roomDetails.map((x) => x.name).sort();
      assert.deepEqual(names, [0, 2, 3].map((i) => `video:study-${s[i]}-main`).sort(), safeJson(m.roomDetails));
      await waitRoomChild(gwPid, `video:study-${s[3]}-main`);
    });
  });

  describe('ROOM_IDLE_TIMEOUT=1', () => {
    const g = useGateway(['ROOM_IDLE_TIMEOUT=1']);

    it('the process of a room whose last member left exits (and is reaped); a room with members stays', { timeout: 30000 }, async () => {
      const s1 = uniq('s');
      const s2 = uniq('s');
      const [a, b] = [await g.peer('A'), await g.peer('B')];
      await joinVideo(a, s1);
      await joinStudy(a, s1);
      await joinVideo(b, s2);
      const gwPid = g.server.proc.pid;
      const video = await waitRoomChild(gwPid, `video:study-${s1}-main`);
      const study = await waitRoomChild(gwPid, `study:${s1}`);
      const busy = await waitRoomChild(gwPid, `video:study-${s2}-main`);

      a.emit('video:leave-room', { roomId: `study-${s1}-main` });
      a.socket.disconnect(); // leaves the study room too
      for (const child of [video, study]) {
        await pollUntil(() => ({ ok: procState(child.pid) === null, value: `${child.pid} ${procState(child.pid)}` }), {
          attempts: 100,
          intervalMs: 100,
          what: `the idle room process ${child.pid} (${child.argv.join(' ')}) to exit and be reaped within 10 s`,
        });
      }
      await pollUntil(
        async () => {
          const m = await metrics(g.url);
          return { ok: !m.roomDetails.some((r) => r.name === `video:study-${s1}-main` || r.name === `study:${s1}`), value: m.roomDetails };
        },
        { attempts: 30, intervalMs: 100, what: '/metrics to drop the idle rooms' },
      );
      // About time itself: the busy room outlives the idle timeout.
      await delay(1500);
      assert.notEqual(procState(busy.pid), null, 'the process of a room with a member is still there');
      assert.notEqual(procState(busy.pid), 'Z');
      // And an idle room comes back on the next join.
      const a2 = await g.peer('A2');
      await joinVideo(a2, s1);
      const again = await waitRoomChild(gwPid, `video:study-${s1}-main`);
      assert.notEqual(again.pid, video.pid);
      assert.ok(existsSync(`/proc/${again.pid}`));
    });
  });
});
