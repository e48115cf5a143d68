// The real socket.io-client 4.x against conformance-server: what the CoUp web
// app does (connect with each transport, upgrade, emit, acks both ways,
// binary, auth, namespaces, reconnect), plus what a server must survive
// (oversized payloads, a client that stops reading) and the CORS rules.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { startServer } from './lib/server.mjs';
import { waitFor, collect, withTimeout } from './lib/wait.mjs';
import { request, eioUrl, decodePayload } from './lib/eio-polling.mjs';
import { openWs, eioWs, sioWs } from './lib/raw-ws.mjs';
import { Clients, emitWithAckArgs, normalizeBinary } from './lib/sio-client.mjs';
import { CONFORMANCE_SERVER, CONFORMANCE_SKIP, SPEC_ARGS } from './lib/conformance.mjs';

describe('socket.io-client against conformance-server', { skip: CONFORMANCE_SKIP }, () => {
  const clients = new Clients();
  afterEach(() => clients.closeAll());

  describe('with the spec settings', () => {
    let server;
    let url;
    before(async () => {
      server = await startServer(CONFORMANCE_SERVER, SPEC_ARGS, { name: 'conformance-server' });
      url = server.url;
    });
    after(async () => {
      clients.closeAll();
      if (server) await server.stopAndCheck();
    });

    describe('transports', () => {
      it('default options: starts with polling, upgrades to websocket, echo works after the upgrade', async () => {
        const socket = clients.open(url);
        const engine = socket.io.engine;
        const upgraded = waitFor(engine, 'upgrade', { timeoutMs: 5000, failOn: ['upgradeError'], what: 'the upgrade to websocket' });
        const firstTransport = engine.transport ? engine.transport.name : null;
        await waitFor(socket, 'connect', { failOn: ['connect_error'] });
        assert.equal(firstTransport, 'polling', 'the first transport');
        await upgraded;
        assert.equal(socket.io.engine.transport.name, 'websocket');
        socket.emit('message', 'after upgrade', 42);
        const [a, b] = await waitFor(socket, 'message-back');
        assert.deepEqual([a, b], ['after upgrade', 42]);
      });

      it("transports: ['websocket'] connects and echoes", async () => {
        const socket = await clients.connect(url, { transports: ['websocket'] });
        assert.equal(socket.io.engine.transport.name, 'websocket');
        socket.emit('message', { hello: 'ws' });
        const args = await waitFor(socket, 'message-back');
        assert.deepEqual(args, [{ hello: 'ws' }]);
      });

      it("transports: ['websocket', 'polling'] (what the CoUp app asks for) connects over websocket", async () => {
        const socket = await clients.connect(url, { transports: ['websocket', 'polling'] });
        assert.equal(socket.io.engine.transport.name, 'websocket');
        socket.emit('message', 'coup');
        assert.deepEqual(await waitFor(socket, 'message-back'), ['coup']);
      });

      it("transports: ['polling'] keeps 300 messages in order", async () => {
        const socket = await clients.connect(url, { transports: ['polling'] });
        assert.equal(socket.io.engine.transport.name, 'polling');
        const N = 300;
        const got = collect(socket, 'message-back', N, { timeoutMs: 15000, failOn: ['disconnect'] });
        for (let i = 0; i < N; i++) socket.emit('message', i, `text-${i}`);
        const all = await got;
        assert.deepEqual(all.map((a) => a[0]), [...Array(N).keys()]);
        assert.deepEqual(all.map((a) => a[1]), [...Array(N).keys()].map((i) => `text-${i}`));
        assert.equal(socket.io.engine.transport.name, 'polling', 'no upgrade with polling only');
      });
    });

    describe('acknowledgements', () => {
      it('client -> server: the ack callback gets the same arguments', async () => {
        const socket = await clients.connect(url, { transports: ['websocket'] });
        const args = [1, 'two', { three: [3, null, true] }];
        assert.deepEqual(await emitWithAckArgs(socket, 'message-with-ack', args), args);
      });

      it('client -> server over polling', async () => {
        const socket = await clients.connect(url, { transports: ['polling'] });
        assert.deepEqual(await emitWithAckArgs(socket, 'message-with-ack', ['p', 2]), ['p', 2]);
      });

      it('server -> client: the server gets what the client acked with', async () => {
        const socket = await clients.connect(url);
        const request = waitFor(socket, 'ack-request');
        socket.on('ack-request', (...args) => {
          const ack = args.pop();
          assert.equal(typeof ack, 'function', 'the server asked for an ack');
          ack('reply', { got: args });
        });
        const response = waitFor(socket, 'ack-response');
        socket.emit('request-ack', 'question', 7);
        const req = await request;
        assert.deepEqual(req.slice(0, 2), ['question', 7]);
        assert.deepEqual(await response, ['reply', { got: ['question', 7] }]);
      });
    });

    describe('binary payloads', () => {
      const payload = () => ({
        buf: Buffer.from([0, 1, 2, 3, 254, 255]),
        nested: { u8: new Uint8Array([9, 8, 7]), list: [Buffer.alloc(3000, 0xab), 'text', 5] },
        plain: 'é€🚀',
      });
      for (const transports of [['websocket'], ['polling']]) {
        it(`several attachments nested in objects are echoed intact (${transports[0]})`, async () => {
          const socket = await clients.connect(url, { transports });
          const p = payload();
          const second = new Uint8Array(70000).map((_, i) => i % 251);
          socket.emit('message', p, second, 'tail');
          const back = await waitFor(socket, 'message-back', { timeoutMs: 5000 });
          assert.deepEqual(normalizeBinary(back), normalizeBinary([p, second, 'tail']));
          assert.ok(Buffer.isBuffer(back[0].buf) || back[0].buf instanceof ArrayBuffer || ArrayBuffer.isView(back[0].buf), 'binary comes back as binary');
        });

        it(`binary in an ack (BINARY_ACK) arrives intact (${transports[0]})`, async () => {
          const socket = await clients.connect(url, { transports });
          const p = payload();
          const back = await emitWithAckArgs(socket, 'message-with-ack', [p, Buffer.from('second')]);
          assert.deepEqual(normalizeBinary(back), normalizeBinary([p, Buffer.from('second')]));
        });
      }
    });

    describe('authentication (CONNECT payload)', () => {
      it('the auth object arrives at the server as sent', async () => {
        const auth = { token: 'abc', user: { id: 7, tags: ['a', 'b'] }, n: 1.5 };
        const socket = clients.open(url, { auth });
        const got = waitFor(socket, 'auth', { failOn: ['connect_error'] });
        assert.deepEqual(await got, [auth]);
        assert.ok(socket.connected);
      });

      it('no auth object: the server sees {}', async () => {
        const socket = clients.open(url);
        assert.deepEqual(await waitFor(socket, 'auth', { failOn: ['connect_error'] }), [{}]);
      });

      it('a refused CONNECT gives connect_error with the server\'s message', async () => {
        const socket = clients.open(url, { auth: { refuse: 'Not authorized' } });
        const [err] = await waitFor(socket, 'connect_error', { failOn: ['connect'] });
        assert.equal(err.message, 'Not authorized');
        assert.equal(socket.connected, false);
      });

      it('an answer that comes later (asynchronous authentication) still connects', async () => {
        const start = Date.now();
        const socket = await clients.connect(url, { auth: { delayMs: 400 } });
        assert.ok(Date.now() - start >= 350, `connected after ${Date.now() - start} ms, the server was to wait 400`);
        socket.emit('message', 'late');
        assert.deepEqual(await waitFor(socket, 'message-back'), ['late']);
      });

      it('a refusal that comes later still gives connect_error', async () => {
        const socket = clients.open(url, { auth: { delayMs: 300, refuse: 'Too late' } });
        const [err] = await waitFor(socket, 'connect_error', { failOn: ['connect'] });
        assert.equal(err.message, 'Too late');
      });
    });

    describe('namespaces', () => {
      it('an unknown namespace gives connect_error "Invalid namespace"', async () => {
        const socket = clients.open(`${url}/nope`);
        const [err] = await waitFor(socket, 'connect_error', { failOn: ['connect'] });
        assert.equal(err.message, 'Invalid namespace');
      });

      it('"/custom" and "/" share one connection and keep their events apart', async () => {
        const manager = clients.manager(url);
        const root = clients.track(manager.socket('/', { auth: { who: 'root' } }));
        const custom = clients.track(manager.socket('/custom', { auth: { who: 'custom' } }));
        const rootAuth = waitFor(root, 'auth', { failOn: ['connect_error'] });
        const customAuth = waitFor(custom, 'auth', { failOn: ['connect_error'] });
        assert.deepEqual(await rootAuth, [{ who: 'root' }]);
        assert.deepEqual(await customAuth, [{ who: 'custom' }]);
        assert.equal(root.io, custom.io, 'one manager');
        assert.notEqual(root.id, custom.id, 'one Socket.IO id per namespace');

        const seenByRoot = [];
        root.on('broadcast', (x) => seenByRoot.push(x));
        custom.emit('broadcast', 'to custom');
        assert.deepEqual(await waitFor(custom, 'broadcast'), ['to custom']);
        root.emit('broadcast', 'to root');
        await waitFor(root, 'broadcast', { filter: (x) => x === 'to root' });
        assert.deepEqual(seenByRoot, ['to root'], '"/" must not get the broadcast of "/custom"');

        // Both answers travel on the one connection: listen for both first.
        const customBack = waitFor(custom, 'message-back', { what: '"message-back" on /custom' });
        const rootBack = waitFor(root, 'message-back', { what: '"message-back" on /' });
        custom.emit('message', 'c');
        root.emit('message', 'r');
        assert.deepEqual(await customBack, ['c']);
        assert.deepEqual(await rootBack, ['r']);
      });
    });

    describe('disconnection', () => {
      it('the server disconnects the socket: the client sees "io server disconnect"', async () => {
        const socket = await clients.connect(url, { transports: ['websocket'] });
        socket.emit('disconnect-me');
        const [reason] = await waitFor(socket, 'disconnect');
        assert.equal(reason, 'io server disconnect');
        assert.equal(socket.connected, false);
      });

      it('a client disconnect ("io client disconnect") leaves the others connected', async () => {
        const a = await clients.connect(url, { transports: ['websocket'] });
        const b = await clients.connect(url, { transports: ['polling'] });
        const gone = waitFor(a, 'disconnect');
        a.disconnect();
        assert.equal((await gone)[0], 'io client disconnect');
        b.emit('message', 'b still here');
        assert.deepEqual(await waitFor(b, 'message-back'), ['b still here']);
      });
    });

    describe('CORS on a server that allows any origin', () => {
      it('a polling handshake gets Access-Control-Allow-Origin for its Origin and credentials', async () => {
        const res = await request(eioUrl(url, { path: '/socket.io/' }), { headers: { Origin: 'http://anything.example' } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('access-control-allow-origin'), 'http://anything.example');
        assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
      });
    });
  });

  describe('payload over MAX_PAYLOAD (MAX_PAYLOAD=100000)', () => {
    let server;
    let url;
    before(async () => {
      server = await startServer(
        CONFORMANCE_SERVER,
        ['PING_INTERVAL_MS=2000', 'PING_TIMEOUT_MS=5000', 'MAX_PAYLOAD=100000', 'ALLOWED_ORIGINS=*', 'RECOVERY_WINDOW_MS=0'],
        { name: 'conformance-server maxpayload' },
      );
      url = server.url;
    });
    after(async () => {
      clients.closeAll();
      if (server) await server.stopAndCheck();
    });

    for (const transport of ['websocket', 'polling']) {
      it(`a ${transport} sender of ~200 KB is cut off; another client keeps getting broadcasts`, async () => {
        const observer = await clients.connect(url, { transports: ['websocket'] });
        const sender = await clients.connect(url, { transports: [transport] });
        // Both get broadcasts before.
        const before = Promise.all([waitFor(observer, 'broadcast'), waitFor(sender, 'broadcast')]);
        observer.emit('broadcast', 'before');
        assert.deepEqual(await before, [['before'], ['before']]);

        const cut = waitFor(sender, 'disconnect', { timeoutMs: 5000, what: 'the sender to be disconnected' });
        const echoed = [];
        sender.on('message-back', (x) => echoed.push(x.length));
        sender.emit('message', 'x'.repeat(200 * 1024));
        const [reason] = await cut;
        assert.ok(['transport close', 'transport error', 'parse error'].includes(reason), `disconnect reason: ${reason}`);
        assert.deepEqual(echoed, [], 'the oversized message was not processed');

        const got = collect(observer, 'broadcast', 3, { timeoutMs: 5000, failOn: ['disconnect'] });
        for (let i = 0; i < 3; i++) observer.emit('broadcast', `after-${i}`);
        assert.deepEqual((await got).map((a) => a[0]), ['after-0', 'after-1', 'after-2']);

        // And the server takes new clients.
        const fresh = await clients.connect(url, { transports: [transport] });
        fresh.emit('message', 'fresh');
        assert.deepEqual(await waitFor(fresh, 'message-back'), ['fresh']);
      });
    }
  });

  describe('a client that stops reading (SEND_QUEUE_MAX=65536)', () => {
    let server;
    let url;
    before(async () => {
      // Long heartbeat: only the send queue limit may end the stalled client.
      server = await startServer(
        CONFORMANCE_SERVER,
        ['SEND_QUEUE_MAX=65536', 'PING_INTERVAL_MS=25000', 'PING_TIMEOUT_MS=20000', 'ALLOWED_ORIGINS=*', 'RECOVERY_WINDOW_MS=0'],
        { name: 'conformance-server sendqueue' },
      );
      url = server.url;
    });
    after(async () => {
      clients.closeAll();
      if (server) await server.stopAndCheck();
    });

    it('is dropped, while the active client receives all of its broadcasts', { timeout: 60000 }, async () => {
      const stalled = await sioWs(url);
      try {
        assert.equal(await stalled.ws.nextText(), '42["auth",{}]');
        // Stop reading: the kernel buffers fill up, then the server's queue.
        stalled.ws.ws._socket.pause();

        const active = await clients.connect(url, { transports: ['websocket'] });
        const chunk = 'z'.repeat(20 * 1024);
        const ROUNDS = 600; // 600 x 20 KB = 12 MB for the stalled client
        const WINDOW = 2; // at most 2 in flight: the active client's queue stays small
        let received = 0;
        let sent = 0;
        const allDone = new Promise((resolve, reject) => {
          active.on('broadcast', (i, data) => {
            if (i !== received) reject(new Error(`broadcast ${i} arrived when ${received} was expected`));
            if (data.length !== chunk.length) reject(new Error(`broadcast ${i} has ${data.length} bytes`));
            received += 1;
            if (received === ROUNDS) resolve();
            else if (sent < ROUNDS) active.emit('broadcast', sent++, chunk);
          });
          active.on('disconnect', (reason) => reject(new Error(`the active client was disconnected (${reason}) after ${received} broadcasts`)));
        });
        for (let i = 0; i < WINDOW; i++) active.emit('broadcast', sent++, chunk);
        await withTimeout(allDone, 40000, `all ${ROUNDS} broadcasts at the active client`).catch((err) => {
          throw new Error(`${err.message}: got ${received}`);
        });
        assert.equal(received, ROUNDS);

        // Read again: what was buffered comes in, then the server's close.
        stalled.ws.ws._socket.resume();
        await stalled.ws.waitClosed({ timeoutMs: 10000, what: 'the stalled client to have been closed by the server' });
        let bytes = 0;
        for (const f of stalled.ws.queue) bytes += f.text ? f.text.length : f.binary.length;
        assert.ok(bytes < ROUNDS * chunk.length, `the stalled client got all ${bytes} bytes: it was never cut off`);
      } finally {
        stalled.ws.close();
      }
    });
  });

  describe('reconnection after a server restart', () => {
    let server;
    after(async () => {
      clients.closeAll();
      if (server) await server.stopAndCheck();
    });

    it('the client reconnects by itself to the new server on the same port', { timeout: 40000 }, async () => {
      server = await startServer(CONFORMANCE_SERVER, SPEC_ARGS, { name: 'conformance-server restart-1' });
      const { port, url } = server;
      const socket = await clients.connect(url, {
        reconnection: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 500,
        randomizationFactor: 0,
      });
      socket.emit('message', 'first life');
      assert.deepEqual(await waitFor(socket, 'message-back'), ['first life']);
      const firstId = socket.id;

      const dropped = waitFor(socket, 'disconnect', { timeoutMs: 10000 });
      const old = server;
      server = null;
      await old.stopAndCheck();
      const [reason] = await dropped;
      assert.ok(['transport close', 'transport error', 'ping timeout'].includes(reason), `disconnect reason: ${reason}`);

      const reconnected = waitFor(socket, 'connect', { timeoutMs: 20000, what: 'the automatic reconnection' });
      server = await startServer(CONFORMANCE_SERVER, SPEC_ARGS, { port, name: 'conformance-server restart-2' });
      await reconnected;
      assert.ok(socket.connected);
      assert.notEqual(socket.id, firstId, 'a new session');
      socket.emit('message', 'second life');
      assert.deepEqual(await waitFor(socket, 'message-back'), ['second life']);
    });
  });

  describe('CORS and WebSocket origin check (ALLOWED_ORIGINS=http://good.example)', () => {
    let server;
    let url;
    before(async () => {
      server = await startServer(CONFORMANCE_SERVER, ['ALLOWED_ORIGINS=http://good.example', 'RECOVERY_WINDOW_MS=0'], { name: 'conformance-server cors' });
      url = server.url;
    });
    after(async () => {
      clients.closeAll();
      if (server) await server.stopAndCheck();
    });

    it('a polling handshake from the allowed Origin gets Access-Control-Allow-Origin and -Credentials', async () => {
      const res = await request(eioUrl(url, { path: '/socket.io/' }), { headers: { Origin: 'http://good.example' } });
      assert.equal(res.status, 200);
      assert.equal(decodePayload(res.body)[0].type, 'open');
      assert.equal(res.headers.get('access-control-allow-origin'), 'http://good.example');
      assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    });

    it('a polling handshake from another Origin is not given that origin in Access-Control-Allow-Origin', async () => {
      const res = await request(eioUrl(url, { path: '/socket.io/' }), { headers: { Origin: 'http://evil.example' } });
      const acao = res.headers.get('access-control-allow-origin');
      assert.ok(acao !== 'http://evil.example' && acao !== '*', `Access-Control-Allow-Origin: ${acao}`);
    });

    it('a WebSocket from a disallowed Origin is refused', async () => {
      const wsUrl = eioUrl(server.wsUrl, { path: '/socket.io/', transport: 'websocket' });
      let ws = null;
      try {
        ws = await openWs(wsUrl, { origin: 'http://evil.example' });
      } catch (err) {
        assert.ok(err.statusCode >= 400 || /ECONNRESET|hang up/.test(err.message), `refused: ${err.message}`);
        return;
      }
      // Upgraded after all: it must be closed without an Engine.IO session.
      try {
        await ws.waitClosed({ timeoutMs: 3000, what: 'the disallowed WebSocket to be closed' });
        const open = ws.queue.find((f) => f.text && f.text.startsWith('0'));
        assert.equal(open, undefined, `a session was opened for a disallowed Origin: ${JSON.stringify(open)}`);
      } finally {
        ws.close();
      }
    });

    it('a WebSocket from the allowed Origin is accepted', async () => {
      const { ws, open } = await eioWs(url, { path: '/socket.io/', origin: 'http://good.example' });
      ws.close();
      assert.equal(typeof open.sid, 'string');
    });

    it('a WebSocket with no Origin (a native app, a server) is accepted and works', async () => {
      const { ws } = await sioWs(url);
      try {
        assert.equal(await ws.nextText(), '42["auth",{}]');
        ws.send('42["message","no origin"]');
        assert.equal(await ws.nextText(), '42["message-back","no origin"]');
      } finally {
        ws.close();
      }
    });
  });
});
