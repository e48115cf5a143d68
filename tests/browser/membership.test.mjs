// The demo page against a gateway whose membership checks are real: in
// production mode (DEMO=on) with the CoUp API stand-in answering that the
// user is not a member of the study. The page must be refused with the
// contract's NOT_MEMBER (section 5) and never see the room.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useCall, uniq, GATEWAY } from './lib/call.mjs';

const SKIP = GATEWAY ? false : 'COUP_GATEWAY is not set (run through tests/run-node-test)';
const NOT_MEMBER_MSG = '접근 권한이 없습니다.';

describe('demo page: membership of the study (production, DEMO=on)', { skip: SKIP }, () => {
  const g = useCall(['DEMO=on'], { env: 'production' });

  it('a page whose user is not a member is refused with NOT_MEMBER and never sees the room', async () => {
    const room = uniq('s');
    const member = uniq('member');
    const outsider = uniq('outsider');
    g.api.setMembers(room, [member]);

    const a = await g.open(room, member, { label: 'member' });
    await a.until('the member in the room', () => window.demo.phase === 'joined');
    const x = await g.open(room, outsider, { label: 'outsider' });
    const refusal = await x.until('the refusal', () => window.demo.phase === 'refused' && window.demo.refusal);
    assert.equal(refusal.code, 'NOT_MEMBER', `refusal ${JSON.stringify(refusal)}`);
    assert.equal(refusal.message, NOT_MEMBER_MSG);
    const status = await x.eval(() => document.getElementById('status').textContent);
    assert.match(status, /NOT_MEMBER/, 'the page says why');
    assert.ok(status.includes(NOT_MEMBER_MSG), `the page shows the message: ${status}`);

    // The gateway asked the API about the outsider in that study.
    const check = g.api.calls.find((c) => c.path === `/api/studies/${room}/check-member` && c.body?.userId === outsider);
    assert.ok(check, 'check-member was called for the outsider');

    // A barrier on the member's connection: its own chat comes back to it.
    // Anything the room sent about the outsider would have come first.
    const text = `barrier ${uniq('m')}`;
    await a.eval((t) => window.demo.sendChat(t), text);
    await a.until('the member\'s own chat message', (t) => document.getElementById('chat-log').textContent.includes(t), text);

    const xs = await x.eval(() => ({ seen: window.demo.seen, peers: window.demo.peers.size }));
    for (const ev of ['video:room-state', 'video:user-joined', 'video:offer', 'video:answer', 'video:ice-candidate', 'chat:video-message-received']) {
      assert.equal(xs.seen[ev] ?? 0, 0, `the outsider never gets ${ev}: ${JSON.stringify(xs.seen)}`);
    }
    assert.equal(xs.peers, 0, 'the outsider has no peer connection');
    const as = await a.eval(() => ({ seen: window.demo.seen, peers: window.demo.peers.size }));
    assert.equal(as.seen['video:user-joined'] ?? 0, 0, `the member never hears of the outsider: ${JSON.stringify(as.seen)}`);
    assert.equal(as.peers, 0);
    const list = await a.participants();
    assert.equal(list.length, 1, `the member's list holds only the member: ${JSON.stringify(list)}`);
  });

  it('a member of the study gets in and the call connects', async () => {
    const room = uniq('s');
    const [u1, u2] = [uniq('m1'), uniq('m2')];
    g.api.setMembers(room, [u1, u2]);
    const a = await g.open(room, u1, { label: 'A' });
    const b = await g.open(room, u2, { label: 'B' });
    await Promise.all([a.inCallWith(1), b.inCallWith(1)]);
  });
});
