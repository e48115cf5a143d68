// A stand-in for the CoUp app's webhook endpoint: it checks every POST's
// signature (X-CoUp-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// "<t>.<body>")>) as the app should, keeps what it took, and can refuse
// the next n (HTTP 500), as an app that is down would.

import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

import { HOST } from './server.mjs';

/** Is `header` a valid signature of `raw` with `secret`, at most 300 s old? */
export function signatureValid(secret, header, raw, nowS = Date.now() / 1000) {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  if (Math.abs(nowS - Number(m[1])) > 300) return false;
  const want = createHmac('sha256', secret).update(`${m[1]}.${raw}`).digest();
  return timingSafeEqual(want, Buffer.from(m[2], 'hex'));
}

export async function startWebhookSink(secret) {
  const taken = []; // {event, body, headers}
  const attempts = []; // every POST, taken or not
  const waiters = [];
  let refuse = 0;
  const srv = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const valid = signatureValid(secret, req.headers['x-coup-signature'], raw);
      attempts.push({ at: Date.now(), valid, raw });
      if (refuse > 0) {
        refuse--;
        res.writeHead(500).end('down for a moment');
        return;
      }
      if (!valid) {
        res.writeHead(401).end('bad signature');
        return;
      }
      const body = JSON.parse(raw);
      taken.push({ event: body.event, body, headers: req.headers });
      res.writeHead(204).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise((resolve) => srv.listen(0, HOST, resolve));
  return {
    url: `http://${HOST}:${srv.address().port}/api/webhooks/signaling`,
    taken,
    attempts,
    /** Refuse the next n POSTs with a 500. */
    refuseNext(n) {
      refuse = n;
    },
    /** Wait until `pred(taken)` holds (bounded). */
    async until(pred, { timeoutMs = 15000, what = 'webhooks' } = {}) {
      const end = Date.now() + timeoutMs;
      while (!pred(taken)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; taken: ${JSON.stringify(taken.map((t) => t.event))}`);
        await new Promise((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return taken;
    },
    close() {
      return new Promise((resolve) => {
        srv.closeAllConnections?.();
        srv.close(resolve);
      });
    },
  };
}
