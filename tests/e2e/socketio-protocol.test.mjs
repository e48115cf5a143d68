// Socket.IO v5 on the wire, section by section of
// shared/specs/socket.io-protocol-v5.md, against conformance-server in its
// default mode (Socket.IO on /socket.io/, namespaces "/" and "/custom").
//
// Raw WebSocket and raw polling: each Socket.IO packet is one Engine.IO
// message, so it shows up as a frame (or payload packet) starting with "4".

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startServer } from './lib/server.mjs';
import { handshake, post, receive } from './lib/eio-polling.mjs';
import { eioWs, sioWs } from './lib/raw-ws.mjs';
import {
  CONFORMANCE_SERVER, CONFORMANCE_SKIP, SPEC_ARGS, PING_INTERVAL_MS, PING_TIMEOUT_MS, CONNECT_TIMEOUT_MS, SLACK_MS,
} from './lib/conformance.mjs';

const PATH = '/socket.io/';

// Split an encoded Socket.IO packet (without the Engine.IO "4") into its
// parts, per "Packet encoding / Format":
// <type>[<attachments>-][<nsp>,][<ack id>][JSON]
function parseSio(text) {
  const m = /^(\d)(?:(\d+)-)?(\/[^,]*,)?(\d+)?(.*)$/s.exec(text);
  assert.ok(m, `not a Socket.IO packet: ${JSON.stringify(text)}`);
  return {
    type: Number(m[1]),
    attachments: m[2] === undefined ? 0 : Number(m[2]),
    nsp: m[3] ? m[3].slice(0, -1) : '/',
    id: m[4] === undefined ? undefined : Number(m[4]),
    data: m[5] === '' ? undefined : JSON.parse(m[5]),
  };
}

// The next Socket.IO packet on a raw Engine.IO WebSocket, parsed.
async function nextSio(ws, what) {
  const f = await ws.nextText({ what });
  assert.equal(f[0], '4', `an Engine.IO message, got ${JSON.stringify(f)}`);
  return { raw: f, ...parseSio(f.slice(1)) };
}

const placeholder = (num) => ({ _placeholder: true, num });

