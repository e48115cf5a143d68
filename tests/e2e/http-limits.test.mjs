// The HTTP server under attack, over raw TCP on loopback: requests that
// never finish (a long-polling POST whose body never comes, headers or a
// body sent a byte at a time), a gateway out of descriptors, and WebSocket
// upgrades with Origins of any length. What must hold each time: the
// connections an attacker opens end when they should (with their session,
// or after HTTP_TIMEOUT_MS, not before), the clients already there keep
// chatting, and the gateway neither spins nor floods its log.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { skipReason } from './lib/server.mjs';
import { withTimeout, delay } from './lib/wait.mjs';
import { decodePayload } from './lib/eio-polling.mjs';
import { openWs } from './lib/raw-ws.mjs';
import { uniq, useGateway } from './lib/coup.mjs';

const SKIP = skipReason('COUP_GATEWAY');
const PRLIMIT = '/usr/bin/prlimit';
const GOOD = 'http://good.example';

// ---------------------------------------------------------------------------
// raw connections

/**
 * A raw TCP connection to the server that records what it gets and when it
 * ends. `closed` resolves with the milliseconds from the connect to the
 * close; `byServer` says the server ended it (we never destroyed it).
 */
function rawConnect(port, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const c = { sock, data: '', t0: 0, closedAt: null, byServer: false, error: null };
    c.closed = new Promise((res) => {
      sock.once('close', () => {
        c.closedAt = Date.now();
        res(c.closedAt - c.t0);
      });
    });
    sock.on('data', (d) => {
      c.data += d.toString('latin1');
    });
    sock.on('end', () => {
      c.byServer = true;
    });
    sock.on('error', (err) => {
      c.error = err;
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') c.byServer = true;
    });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TCP connect to 127.0.0.1:${port} not done within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      c.t0 = Date.now();
      resolve(c);
    });
    sock.once('error', (err) => {
      if (c.t0 === 0) {
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}

/** Wait for the server to close `c`, at most `ms`; resolves with its age then. */
function closedWithin(c, ms, what) {
  return withTimeout(c.closed, ms, what);
}

/** Write `text` a byte every `everyMs` until the connection closes or `text` is out. */
function trickle(c, text, everyMs) {
  let i = 0;
  const timer = setInterval(() => {
    if (c.closedAt !== null || i >= text.length) {
      clearInterval(timer);
      return;
    }
    c.sock.write(text[i++]);
  }, everyMs);
  c.closed.then(() => clearInterval(timer));
  return timer;
}

/** One HTTP/1.1 request on a connection of its own; resolves with { status, headers, body }. */
async function rawRequest(port, head, { body = '', timeoutMs = 5000 } = {}) {
  const c = await rawConnect(port, { timeoutMs });
  c.sock.write(head + body);
  try {
    await withTimeout(c.closed, timeoutMs, `the answer to ${head.split('\r\n')[0]}`);
  } finally {
    c.sock.destroy();
  }
  return parseAnswer(c.data);
}

function parseAnswer(text) {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: m ? Number(m[1]) : null, headers, body: end < 0 ? '' : text.slice(end + 4), raw: text };
}

/** A polling handshake on /socket.io/ (Connection: close); returns the sid. */
async function pollingSid(port) {
  const res = await rawRequest(port, `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
  assert.equal(res.status, 200, `polling handshake: ${JSON.stringify(res.raw.slice(0, 200))}`);
  const [open] = decodePayload(res.body);
  assert.equal(open?.type, 'open', `polling handshake body: ${JSON.stringify(res.body)}`);
  return JSON.parse(open.data).sid;
}

function postHead(port, sid, length) {
  return (
    `POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\n` +
    `Host: 127.0.0.1:${port}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: ${length}\r\n\r\n`
  );
}

/** A WebSocket upgrade request for a new Engine.IO session on /socket.io/. */
function upgradeHead(port, extra = '') {
  return (
    `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
    `Sec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/** The status line's code of the server's answer to an upgrade (null: closed unanswered). */
async function upgradeStatus(port, extra) {
  const c = await rawConnect(port);
  try {
    c.sock.write(upgradeHead(port, extra));
    await withTimeout(
      new Promise((resolve) => {
        const check = () => (c.data.includes('\r\n\r\n') || c.closedAt !== null ? resolve() : null);
        c.sock.on('data', check);
        c.closed.then(resolve);
        check();
      }),
      5000,
      'the answer to a WebSocket upgrade',
    );
  } finally {
    c.sock.destroy();
  }
  return parseAnswer(c.data).status;
}

// ---------------------------------------------------------------------------
// two users who keep chatting meanwhile

async function chattingPair(g) {
  const studyId = uniq('s');
  const roomId = `study-${studyId}-main`;
  const [a, b] = [await g.peer('A'), await g.peer('B')];
  for (const p of [a, b]) {
    p.emit('video:join-room', { studyId, roomId });
    await p.next('video:room-state', { what: `video:room-state after joining ${roomId}` });
  }
  let n = 0;
  /** A message each way, each seen by the other. */
  const exchange = async (timeoutMs = 5000) => {
    for (const [from, to] of [[a, b], [b, a]]) {
      const message = `hello ${++n} from ${from.label}`;
      from.emit('chat:video-message', { roomId, message });
      await to.next('chat:video-message-received', { filter: (m) => m && m.message === message, timeoutMs, what: `"${message}"` });
    }
  };
  await exchange();
  return { a, b, exchange };
}

/** Keep the pair chatting until `until` settles; resolves with the exchanges done. */
async function chatWhile(pair, until) {
  let done = false;
  until.then(
    () => (done = true),
    () => (done = true),
  );
  let exchanges = 0;
  while (!done && exchanges < 200) {
    await pair.exchange();
    exchanges++;
    await delay(100);
  }
  return exchanges;
}

// ---------------------------------------------------------------------------

describe('HTTP limits', { skip: SKIP }, () => {
  describe('a POST whose body never comes ends with its session', () => {
    // HTTP_TIMEOUT_MS far away: only the session's end may close the POST.
    const g = useGateway(['HTTP_TIMEOUT_MS=60000', 'PING_INTERVAL_MS=1000', 'PING_TIMEOUT_MS=500']);

    it('closed by the client: its close packet over the upgraded WebSocket closes the parked POST at once', async () => {
      const port = g.server.port;
      const sid = await pollingSid(port);
      const post = await rawConnect(port);
      post.sock.write(postHead(port, sid, 100)); // and no body
      // The POST is parked once the server has its headers: a poll then
      // still works, which a server that had not read them cannot tell us,
      // so give it the time of a round trip on loopback.
      await delay(200);
      const ws = await openWs(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&sid=${sid}`, { autoPong: true });
      try {
        ws.send('2probe');
        assert.equal(await ws.nextText({ what: '3probe' }), '3probe');
        ws.send('5');
        await delay(100);
        assert.equal(post.closedAt, null, 'the POST is still open while its session lives');
        const t = Date.now();
        ws.send('1'); // the client's close packet
        await closedWithin(post, 2000, "the parked POST's connection to close with its session");
        const latency = post.closedAt - t;
        process.stderr.write(`# parked POST closed ${latency} ms after the close packet\n`);
        assert.ok(latency < 2000, `closed ${latency} ms after the session`);
        assert.ok(post.byServer, 'the server closed it');
        assert.equal(parseAnswer(post.data).status ?? null, null, `no answer for a POST nobody reads: ${JSON.stringify(post.data.slice(0, 80))}`);
      } finally {
        ws.close();
        post.sock.destroy();
      }
    });

    it('closed by the heartbeat: a polling session that stops answering pings takes its parked POST along', async () => {
      const port = g.server.port;
      const sid = await pollingSid(port);
      const post = await rawConnect(port);
      const t = Date.now();
      post.sock.write(postHead(port, sid, 100));
      try {
        // PING_INTERVAL_MS + PING_TIMEOUT_MS = 1.5 s; HTTP_TIMEOUT_MS = 60 s.
        await closedWithin(post, 6000, 'the parked POST to close with its timed-out session');
        const age = post.closedAt - t;
        process.stderr.write(`# parked POST closed ${age} ms after it was sent (ping timeout after 1500 ms)\n`);
        assert.ok(age >= 1400, `not before the session timed out (${age} ms)`);
        assert.ok(post.byServer, 'the server closed it');
      } finally {
        post.sock.destroy();
      }
    });

    it('an overlapping POST closes the session and the first POST with it', async () => {
      const port = g.server.port;
      const sid = await pollingSid(port);
      const first = await rawConnect(port);
      first.sock.write(postHead(port, sid, 100));
      await delay(200);
      try {
        const res = await rawRequest(port, postHead(port, sid, 1), { body: '6' });
        assert.equal(res.status, 400, `the second POST is refused: ${JSON.stringify(res.raw.slice(0, 120))}`);
        await closedWithin(first, 2000, 'the first POST to close with the session');
        assert.ok(first.byServer, 'the server closed it');
      } finally {
        first.sock.destroy();
      }
    });
  });

  describe('a request has HTTP_TIMEOUT_MS to arrive', () => {
    const TIMEOUT = 1500;
    const g = useGateway([`HTTP_TIMEOUT_MS=${TIMEOUT}`]);

    it('trickled headers, half a header, a trickled or missing body and silence are all closed after HTTP_TIMEOUT_MS, not before; two users chat meanwhile', { timeout: 30000 }, async () => {
      const port = g.server.port;
      const pair = await chattingPair(g);
      const sid = await pollingSid(port);
      const pad = 'x'.repeat(400);
      const cases = [
        ['headers a byte every 50 ms', async (c) => trickle(c, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${pad}\r\n\r\n`, 50)],
        ['half a header, then nothing', async (c) => c.sock.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: xx')],
        ['a WebSocket upgrade a byte every 50 ms', async (c) => trickle(c, upgradeHead(port, `X-Pad: ${pad}\r\n`), 50)],
        ['a body a byte every 50 ms on a live session', async (c) => {
          c.sock.write(postHead(port, sid, 1000));
          trickle(c, '4'.repeat(1000), 50);
        }],
        ['a body that never comes, unknown sid', async (c) => c.sock.write(postHead(port, 'AAAAAAAAAAAAAAAAAAAA', 10))],
        ['nothing at all', async () => {}],
      ];
      const conns = [];
      for (const [what, start] of cases) {
        const c = await rawConnect(port);
        c.what = what;
        await start(c);
        conns.push(c);
      }
      const all = Promise.all(conns.map((c) => closedWithin(c, TIMEOUT + 4000, `${c.what}: closed by the server`)));
      const exchanges = await chatWhile(pair, all);
      const ages = await all;
      try {
        for (const [i, c] of conns.entries()) {
          process.stderr.write(`# ${c.what}: closed after ${ages[i]} ms (HTTP_TIMEOUT_MS=${TIMEOUT})\n`);
          assert.ok(ages[i] >= TIMEOUT - 100, `${c.what}: not before HTTP_TIMEOUT_MS (${ages[i]} ms)`);
          assert.ok(ages[i] <= TIMEOUT + 2500, `${c.what}: soon after HTTP_TIMEOUT_MS (${ages[i]} ms)`);
          assert.ok(c.byServer, `${c.what}: the server closed it`);
        }
        assert.ok(exchanges >= 2, `the two users chatted meanwhile (${exchanges} exchanges)`);
        await pair.exchange();
      } finally {
        for (const c of conns) c.sock.destroy();
      }
    });

    it('a request that arrives in time is served, and so is the next one on its connection', async () => {
      const port = g.server.port;
      const c = await rawConnect(port);
      try {
        const req = `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`;
        trickle(c, req, 20); // well within HTTP_TIMEOUT_MS
        await withTimeout(
          new Promise((resolve) => {
            const check = () => (/\r\n\r\n[\s\S]*"status":"ok"/.test(c.data) ? resolve() : null);
            c.sock.on('data', check);
          }),
          TIMEOUT + 3000,
          'the answer to a slow but timely request',
        );
        assert.equal(parseAnswer(c.data).status, 200);
        assert.equal(c.closedAt, null, 'kept alive');
        c.data = '';
        await delay(TIMEOUT / 2);
        c.sock.write(req);
        await withTimeout(
          new Promise((resolve) => {
            const check = () => (/"status":"ok"/.test(c.data) ? resolve() : null);
            c.sock.on('data', check);
            check();
          }),
          3000,
          'the answer to the next request on the connection',
        );
        // Idle again: closed once HTTP_TIMEOUT_MS has passed since that answer.
        const t = Date.now();
        await closedWithin(c, TIMEOUT + 3000, 'the idle connection to be closed');
        assert.ok(Date.now() - t >= TIMEOUT - 100, `idle for HTTP_TIMEOUT_MS first (${Date.now() - t} ms)`);
      } finally {
        c.sock.destroy();
      }
    });
  });

  const noPrlimit = !existsSync(PRLIMIT) && `${PRLIMIT} is missing (util-linux)`;
  describe('out of descriptors', { skip: noPrlimit }, () => {
    const NOFILE = 96;
    // HTTP_TIMEOUT_MS is a minute: the connections that fill the table stay.
    const g = useGateway(['ROOM_SPARES=0', 'HTTP_TIMEOUT_MS=60000'], {
      name: `coup-gateway (nofile ${NOFILE})`,
      wrap: [PRLIMIT, `--nofile=${NOFILE}:${NOFILE}`, '--'],
    });

    /** The gateway's CPU time so far, in ms (utime + stime of /proc/PID/stat). */
    function cpuMs() {
      const stat = readFileSync(`/proc/${g.server.proc.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // fields 14, 15; USER_HZ 100
    }

    it('the clients it has keep chatting, new ones are turned away at once, no spinning, one log line, /health again once some leave', { timeout: 45000 }, async () => {
      const port = g.server.port;
      const lines = [];
      g.server.proc.stderr.on('data', (d) => {
        for (const l of d.toString().split('\n')) if (l) lines.push({ at: Date.now(), line: l });
      });
      const runDir = g.server.args.find((a) => a.startsWith('RUN_DIR=')).slice('RUN_DIR='.length);
      const pair = await chattingPair(g);

      // Fill the descriptor table: connections the gateway takes and holds
      // (they send nothing; HTTP_TIMEOUT_MS is a minute), until it turns one
      // away by closing it as soon as it is accepted.
      const held = [];
      let refusedAt = null;
      const start = Date.now();
      for (let batch = 0; batch < 40 && refusedAt === null; batch++) {
        const fresh = await Promise.all(Array.from({ length: 8 }, () => rawConnect(port)));
        held.push(...fresh);
        await Promise.race([Promise.any(fresh.map((c) => c.closed)), delay(300)]);
        if (held.some((c) => c.closedAt !== null)) refusedAt = Date.now();
      }
      const refusedConns = held.filter((c) => c.closedAt !== null);
      const open = held.filter((c) => c.closedAt === null);
      process.stderr.write(`# ${open.length} connections held, ${refusedConns.length} turned away after ${Date.now() - start} ms\n`);
      try {
        assert.ok(refusedAt !== null, `a connection was turned away (closed at once) within ${held.length} connections; the gateway left them all waiting`);
        for (const c of refusedConns) {
          assert.ok(c.byServer, 'the server closed it');
          assert.ok(c.closedAt - c.t0 < 1000, `turned away at once (after ${c.closedAt - c.t0} ms)`);
        }
        const linesBefore = lines.length;

        // Keep knocking for a while, ~20 connections every 100 ms: the
        // backlog never empties for long, and the gateway must neither spin
        // nor log each one.
        let knocking = true;
        const knocked = [];
        const knocker = (async () => {
          for (let i = 0; knocking && i < 60; i++) {
            const fresh = await Promise.all(Array.from({ length: 20 }, () => rawConnect(port).catch(() => null)));
            for (const c of fresh) if (c) knocked.push(c);
            await delay(100);
          }
        })();
        // And an admin's coupctl knocks on the control socket, which
        // cannot accept it either.
        const ctl = net.connect(path.join(runDir, 'coup-gateway.sock'));
        ctl.on('error', () => {});
        await delay(500);
        const cpu0 = cpuMs();
        const t0 = Date.now();
        await pair.exchange();
        await delay(Math.max(0, 2000 - (Date.now() - t0)));
        const cpu = cpuMs() - cpu0;
        const wall = Date.now() - t0;
        await pair.exchange();
        await delay(2000);
        knocking = false;
        await knocker;
        ctl.destroy();
        await Promise.all(knocked.map((c) => withTimeout(c.closed, 5000, 'a knocking connection to be turned away').catch(() => null)));
        const turnedAway = knocked.filter((c) => c.closedAt !== null && c.byServer).length;
        const newLines = lines.slice(linesBefore).map((l) => l.line);
        const about = lines.filter((l) => /accept|turn|descriptor|connection/i.test(l.line) && l.at >= start).map((l) => l.line);
        process.stderr.write(`# gateway CPU ${cpu} ms over ${wall} ms while connections kept coming; ${turnedAway} of ${knocked.length} turned away; ${newLines.length} log lines meanwhile, ${about.length} about connections\n`);
        assert.ok(cpu < 500, `the gateway does not spin: ${cpu} ms of CPU in ${wall} ms`);
        assert.ok(about.length <= 3, `at most a few log lines about refused connections, not one each:\n${about.slice(0, 10).join('\n')}`);
        assert.ok(newLines.length <= 5, `a quiet log:\n${newLines.slice(0, 10).join('\n')}`);
        assert.ok(turnedAway >= knocked.length * 0.9, `the knocking connections were turned away (${turnedAway} of ${knocked.length})`);

        // Some clients leave: new ones are served again.
        for (const c of open.splice(0, 10)) c.sock.destroy();
        let health = null;
        for (let i = 0; i < 20 && health?.status !== 200; i++) {
          health = await rawRequest(port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`).catch((err) => ({ status: null, raw: err.message }));
          if (health.status !== 200) await delay(250);
        }
        assert.equal(health.status, 200, `GET /health once descriptors are free: ${JSON.stringify(health.raw?.slice(0, 200))}`);
        await pair.exchange();
      } finally {
        for (const c of held) c.sock.destroy();
      }
    });
  });

  describe('the WebSocket Origin check holds for an Origin of any length', () => {
    // A quick heartbeat: a parked poll is answered (with a ping) within 1 s.
    const g = useGateway([`ALLOWED_ORIGINS=${GOOD}`, 'PING_INTERVAL_MS=1000']);
    const long = (n) => `http://${'a'.repeat(n - 'http://'.length - '.example'.length)}.example`;

    for (const n of [300, 600, 5000]) {
      it(`an Origin of ${n} bytes that is not allowed gets 403`, async () => {
        assert.equal(long(n).length, n);
        assert.equal(await upgradeStatus(g.server.port, `Origin: ${long(n)}\r\n`), 403);
      });
    }

    it('an allowed Origin still upgrades, and so does a request with no Origin', async () => {
      assert.equal(await upgradeStatus(g.server.port, `Origin: ${GOOD}\r\n`), 101);
      assert.equal(await upgradeStatus(g.server.port, ''), 101);
    });

    it('an allowed Origin followed by 5 KB of cookies still upgrades', async () => {
      assert.equal(await upgradeStatus(g.server.port, `Origin: ${GOOD}\r\nCookie: session=${'c'.repeat(5000)}\r\n`), 101);
    });

    it('an over-long Origin gets no CORS headers', async () => {
      const port = g.server.port;
      for (const origin of [long(300), long(5000)]) {
        const res = await rawRequest(port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\nConnection: close\r\n\r\n`);
        assert.equal(res.status, 200);
        assert.equal(res.headers['access-control-allow-origin'], undefined, `no Access-Control-Allow-Origin for ${origin.length} bytes`);
      }
      const ok = await rawRequest(port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${GOOD}\r\nConnection: close\r\n\r\n`);
      assert.equal(ok.headers['access-control-allow-origin'], GOOD);
    });

    it('a query argument longer than any buffer does not hide the ones after it', async () => {
      const port = g.server.port;
      const sid = await pollingSid(port);
      // An upgrade of an unknown sid is refused; one that read the sid as
      // absent would open a new session instead.
      const pad = 'p'.repeat(2000);
      const c = await rawConnect(port);
      try {
        c.sock.write(
          `GET /socket.io/?EIO=4&transport=websocket&pad=${pad}&sid=${sid.replace(/./, (ch) => (ch === 'A' ? 'B' : 'A'))} HTTP/1.1\r\n` +
            `Host: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
        await withTimeout(
          new Promise((resolve) => {
            const check = () => (c.data.includes('\r\n\r\n') ? resolve() : null);
            c.sock.on('data', check);
            c.closed.then(resolve);
          }),
          5000,
          'the answer to the upgrade',
        );
        assert.equal(parseAnswer(c.data).status, 400, `an unknown sid is refused: ${JSON.stringify(c.data.slice(0, 100))}`);
      } finally {
        c.sock.destroy();
      }
      // And a polling GET of a known sid behind a long argument is that session's poll.
      const res = await rawRequest(port, `GET /socket.io/?EIO=4&transport=polling&pad=${pad}&sid=${sid} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`, { timeoutMs: 5000 });
      assert.equal(res.status, 200, `the poll of ${sid}: ${JSON.stringify(res.raw.slice(0, 200))}`);
      assert.ok(!res.body.startsWith('0'), `not a new session's open packet: ${JSON.stringify(res.body.slice(0, 100))}`);
    });
  });
});
