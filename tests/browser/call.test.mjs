// A real video call between headless Chromium pages through coup-gateway:
// the demo page (/demo) with socket.io-client's browser bundle, a mesh of
// RTCPeerConnections signaled over the contract's video:* events, fake
// camera and microphone. The gateway runs in development mode with the
// CoUp API stand-in, and DEMO left at its default (auto: on in
// development).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useCall, uniq, roomChildPid, pollUntil, GATEWAY } from './lib/call.mjs';
import { startProxy } from '../e2e/lib/cut-proxy.mjs';

const SKIP = GATEWAY ? false : 'COUP_GATEWAY is not set (run through tests/run-node-test)';

describe('demo page: a video call in headless Chromium', { skip: SKIP }, () => {
  const g = useCall();

  it('two pages join one room: both connections reach connected and each remote <video> decodes frames', async () => {
    const room = uniq('r');
    const a = await g.open(room, uniq('alice'), { label: 'A' });
    const b = await g.open(room, uniq('bob'), { label: 'B' });
    const [va, vb] = await Promise.all([a.inCallWith(1), b.inCallWith(1)]);
    const [ida, idb] = [await a.selfId, await b.selfId];
    assert.equal(va[0].socketId, idb, 'A sees B');
    assert.equal(vb[0].socketId, ida, 'B sees A');
    for (const v of [...va, ...vb]) {
      assert.ok(v.videoWidth >= 160 && v.videoHeight >= 120, `decoded size ${v.videoWidth}x${v.videoHeight}`);
    }
    // Audio flows too: the inbound audio RTP stream gets packets.
    for (const p of [a, b]) {
      await p.until(
        'inbound audio packets on the connection',
        async () => {
          for (const peer of window.demo.peers.values()) {
            const stats = await peer.pc.getStats();
            for (const s of stats.values()) if (s.type === 'inbound-rtp' && s.kind === 'audio' && s.packetsReceived > 10) return true;
          }
          return false;
        },
      );
    }
    // The page's own origin may open the WebSocket (ALLOWED_ORIGINS does
    // not list it): the transport is a WebSocket, not long-polling.
    for (const p of [a, b]) {
      assert.equal(await p.eval(() => window.demo.socket.io.engine.transport.name), 'websocket', `${p.label}: transport`);
    }
    const files = [await a.screenshot('two-party-a.png'), await b.screenshot('two-party-b.png')];
    process.stderr.write(`screenshots: ${files.join(' ')}\n`);
  });

  it('a third page joins: a full mesh of three connects', async () => {
    const room = uniq('r');
    const pages = [];
    for (const who of ['A', 'B', 'C']) pages.push(await g.open(room, uniq(who.toLowerCase()), { label: who }));
    const seen = await Promise.all(pages.map((p) => p.inCallWith(2)));
    const ids = await Promise.all(pages.map((p) => p.selfId));
    seen.forEach((v, i) => {
      const others = ids.filter((_, j) => j !== i).sort();
      assert.deepEqual(v.map((r) => r.socketId).sort(), others, `${pages[i].label} is connected to both others`);
    });
    await pages[2].screenshot('three-party-c.png');
  });

  it('mute and camera-off on one page show on the others; chat arrives; a page that closes leaves the others\' lists', async () => {
    const room = uniq('r');
    const a = await g.open(room, uniq('a'), { label: 'A' });
    const b = await g.open(room, uniq('b'), { label: 'B' });
    const c = await g.open(room, uniq('c'), { label: 'C' });
    await Promise.all([a.inCallWith(2), b.inCallWith(2), c.inCallWith(2)]);
    const ida = await a.selfId;

    // Speaking: A's microphone level (the fake device beeps) reaches the
    // others as video:user-speaking and lights A up in their lists.
    for (const p of [b, c]) {
      await p.until('video:user-speaking about A', () => (window.demo.seen['video:user-speaking'] || 0) > 0);
    }

    await a.page.click('#mute');
    await a.page.click('#camera');
    for (const p of [b, c]) {
      await p.until(
        'A listed as muted with the camera off',
        (id) => {
          const li = document.querySelector(`#participants li[data-socket-id="${id}"]`);
          const tile = document.querySelector(`.tile.remote[data-socket-id="${id}"]`);
          return li && li.dataset.muted === 'true' && li.dataset.videoOff === 'true' && /muted/.test(li.textContent) && tile && tile.classList.contains('video-off');
        },
        ida,
      );
    }
    // A's own tracks are off: nothing of them is sent as sound or picture.
    assert.deepEqual(
      await a.eval(() => window.demo.local.getTracks().map((t) => [t.kind, t.enabled]).sort()),
      [['audio', false], ['video', false]],
    );
    await a.page.click('#mute');
    await b.until(
      'A listed as unmuted again',
      (id) => document.querySelector(`#participants li[data-socket-id="${id}"]`)?.dataset.muted === 'false',
      ida,
    );

    const text = `hello from A, 안녕 ${uniq('m')}`;
    await a.page.fill('#chat-input', text);
    await a.page.click('#chat-form button');
    for (const p of [a, b, c]) {
      await p.until('the chat message in the log', (t) => document.getElementById('chat-log').textContent.includes(t), text);
    }

    const idc = await c.selfId;
    await c.close();
    for (const p of [a, b]) {
      await p.until(
        'C gone from the participant list and its video gone',
        (id) => !document.querySelector(`#participants li[data-socket-id="${id}"]`) && !document.querySelector(`.tile.remote[data-socket-id="${id}"]`) && window.demo.peers.size === 1,
        idc,
      );
    }
    // The two who stay still see each other.
    await Promise.all([a.inCallWith(1, { what: 'after C left' }), b.inCallWith(1, { what: 'after C left' })]);
  });

  it('screen sharing: the others are told, and receive the screen instead of the camera, then the camera again', async () => {
    const room = uniq('r');
    const a = await g.open(room, uniq('a'), { label: 'A' });
    const b = await g.open(room, uniq('b'), { label: 'B' });
    const [camera] = await b.inCallWith(1);
    const ida = await a.selfId;
    await a.page.click('#share');
    await b.until(
      'A listed as sharing, and A\'s picture changing size (the screen)',
      ([id, w, h]) => {
        const li = document.querySelector(`#participants li[data-socket-id="${id}"]`);
        const [v] = window.demo.remoteVideos();
        return li?.dataset.sharing === 'true' && /sharing screen/.test(li.textContent) && v && v.videoWidth > 0 && (v.videoWidth !== w || v.videoHeight !== h);
      },
      [ida, camera.videoWidth, camera.videoHeight],
    );
    assert.ok((await b.eval(() => window.demo.seen['video:screen-share-started'])) >= 1, 'video:screen-share-started arrived');
    await b.inCallWith(1, { what: 'while A shares' });
    await a.page.click('#share');
    await b.until(
      'A no longer sharing, and A\'s camera back',
      ([id, w, h]) => {
        const li = document.querySelector(`#participants li[data-socket-id="${id}"]`);
        const [v] = window.demo.remoteVideos();
        return li?.dataset.sharing === 'false' && v && v.videoWidth === w && v.videoHeight === h;
      },
      [ida, camera.videoWidth, camera.videoHeight],
    );
  });

  it('the call keeps working, media and signaling, after the room\'s coup-roomd is killed with kill -9', async () => {
    const room = uniq('r');
    const roomName = `video:study-${room}-main`;
    const a = await g.open(room, uniq('a'), { label: 'A' });
    const b = await g.open(room, uniq('b'), { label: 'B' });
    await Promise.all([a.inCallWith(1), b.inCallWith(1)]);
    const gwPid = g.server.proc.pid;
    const old = await pollUntil(`the coup-roomd child for ${roomName}`, () => roomChildPid(gwPid, roomName));
    process.kill(old, 'SIGKILL');
    const fresh = await pollUntil(`a new coup-roomd child for ${roomName}`, () => {
      const p = roomChildPid(gwPid, roomName);
      return p && p !== old ? p : null;
    });
    assert.notEqual(fresh, old);

    // Media: the peer-to-peer streams never depended on the room process.
    await Promise.all([a.inCallWith(1, { what: 'after kill -9' }), b.inCallWith(1, { what: 'after kill -9' })]);
    // Signaling: status events and chat go through the new room process...
    const ida = await a.selfId;
    await a.page.click('#mute');
    await b.until('A muted, after the restart', (id) => document.querySelector(`#participants li[data-socket-id="${id}"]`)?.dataset.muted === 'true', ida);
    const text = `after the restart ${uniq('m')}`;
    await b.eval((t) => window.demo.sendChat(t), text);
    await a.until('B\'s chat after the restart', (t) => document.getElementById('chat-log').textContent.includes(t), text);
    // ...and a newcomer is signaled to both: the mesh grows to three.
    const c = await g.open(room, uniq('c'), { label: 'C' });
    await Promise.all([a.inCallWith(2, { what: 'C joined after the restart' }), b.inCallWith(2, { what: 'C joined after the restart' }), c.inCallWith(2)]);
    const cp = await c.participants();
    const muted = cp.find((p) => p.socketId === ida);
    assert.ok(muted && muted.muted, `C learns from room-state that A is muted (stored by the new room process): ${JSON.stringify(cp)}`);
    assert.equal(roomChildPid(gwPid, roomName), fresh, 'the new room process still serves the room');
  });

  it('speaking as the CoUp app does, on every animation frame: never refused, the others get the changes only', { timeout: 90000 }, async () => {
    const room = uniq('r');
    const q = { speaking: 'frame' };
    const a = await g.open(room, uniq('a'), { label: 'A', query: q });
    const b = await g.open(room, uniq('b'), { label: 'B', query: q });
    await Promise.all([a.inCallWith(1), b.inCallWith(1)]);
    // The fake microphone beeps: A's frames say speaking on and off.
    await a.until('A sends 150 video:speaking, a frame each while its microphone beeps', () => (window.demo.speakingSent || 0) >= 150, null, 60000);
    const [sent, changes] = await a.eval(() => [window.demo.speakingSent, window.demo.speakingChanges]);
    await b.until('B told of every change A made', (n) => (window.demo.seen['video:user-speaking'] || 0) >= n, changes);
    const heard = await b.eval(() => window.demo.seen['video:user-speaking'] || 0);
    assert.ok(heard <= changes + 1, `B got the changes (${heard} for ${changes}), not every frame (${sent})`);
    assert.ok(sent > 3 * changes, `A spoke at the frame rate: ${sent} events for ${changes} changes`);
    for (const p of [a, b]) {
      assert.equal(await p.eval(() => window.demo.seen.error || 0), 0, `${p.label} got no error event`);
      assert.equal(await p.eval(() => window.demo.socket.connected), true, `${p.label} is connected`);
    }
    process.stderr.write(`speaking at the frame rate: A sent ${sent}, B was told ${heard} times\n`);
  });
});