describe('Socket.IO v5 protocol', { skip: CONFORMANCE_SKIP }, () => {
  let server;
  let base;

  before(async () => {
    server = await startServer(CONFORMANCE_SERVER, SPEC_ARGS, { name: 'conformance-server' });
    base = server.url;
  });
  after(async () => {
    if (server) await server.stopAndCheck();
  });

  describe('connection to a namespace', () => {
    it('CONNECT to "/" is answered with 40{"sid":...}, then the "auth" event with {}', async () => {
      const { ws, open } = await eioWs(base, { path: PATH, autoPong: true });
      try {
        assert.deepEqual(open.upgrades, []);
        ws.send('40');
        const c = await nextSio(ws, 'the CONNECT answer');
        assert.equal(c.type, 0, `CONNECT expected, got ${c.raw}`);
        assert.equal(c.nsp, '/');
        assert.equal(typeof c.data.sid, 'string');
        assert.ok(c.data.sid.length > 0);
        assert.notEqual(c.data.sid, open.sid, 'the Socket.IO sid is not the Engine.IO sid');
        const e = await nextSio(ws, 'the auth event');
        assert.equal(e.raw, '42["auth",{}]');
      } finally {
        ws.close();
      }
    });

    it('CONNECT to "/" with a payload: the server sees that auth object', async () => {
      const { ws } = await eioWs(base, { path: PATH, autoPong: true });
      try {
        ws.send('40{"token":"123","n":[1,2]}');
        const c = await nextSio(ws, 'the CONNECT answer');
        assert.equal(c.type, 0, c.raw);
        const e = await nextSio(ws, 'the auth event');
        assert.equal(e.type, 2);
        assert.deepEqual(e.data, ['auth', { token: '123', n: [1, 2] }]);
      } finally {
        ws.close();
      }
    });

    it('CONNECT to "/custom" without a payload', async () => {
      const { ws } = await eioWs(base, { path: PATH, autoPong: true });
      try {
        ws.send('40/custom,');
        const c = await nextSio(ws, 'the CONNECT answer');
        assert.equal(c.type, 0, c.raw);
        assert.equal(c.nsp, '/custom');
        assert.equal(typeof c.data.sid, 'string');
        const e = await nextSio(ws, 'the auth event');
        assert.equal(e.raw, '42/custom,["auth",{}]');
      } finally {
        ws.close();
      }
    });

    it('CONNECT to "/custom" with a payload', async () => {
      const { ws } = await eioWs(base, { path: PATH, autoPong: true });
      try {
        ws.send('40/custom,{"token":"abc"}');
        const c = await nextSio(ws, 'the CONNECT answer');
        assert.equal(c.type, 0, c.raw);
        assert.equal(c.nsp, '/custom');
        const e = await nextSio(ws, 'the auth event');
        assert.equal(e.nsp, '/custom');
        assert.deepEqual(e.data, ['auth', { token: 'abc' }]);
      } finally {
        ws.close();
      }
    });

    it('CONNECT to an unknown namespace gets 44/random,{"message":"Invalid namespace"}', async () => {
      const { ws } = await eioWs(base, { path: PATH, autoPong: true });
      try {
        ws.send('40/random,');
        const c = await nextSio(ws, 'the CONNECT_ERROR');
        assert.equal(c.type, 4, c.raw);
        assert.equal(c.nsp, '/random');
        assert.deepEqual(c.data, { message: 'Invalid namespace' });
      } finally {
        ws.close();
      }
    });

    it('CONNECT over polling works the same way', async () => {
      const { sid } = await handshake(base, { path: PATH });
      const p = await post(base, sid, '40', { path: PATH });
      assert.equal(p.status, 200);
      const got = await receive(base, sid, 2, { path: PATH });
      assert.match(got[0].data, /^0\{"sid":"[^"]+"\}$/);
      assert.equal(got[1].data, '2["auth",{}]');
    });

    it('an invalid first packet ("4abc") closes the connection', async () => {
      const { ws } = await eioWs(base, { path: PATH, autoPong: true });
      try {
        ws.send('4abc');
        await ws.waitClosed({ timeoutMs: 3000 });
      } finally {
        ws.close();
      }
    });

    it('a connection that sends no CONNECT is closed after connectTimeout', async () => {
      // The heartbeat is answered (autoPong), so only the missing CONNECT
      // can end it.
      const { ws } = await eioWs(base, { path: PATH, autoPong: true });
      const start = Date.now();
      try {
        await ws.waitClosed({ timeoutMs: CONNECT_TIMEOUT_MS + SLACK_MS * 2, what: 'the close after connectTimeout' });
        const after = Date.now() - start;
        assert.ok(after >= CONNECT_TIMEOUT_MS * 0.8, `closed after ${after} ms, before connectTimeout (${CONNECT_TIMEOUT_MS})`);
      } finally {
        ws.close();
      }
    });
  });

  describe('disconnection from a namespace', () => {
    it('"41" leaves "/" but keeps the Engine.IO session: the next packet is a ping', async () => {
      const { ws } = await sioWs(base, { autoPong: false });
      try {
        assert.equal(await ws.nextText({ what: 'the auth event' }), '42["auth",{}]');
        ws.send('41');
        const f = await ws.nextText({ timeoutMs: PING_INTERVAL_MS + PING_TIMEOUT_MS + SLACK_MS, what: 'a ping' });
        assert.equal(f, '2', 'nothing but a ping after DISCONNECT');
        ws.send('3');
        assert.ok(ws.isOpen, 'the WebSocket is still open');
        // The session is still usable: connect again.
        ws.send('40');
        let c = await ws.nextText({ what: 'the CONNECT answer after reconnecting' });
        if (c === '2') {
          ws.send('3');
          c = await ws.nextText({ what: 'the CONNECT answer after reconnecting' });
        }
        assert.match(c, /^40\{"sid":"[^"]+"\}$/);
      } finally {
        ws.close();
      }
    });

    it('CONNECT then DISCONNECT on "/custom", and "/" keeps working', async () => {
      const { ws } = await sioWs(base);
      try {
        assert.equal(await ws.nextText(), '42["auth",{}]');
        ws.send('40/custom,');
        const c = await nextSio(ws, 'the /custom CONNECT answer');
        assert.equal(c.type, 0);
        assert.equal(c.nsp, '/custom');
        assert.equal(await ws.nextText(), '42/custom,["auth",{}]');
        ws.send('41/custom,');
        ws.send('42["message","still here"]');
        assert.equal(await ws.nextText({ what: 'the echo on "/"' }), '42["message-back","still here"]');
      } finally {
        ws.close();
      }
    });
  });

  describe('sending and receiving data', () => {
    it('EVENT with mixed JSON arguments is echoed', async () => {
      const { ws } = await sioWs(base);
      try {
        assert.equal(await ws.nextText(), '42["auth",{}]');
        const args = [1, '2', { 3: [true, null, 4.5] }, ['x', { y: 'é€🚀' }], false];
        ws.send('42' + JSON.stringify(['message', ...args]));
        const e = await nextSio(ws, 'the echo');
        assert.equal(e.type, 2, e.raw);
        assert.equal(e.nsp, '/');
        assert.equal(e.id, undefined);
        assert.deepEqual(e.data, ['message-back', ...args]);
      } finally {
        ws.close();
      }
    });

    it('EVENT on "/custom" stays on "/custom"', async () => {
      const { ws } = await sioWs(base, { nsp: '/custom' });
      try {
        assert.equal(await ws.nextText(), '42/custom,["auth",{}]');
        ws.send('42/custom,["message","c"]');
        assert.equal(await ws.nextText({ what: 'the echo on /custom' }), '42/custom,["message-back","c"]');
        ws.send('42/custom,7["message-with-ack","d"]');
        assert.equal(await ws.nextText({ what: 'the ack on /custom' }), '43/custom,7["d"]');
      } finally {
        ws.close();
      }
    });

    it('BINARY_EVENT with two attachments is echoed with the same placeholders and bytes', async () => {
      const { ws } = await sioWs(base);
      try {
        assert.equal(await ws.nextText(), '42["auth",{}]');
        const a = Buffer.from([1, 2, 3]);
        const b = Buffer.from([0, 255, 128, 4, 5]);
        ws.send('452-' + JSON.stringify(['message', placeholder(0), { nested: placeholder(1) }]));
        ws.send(a);
        ws.send(b);
        const e = await nextSio(ws, 'the BINARY_EVENT echo');
        assert.equal(e.type, 5, e.raw);
        assert.equal(e.attachments, 2);
        assert.deepEqual(e.data, ['message-back', placeholder(0), { nested: placeholder(1) }]);
        assert.deepEqual([...(await ws.nextBinary())], [...a], 'attachment 0');
        assert.deepEqual([...(await ws.nextBinary())], [...b], 'attachment 1');
      } finally {
        ws.close();
      }
    });

    it('BINARY_EVENT on "/custom" ("452-/custom,[...]") is echoed on "/custom"', async () => {
      const { ws } = await sioWs(base, { nsp: '/custom' });
      try {
        assert.equal(await ws.nextText(), '42/custom,["auth",{}]');
        ws.send('452-/custom,' + JSON.stringify(['message', placeholder(0), placeholder(1)]));
        ws.send(Buffer.from([1, 2]));
        ws.send(Buffer.from([3, 4]));
        const e = await nextSio(ws, 'the BINARY_EVENT echo on /custom');
        assert.equal(e.type, 5, e.raw);
        assert.equal(e.nsp, '/custom');
        assert.equal(e.attachments, 2);
        assert.deepEqual(e.data, ['message-back', placeholder(0), placeholder(1)]);
        assert.deepEqual([...(await ws.nextBinary())], [1, 2]);
        assert.deepEqual([...(await ws.nextBinary())], [3, 4]);
      } finally {
        ws.close();
      }
    });

    it('BINARY_EVENT over polling: attachments travel as "b" base64 packets', async () => {
      const { sid } = await handshake(base, { path: PATH });
      await post(base, sid, '40', { path: PATH });
      const [c, auth] = await receive(base, sid, 2, { path: PATH });
      assert.match(c.data, /^0\{"sid"/);
      assert.equal(auth.data, '2["auth",{}]');
      const bin = Buffer.from([10, 20, 30, 0, 250]);
      const p = await post(base, sid, `451-["message",${JSON.stringify(placeholder(0))}]\x1eb${bin.toString('base64')}`, { path: PATH });
      assert.equal(p.status, 200);
      const [e, att] = await receive(base, sid, 2, { path: PATH });
      assert.equal(e.binary, false);
      assert.deepEqual(parseSio(e.data), { type: 5, attachments: 1, nsp: '/', id: undefined, data: ['message-back', placeholder(0)] });
      assert.equal(att.binary, true, `the attachment is a binary packet: ${JSON.stringify(att)}`);
      assert.deepEqual([...att.data], [...bin]);
    });
  });

  describe('acknowledgement', () => {
    it('EVENT with an ack id ("42456[...]") is answered by ACK "43456[...]"', async () => {
      const { ws } = await sioWs(base);
      try {
        assert.equal(await ws.nextText(), '42["auth",{}]');
        ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
        const a = await nextSio(ws, 'the ACK');
        assert.equal(a.type, 3, a.raw);
        assert.equal(a.id, 456);
        assert.deepEqual(a.data, [1, '2', { 3: [false] }]);
      } finally {
        ws.close();
      }
    });

    it('BINARY_EVENT with an ack id ("452-789[...]") is answered by BINARY_ACK "462-789[...]" and the bytes', async () => {
      const { ws } = await sioWs(base);
      try {
        assert.equal(await ws.nextText(), '42["auth",{}]');
        ws.send('452-789' + JSON.stringify(['message-with-ack', placeholder(0), placeholder(1)]));
        ws.send(Buffer.from([1, 2, 3]));
        ws.send(Buffer.from([4, 5, 6]));
        const a = await nextSio(ws, 'the BINARY_ACK');
        assert.equal(a.type, 6, a.raw);
        assert.equal(a.attachments, 2);
        assert.equal(a.id, 789);
        assert.deepEqual(a.data, [placeholder(0), placeholder(1)]);
        assert.deepEqual([...(await ws.nextBinary())], [1, 2, 3]);
        assert.deepEqual([...(await ws.nextBinary())], [4, 5, 6]);
      } finally {
        ws.close();
      }
    });

    it('an ack requested by the server ("ack-request") is delivered back to it by the client\'s ACK', async () => {
      const { ws } = await sioWs(base);
      try {
        assert.equal(await ws.nextText(), '42["auth",{}]');
        ws.send('42["request-ack","q",1]');
        const req = await nextSio(ws, 'the ack-request event');
        assert.equal(req.type, 2, req.raw);
        assert.equal(typeof req.id, 'number', `the server asks for an ack: ${req.raw}`);
        assert.deepEqual(req.data, ['ack-request', 'q', 1]);
        ws.send(`43${req.id}["answer",{"n":2}]`);
        const res = await nextSio(ws, 'the ack-response event');
        assert.deepEqual(res.data, ['ack-response', 'answer', { n: 2 }]);
      } finally {
        ws.close();
      }
    });
  });

  describe('acknowledgement with binary from the client, and the server\'s DISCONNECT', () => {
    it('a BINARY_ACK from the client ("461-<id>[...]" + bytes) reaches the server', async () => {
      const { ws } = await sioWs(base);
      try {
        assert.equal(await ws.nextText(), '42["auth",{}]');
        ws.send('42["request-ack"]');
        const req = await nextSio(ws, 'the ack-request event');
        assert.equal(typeof req.id, 'number', req.raw);
        ws.send(`461-${req.id}` + JSON.stringify([{ file: placeholder(0) }]));
        ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
        const res = await nextSio(ws, 'the ack-response event');
        assert.equal(res.type, 5, `the values carry binary, so a BINARY_EVENT: ${res.raw}`);
        assert.equal(res.attachments, 1);
        assert.deepEqual(res.data, ['ack-response', { file: placeholder(0) }]);
        assert.deepEqual([...(await ws.nextBinary())], [0xde, 0xad, 0xbe, 0xef]);
      } finally {
        ws.close();
      }
    });

    for (const nsp of ['/', '/custom']) {
      it(`the server disconnecting a socket of "${nsp}" sends DISCONNECT and keeps the Engine.IO session`, async () => {
        const { ws } = await sioWs(base, { nsp });
        const prefix = nsp === '/' ? '' : `${nsp},`;
        try {
          assert.equal(await ws.nextText(), `42${prefix}["auth",{}]`);
          ws.send(`42${prefix}["disconnect-me"]`);
          assert.equal(await ws.nextText({ what: 'the DISCONNECT packet' }), `41${prefix}`);
          // The connection is still there: connect again.
          ws.send(`40${prefix}`);
          const c = await nextSio(ws, 'the CONNECT answer after the server DISCONNECT');
          assert.equal(c.type, 0, c.raw);
          assert.equal(c.nsp, nsp);
        } finally {
          ws.close();
        }
      });
    }
  });

  describe('malformed packets close the connection', () => {
    const cases = [
      ['an unknown packet type', '4abc'],
      ['an EVENT whose payload is not an array', '42{}'],
      ['an EVENT with an invalid ack id', '42abc["message"]'],
      ['an EVENT with an empty array', '42[]'],
    ];
    for (const [name, frame] of cases) {
      it(`${name} (${JSON.stringify(frame)})`, async () => {
        const { ws } = await sioWs(base);
        try {
          assert.equal(await ws.nextText(), '42["auth",{}]');
          ws.send(frame);
          await ws.waitClosed({ timeoutMs: 3000 });
        } finally {
          ws.close();
        }
      });
    }
  });
});
