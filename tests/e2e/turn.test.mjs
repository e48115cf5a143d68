// TURN credentials (TURN_URLS, TURN_SECRET or TURN_SECRET_FILE, TURN_TTL):
// coturn's REST API scheme, username "<expiry>:<userId>", password
// base64(HMAC-SHA1(secret, username)), checked here with Node's own
// crypto. The caller's video:room-state carries iceServers, and
// video:get-ice-servers (ack) gives fresh ones; the secret is never shown.
// tests/browser/turn.test.mjs relays a real call through a real coturn.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { skipReason, binaryFromEnv, runToExit } from './lib/server.mjs';
import { uniq, useGateway } from './lib/coup.mjs';

const SKIP = skipReason('COUP_GATEWAY');
const GATEWAY = binaryFromEnv('COUP_GATEWAY');
const COUPCTL = binaryFromEnv('COUPCTL');
const SECRET = `s3cret-${process.pid}`;
const URLS = 'turn:127.0.0.1:3478, turn:127.0.0.1:3478?transport=tcp,turns:127.0.0.1:5349';
const dir = mkdtempSync(path.join(os.tmpdir(), 'coup-turn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function joinCall(g, label) {
  const p = await g.peer(label);
  const studyId = uniq('s');
  p.emit('video:join-room', { studyId, roomId: `study-${studyId}-main` });
  return { p, state: await p.next('video:room-state', { what: `${label}'s room-state` }) };
}

/** The servers are coturn's REST API credentials for user id, made with secret. */
function assertCredentials(servers, userId, secret, ttl) {
  assert.deepEqual(servers[0], { urls: ['stun:127.0.0.1:3478'] }, 'STUN of the turn: hosts, once each');
  const t = servers[1];
  assert.deepEqual(t.urls, ['turn:127.0.0.1:3478', 'turn:127.0.0.1:3478?transport=tcp', 'turns:127.0.0.1:5349']);
  const [expiry, who] = t.username.split(':');
  assert.equal(who, userId, 'the username names the user');
  const left = Number(expiry) - Date.now() / 1000;
  assert.ok(left > ttl - 30 && left <= ttl + 1, `valid TURN_TTL from now (${left} s left)`);
  assert.equal(t.credential, createHmac('sha1', secret).update(t.username).digest('base64'), 'base64(HMAC-SHA1(secret, username))');
}

describe('TURN credentials', { skip: SKIP }, () => {
  const g = useGateway([`TURN_URLS=${URLS}`, `TURN_SECRET=${SECRET}`, 'TURN_TTL=3600', `RUN_DIR=${dir}`]);

  it("the caller's room-state carries iceServers with its own fresh credentials; the others' do not show them", async () => {
    const a = await joinCall(g, 'A');
    assertCredentials(a.state.iceServers, a.p.userId, SECRET, 3600);
    const studyId = uniq('s');
    const b = await g.peer('B');
    b.emit('video:join-room', { studyId, roomId: `study-${studyId}-main` });
    const sb = await b.next('video:room-state');
    assertCredentials(sb.iceServers, b.userId, SECRET, 3600);
    assert.notEqual(sb.iceServers[1].credential, a.state.iceServers[1].credential, "each user's own");
  });

  it('video:get-ice-servers answers fresh credentials by ack', async () => {
    const { p } = await joinCall(g, 'A');
    const ack = await p.ack('video:get-ice-servers', [{}]);
    assert.equal(ack.ok, true);
    assertCredentials(ack.iceServers, p.userId, SECRET, 3600);
  });

  it('the secret is shown as (set), by coupctl show config and --check-config', { skip: !COUPCTL && 'COUPCTL is not set' }, async () => {
    const r = await runToExit(COUPCTL, ['-s', path.join(dir, 'coup-gateway.sock'), 'show', 'config']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^TURN_SECRET=\(set\)/m);
    assert.ok(!r.stdout.includes(SECRET), 'the secret is not printed');
    const c = await runToExit(GATEWAY, [`TURN_URLS=${URLS}`, `TURN_SECRET=${SECRET}`, '--check-config']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^TURN_SECRET=\(set\)/m);
    assert.ok(!c.stdout.includes(SECRET));
  });
});

describe('TURN_SECRET_FILE', { skip: SKIP }, () => {
  const file = path.join(dir, 'turn-secret');
  writeFileSync(file, `${SECRET}-file\n`, { mode: 0o600 });
  const g = useGateway([`TURN_URLS=${URLS}`, `TURN_SECRET_FILE=${file}`]);

  it("the secret comes from the file's first line", async () => {
    const a = await joinCall(g, 'A');
    assertCredentials(a.state.iceServers, a.p.userId, `${SECRET}-file`, 86400);
  });
});

describe('without TURN', { skip: SKIP }, () => {
  const g = useGateway([]);

  it('room-state has no iceServers, and video:get-ice-servers answers an empty list', async () => {
    const { p, state } = await joinCall(g, 'A');
    assert.equal(state.iceServers, undefined);
    const ack = await p.ack('video:get-ice-servers', [{}]);
    assert.deepEqual(ack, { ok: true, iceServers: [] });
  });
});

describe('TURN settings that cannot work stop the gateway at start, saying why', { skip: SKIP }, () => {
  const cases = [
    [['TURN_URLS=turn:127.0.0.1:3478'], /neither TURN_SECRET nor TURN_SECRET_FILE/],
    [['TURN_URLS=http://127.0.0.1', 'TURN_SECRET=x'], /not a turn: or turns: URL/],
    [['TURN_URLS=turn:127.0.0.1:3478', 'TURN_SECRET=x', `TURN_SECRET_FILE=${path.join(dir, 'nope')}`], /both set/],
    [['TURN_URLS=turn:127.0.0.1:3478', `TURN_SECRET_FILE=${path.join(dir, 'nope')}`], /cannot open/],
    [['TURN_SECRET=x'], /TURN_URLS is not/],
  ];
  for (const [args, why] of cases) {
    it(args.join(' '), async () => {
      const r = await runToExit(GATEWAY, [...args, '--check-config']);
      assert.equal(r.code, 2, `exit 2: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, why);
    });
  }
});
