// A TCP proxy whose connections can be cut the way a lost network cuts
// them: a reset, no WebSocket close frame, no FIN to read. For the tests of
// connection state recovery (RECOVERY_WINDOW_MS), end to end and in the
// browser.

import net from 'node:net';

import { HOST } from './server.mjs';

/** A TCP proxy to port `to` whose connections can all be cut (RST). */
export async function startProxy(to) {
  const pairs = new Set();
  let downUntil = 0;
  const server = net.createServer((client) => {
    if (Date.now() < downUntil) {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(to, HOST);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return {
    url: `http://${HOST}:${server.address().port}`,
    /** Reset every connection: no close frame, no FIN to read; and
     * for downMs, every new one too (a network that is away a while:
     * what a long-polling client, which opens a connection per request,
     * notices). */
    cut(downMs = 0) {
      downUntil = Date.now() + downMs;
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      pairs.clear();
    },
    close() {
      this.cut();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