describe('demo page: a network blip in the middle of a call', { skip: SKIP }, () => {
  const g = useCall(['RECOVERY_WINDOW_MS=30000']);

  it('one page\'s WebSocket cut without a close frame: it comes back with its session, both pages stay connected, their participant lists unchanged, the peer never sees it leave', async () => {
    const proxy = await startProxy(new URL(g.url).port);
    try {
      const room = uniq('r');
      const a = await g.open(room, uniq('a'), { label: 'A' });
      // B's page is served through the proxy: its socket goes through it.
      const b = await g.open(room, uniq('b'), { label: 'B', base: proxy.url });
      await Promise.all([a.inCallWith(1), b.inCallWith(1)]);
      const [ida, idb] = [await a.selfId, await b.selfId];
      // Who is listed, and their flags (not the speaking light: the fake
      // microphone beeps on and off).
      const list = async (p) => (await p.participants()).map(({ socketId, self, muted, videoOff }) => ({ socketId, self, muted, videoOff }));
      const [la, lb] = [await list(a), await list(b)];
      const joinsSeen = await a.eval(() => window.demo.seen['video:user-joined'] || 0);
      assert.equal(await b.eval(() => window.demo.socket.io.engine.transport.name), 'websocket', 'B is on a WebSocket');

      proxy.cut();
      await b.until('B reconnected with its session', () => window.demo.recoveries >= 1 && window.demo.socket.connected);
      assert.equal(await b.eval(() => window.demo.socket.id), idb, 'the same socket id');
      assert.equal(await b.eval(() => window.demo.socket.recovered), true, 'socket.recovered');

      // The call never stopped: both connections stay connected, video decoding.
      await Promise.all([a.inCallWith(1, { what: 'after the blip' }), b.inCallWith(1, { what: 'after the blip' })]);
      assert.deepEqual(await list(a), la, "A's participant list unchanged");
      assert.deepEqual(await list(b), lb, "B's participant list unchanged");
      assert.equal(await a.eval(() => window.demo.seen['video:user-left'] || 0), 0, 'A never saw B leave');
      assert.equal(await a.eval(() => window.demo.seen['video:user-joined'] || 0), joinsSeen, 'A never saw B join again');
      for (const p of [a, b]) assert.equal(await p.eval(() => window.demo.seen.error || 0), 0, `${p.label} got no error event`);

      // Signaling goes on both ways through the recovered session.
      await a.page.click('#mute');
      await b.until('A muted, seen by B after the blip', (id) => document.querySelector(`#participants li[data-socket-id="${id}"]`)?.dataset.muted === 'true', ida);
      await b.page.click('#mute');
      await a.until('B muted, seen by A after the blip', (id) => document.querySelector(`#participants li[data-socket-id="${id}"]`)?.dataset.muted === 'true', idb);
    } finally {
      await proxy.close();
    }
  });
});
