// socket.io-client helpers: connect with a bound, close everything a test
// opened, compare binary payloads whatever their JS type.

import { io, Manager } from 'socket.io-client';
import { waitFor, withTimeout } from './wait.mjs';

export { io, Manager };

/**
 * Sockets opened through a Clients object are all closed by closeAll(),
 * which a test calls in `finally` (or an afterEach hook).
 */
export class Clients {
  constructor() {
    this.sockets = new Set();
    this.managers = new Set();
  }

  /**
   * io(url, opts) with reconnection off unless asked for, and a new Manager
   * per socket (forceNew) unless a manager is given. Not yet waited for.
   */
  open(url, opts = {}) {
    const socket = io(url, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
    this.sockets.add(socket);
    return socket;
  }

  manager(url, opts = {}) {
    const m = new Manager(url, { reconnection: false, timeout: 5000, ...opts });
    this.managers.add(m);
    return m;
  }

  track(socket) {
    this.sockets.add(socket);
    return socket;
  }

  /** open() and wait for "connect"; a connect_error rejects. */
  async connect(url, opts = {}, { timeoutMs = 5000 } = {}) {
    const socket = this.open(url, opts);
    await waitFor(socket, 'connect', { timeoutMs, failOn: ['connect_error'], what: `connect to ${url}` });
    return socket;
  }

  closeAll() {
    for (const s of this.sockets) {
      s.io.reconnection(false);
      s.disconnect();
      if (s.io.engine) s.io.engine.close();
    }
    for (const m of this.managers) {
      m.reconnection(false);
      if (m.engine) m.engine.close();
    }
    this.sockets.clear();
    this.managers.clear();
  }
}

/** Emit with an ack callback; resolves with the ack's arguments. */
export function emitWithAckArgs(socket, event, args, { timeoutMs = 5000 } = {}) {
  return withTimeout(
    new Promise((resolve) => socket.emit(event, ...args, (...ackArgs) => resolve(ackArgs))),
    timeoutMs,
    `the ack of "${event}"`,
  );
}

/**
 * Turn every binary value (Buffer, Uint8Array, ArrayBuffer, other views)
 * into { bytes: [...] } so that deepEqual compares contents, not classes:
 * socket.io-client may hand back a Buffer for a Uint8Array that was sent.
 */
export function normalizeBinary(v) {
  if (v instanceof ArrayBuffer) return { bytes: [...new Uint8Array(v)] };
  if (ArrayBuffer.isView(v)) return { bytes: [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)] };
  if (Array.isArray(v)) return v.map(normalizeBinary);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = normalizeBinary(x);
    return o;
  }
  return v;
}
