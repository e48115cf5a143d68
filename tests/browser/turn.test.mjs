// A call relayed through a real TURN server: Debian's coturn on loopback
// with use-auth-secret, two headless Chromium demo pages forced to relay
// (iceTransportPolicy 'relay', ?relay=1) with the credentials the gateway
// put in their video:room-state (TURN_URLS, TURN_SECRET). With the right
// secret the call connects through coturn (the selected candidates are
// relay ones); with a wrong one coturn refuses the allocations (401) and
// the call never connects.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';

import { useCall, uniq, pollUntil, GATEWAY } from './lib/call.mjs';
import { freePort, HOST } from '../e2e/lib/server.mjs';

const TURNSERVER = spawnSync('sh', ['-c', 'command -v turnserver'], { encoding: 'utf8' }).stdout.trim();
const SKIP = !GATEWAY ? 'COUP_GATEWAY is not set (run through tests/run-node-test)' : !TURNSERVER ? 'turnserver (coturn) is not installed' : false;
const SECRET = `turn-secret-${process.pid}`;

// The gateways' settings, filled in once coturn's port is known (the
// describes' own before hooks run after this one).
const good = [];
const bad = [];
let coturn = null;

before(async () => {
  if (SKIP) return;
  const port = await freePort();
  coturn = spawn(TURNSERVER, [
    '-n', `--listening-ip=${HOST}`, `--relay-ip=${HOST}`, `--listening-port=${port}`,
    '--use-auth-secret', `--static-auth-secret=${SECRET}`, '--realm=coup.test',
    '--no-tls', '--no-dtls', '--allow-loopback-peers', '--no-cli', '--log-file=stdout', '--simple-log',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  coturn.stdout.setEncoding('utf8').on('data', (c) => (log = (log + c).slice(-20000)));
  coturn.stderr.setEncoding('utf8').on('data', (c) => (log = (log + c).slice(-20000)));
  coturn.log = () => log;
  await pollUntil('coturn listening', () => /listener opened on|Total (General|UDP)/i.test(log) || null, { timeoutMs: 10000 });
  good.push(`TURN_URLS=turn:${HOST}:${port}?transport=udp`, `TURN_SECRET=${SECRET}`);
  bad.push(`TURN_URLS=turn:${HOST}:${port}?transport=udp`, 'TURN_SECRET=not-the-secret');
});

after(() => {
  if (coturn) coturn.kill('SIGKILL');
});

/** The candidate types of each connection's selected pair, in the page. */
function selectedTypes(page) {
  return page.eval(async () => {
    const out = [];
    for (const p of window.demo.peers.values()) {
      const stats = await p.pc.getStats();
      let pairId = null;
      for (const s of stats.values()) if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      const pair = pairId && stats.get(pairId);
      out.push(pair ? [stats.get(pair.localCandidateId)?.candidateType, stats.get(pair.remoteCandidateId)?.candidateType] : null);
    }
    return out;
  });
}

describe('TURN: a call forced through coturn with the gateway\'s credentials', { skip: SKIP }, () => {
  const g = useCall(good);

  it('two relay-only pages connect, through relay candidates, video decoding', { timeout: 90000 }, async () => {
    const room = uniq('r');
    const a = await g.open(room, uniq('a'), { label: 'A', query: { relay: '1' } });
    const b = await g.open(room, uniq('b'), { label: 'B', query: { relay: '1' } });
    try {
      await Promise.all([a.inCallWith(1, { timeoutMs: 45000 }), b.inCallWith(1, { timeoutMs: 45000 })]);
    } catch (err) {
      err.message += `\n--- coturn ---\n${coturn.log().slice(-3000)}`;
      throw err;
    }
    for (const p of [a, b]) {
      const servers = await p.eval(() => window.demo.iceServers);
      assert.ok(servers.some((s) => s.username && s.credential), `${p.label} got TURN credentials: ${JSON.stringify(servers)}`);
      const types = await selectedTypes(p);
      assert.deepEqual(types, [['relay', 'relay']], `${p.label}'s call goes through TURN`);
    }
  });
});

describe('TURN: credentials made with a wrong secret', { skip: SKIP }, () => {
  const g = useCall(bad);

  it('coturn refuses them (401) and the relay-only call never connects', { timeout: 60000 }, async () => {
    const room = uniq('r');
    const a = await g.open(room, uniq('a'), { label: 'A', query: { relay: '1' } });
    const b = await g.open(room, uniq('b'), { label: 'B', query: { relay: '1' } });
    for (const p of [a, b]) {
      await p.until('a TURN authentication error (401)', () => window.demo.iceErrors.some((e) => e.errorCode === 401), null, 30000);
    }
    for (const p of [a, b]) {
      const states = await p.eval(() => [...window.demo.peers.values()].map((x) => x.pc.connectionState));
      assert.ok(states.every((s) => s !== 'connected'), `${p.label} is not connected: ${states}`);
    }
  });
});
