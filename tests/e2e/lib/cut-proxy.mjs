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


/**
 * A load balancer in front of gateways on `ports`: each new connection
 * goes to the first gateway that is not taken out (out()) and accepts
 * the connection, as a balancer with health checks does. A TCP proxy: no
 * stickiness, so for WebSocket clients only.
 */
export async function startBalancer(ports) {
  const pairs = new Set();
  const isOut = new Set();
  const server = net.createServer((client) => {
    client.pause();
    const targets = ports.filter((p) => !isOut.has(p));
    const tryNext = (i) => {
      if (i >= targets.length) {
        client.on('error', () => {});
        client.resetAndDestroy();
        return;
      }
      const upstream = net.connect(targets[i], HOST);
      upstream.once('error', () => tryNext(i + 1));
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        const pair = { client, upstream, port: targets[i] };
        pairs.add(pair);
        const end = () => {
          pairs.delete(pair);
          client.destroy();
          upstream.destroy();
        };
        for (const s of [client, upstream]) {
          s.on('error', end);
          s.on('close', end);
        }
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    tryNext(0);
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return {
    url: `http://${HOST}:${server.address().port}`,
    /** Take the gateway on `port` out: no new connection goes there. */
    out(port) {
      isOut.add(port);
    },
    /** How many connections are open to the gateway on `port`. */
    openTo(port) {
      return [...pairs].filter((p) => p.port === port).length;
    },
    /** Stop; connections still open after graceMs (their clients were
     * closed first, so they end by themselves) are reset. */
    async close(graceMs = 2000) {
      const until = Date.now() + graceMs;
      while (pairs.size > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      pairs.clear();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
