// Raw WebSocket client over `ws`, for Engine.IO/Socket.IO wire tests.
//
// Every frame received is queued; next() takes the oldest one, waiting for it
// with a bound. A text frame is { text }, a binary one { binary: Buffer }.
// With autoPong, Engine.IO pings ("2") are answered with "3" and not queued,
// so a test that is not about the heartbeat does not see them.

import WebSocket from 'ws';
import { TimeoutError } from './wait.mjs';
import { eioUrl } from './eio-polling.mjs';

export class RawWs {
  constructor(ws, { autoPong = false } = {}) {
    this.ws = ws;
    this.autoPong = autoPong;
    this.queue = [];
    this.waiters = [];
    this.log = []; // everything sent and received, for failure messages
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.log.push(`closed ${code} ${reason}`);
        resolve(this.closeInfo);
        for (const w of this.waiters.splice(0)) w.onClose();
      });
    });
    ws.on('error', (err) => this.log.push(`error ${err.message}`));
    ws.on('message', (data, isBinary) => {
      let msg;
      if (isBinary) {
        msg = { binary: Buffer.isBuffer(data) ? data : Buffer.concat(data) };
        this.log.push(`< <binary ${msg.binary.toString('hex').slice(0, 64)}>`);
      } else {
        msg = { text: data.toString('utf8') };
        this.log.push(`< ${msg.text.length > 200 ? msg.text.slice(0, 200) + '...' : msg.text}`);
        if (this.autoPong && msg.text === '2') {
          this.send('3');
          return;
        }
      }
      const w = this.waiters.shift();
      if (w) w.onMessage(msg);
      else this.queue.push(msg);
    });
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(data) {
    this.log.push(Buffer.isBuffer(data) ? `> <binary ${data.toString('hex').slice(0, 64)}>` : `> ${String(data).slice(0, 200)}`);
    this.ws.send(data);
  }

  trace() {
    const max = 40;
    if (this.log.length <= max) return this.log.join('\n');
    return [...this.log.slice(0, 10), `... (${this.log.length - max} more) ...`, ...this.log.slice(-(max - 10))].join('\n');
  }

  /** The next frame; rejects on timeout or when the connection closes first. */
  next({ timeoutMs = 3000, what = 'a frame' } = {}) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) {
      return Promise.reject(new Error(`connection closed (${this.closeInfo.code}) while waiting for ${what}\n--- trace ---\n${this.trace()}`));
    }
    return new Promise((resolve, reject) => {
      const w = {
        onMessage: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        onClose: () => {
          clearTimeout(timer);
          reject(new Error(`connection closed (${this.closeInfo.code}) while waiting for ${what}\n--- trace ---\n${this.trace()}`));
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        const e = new TimeoutError(what, timeoutMs);
        e.message += `\n--- trace ---\n${this.trace()}`;
        reject(e);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** The next frame, which must be text; resolves with the string. */
  async nextText(opts = {}) {
    const m = await this.next({ what: 'a text frame', ...opts });
    if (m.text === undefined) throw new Error(`expected a text frame, got binary <${m.binary.toString('hex')}>\n--- trace ---\n${this.trace()}`);
    return m.text;
  }

  /** The next frame, which must be binary; resolves with the Buffer. */
  async nextBinary(opts = {}) {
    const m = await this.next({ what: 'a binary frame', ...opts });
    if (m.binary === undefined) throw new Error(`expected a binary frame, got text ${JSON.stringify(m.text)}\n--- trace ---\n${this.trace()}`);
    return m.binary;
  }

  /**
   * Wait for the server to close the connection. Frames that arrive before
   * the close are allowed (a server may send a close packet first).
   */
  async waitClosed({ timeoutMs = 3000, what = 'the server to close the connection' } = {}) {
    let timer;
    const t = new Promise((_, reject) => {
      timer = setTimeout(() => {
        const e = new TimeoutError(what, timeoutMs);
        e.message += `\n--- trace ---\n${this.trace()}`;
        reject(e);
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.closed, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/**
 * Open a WebSocket. Resolves with a RawWs once open; rejects when the server
 * refuses the upgrade (err.statusCode) or the connection fails.
 */
export function openWs(url, { headers = {}, origin, autoPong = false, timeoutMs = 5000, maxPayload } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { headers, perMessageDeflate: false };
    if (origin) opts.origin = origin;
    if (maxPayload) opts.maxPayload = maxPayload;
    const ws = new WebSocket(url, opts);
    // Queue frames from the very first one: the open packet may come at once.
    const raw = new RawWs(ws, { autoPong });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new TimeoutError(`WebSocket open of ${url}`, timeoutMs));
    }, timeoutMs);
    ws.once('unexpected-response', (req, res) => {
      clearTimeout(timer);
      const err = new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`);
      err.statusCode = res.statusCode;
      res.resume();
      ws.terminate();
      reject(err);
    });
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(raw);
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Engine.IO over WebSocket: open the connection (a new session, or an upgrade
 * of `sid`) and, for a new session, read the open packet.
 * Resolves with { ws: RawWs, open } (open is null for an upgrade).
 */
export async function eioWs(base, { path = '/engine.io/', sid, headers, origin, autoPong = false, timeoutMs = 5000 } = {}) {
  const url = eioUrl(base.replace(/^http/, 'ws'), { path, transport: 'websocket', sid });
  const ws = await openWs(url, { headers, origin, autoPong, timeoutMs });
  if (sid) return { ws, open: null };
  const first = await ws.nextText({ timeoutMs, what: 'the open packet' });
  if (first[0] !== '0') throw new Error(`expected an open packet first, got ${JSON.stringify(first)}`);
  return { ws, open: JSON.parse(first.slice(1)) };
}

/**
 * A Socket.IO connection to the main namespace over a raw WebSocket:
 * Engine.IO open, then "40" (with auth JSON if given) and its answer.
 * Resolves with { ws, open, sid, connect } where connect is the text of the
 * server's CONNECT packet.
 */
export async function sioWs(base, { auth, nsp = '/', autoPong = true, timeoutMs = 5000 } = {}) {
  const { ws, open } = await eioWs(base, { path: '/socket.io/', autoPong, timeoutMs });
  const prefix = nsp === '/' ? '' : `${nsp},`;
  ws.send(`40${prefix}${auth !== undefined ? JSON.stringify(auth) : ''}`);
  const connect = await ws.nextText({ timeoutMs, what: 'the CONNECT answer' });
  if (!connect.startsWith(`40${prefix}`)) throw new Error(`CONNECT refused or unexpected answer: ${JSON.stringify(connect)}`);
  const sid = JSON.parse(connect.slice(2 + prefix.length)).sid;
  return { ws, open, sid, connect };
}
