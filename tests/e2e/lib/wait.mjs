// Waiting for things, always with a bound.
//
// Works with node's EventEmitter and with socket.io-client's emitter (both
// have on/off). Every helper rejects with a message saying what it waited
// for, so a failure reads as "timed out after 2000 ms waiting for ...".

export class TimeoutError extends Error {
  constructor(what, ms) {
    super(`timed out after ${ms} ms waiting for ${what}`);
    this.name = 'TimeoutError';
  }
}

/** A promise that settles like `promise`, or rejects after `ms`. */
export function withTimeout(promise, ms, what = 'a promise') {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/**
 * Wait for one `event` from `emitter`; resolves with the array of its
 * arguments. `failOn` names events that reject the wait instead (e.g.
 * 'connect_error' while waiting for 'connect'); `filter(...args)` skips
 * events that do not match.
 */
export function waitFor(emitter, event, { timeoutMs = 5000, failOn = [], filter = null, what } = {}) {
  const label = what ?? `event "${event}"`;
  return new Promise((resolve, reject) => {
    const handlers = [];
    const cleanup = () => {
      clearTimeout(timer);
      for (const [ev, fn] of handlers) emitter.off(ev, fn);
    };
    const onEvent = (...args) => {
      if (filter && !filter(...args)) return;
      cleanup();
      resolve(args);
    };
    handlers.push([event, onEvent]);
    for (const bad of failOn) {
      const fn = (...args) => {
        cleanup();
        const detail = args.map((a) => (a instanceof Error ? a.message : safeJson(a))).join(', ');
        const err = new Error(`got "${bad}" (${detail}) while waiting for ${label}`);
        err.eventArgs = args;
        reject(err);
      };
      handlers.push([bad, fn]);
    }
    for (const [ev, fn] of handlers) emitter.on(ev, fn);
    const timer = setTimeout(() => {
      cleanup();
      reject(new TimeoutError(label, timeoutMs));
    }, timeoutMs);
  });
}

/** Collect `count` occurrences of `event`; resolves with their argument arrays. */
export function collect(emitter, event, count, { timeoutMs = 5000, failOn = [], what } = {}) {
  const label = what ?? `${count} "${event}" events`;
  return new Promise((resolve, reject) => {
    const got = [];
    const handlers = [];
    const cleanup = () => {
      clearTimeout(timer);
      for (const [ev, fn] of handlers) emitter.off(ev, fn);
    };
    handlers.push([
      event,
      (...args) => {
        got.push(args);
        if (got.length === count) {
          cleanup();
          resolve(got);
        }
      },
    ]);
    for (const bad of failOn) {
      handlers.push([
        bad,
        (...args) => {
          cleanup();
          reject(new Error(`got "${bad}" (${args.map(safeJson).join(', ')}) after ${got.length} of ${label}`));
        },
      ]);
    }
    for (const [ev, fn] of handlers) emitter.on(ev, fn);
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}: got ${got.length}`));
    }, timeoutMs);
  });
}

/** Sleep. Only for tests about time itself (heartbeat, timeouts). */
export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Call `fn` until it returns a truthy value, at most `attempts` times with
 * `intervalMs` between calls. For state that can only be observed by asking
 * (an HTTP endpoint). Resolves with that value, rejects with the last one.
 */
export async function pollUntil(fn, { attempts = 50, intervalMs = 100, what = 'a condition' } = {}) {
  let last;
  for (let i = 0; i < attempts; i++) {
    last = await fn();
    if (last.ok) return last.value;
    if (i + 1 < attempts) await delay(intervalMs);
  }
  throw new Error(`${what} not reached after ${attempts} attempts ${intervalMs} ms apart; last: ${safeJson(last && last.value)}`);
}

export function safeJson(v) {
  try {
    if (Buffer.isBuffer(v)) return `<Buffer ${v.toString('hex').slice(0, 80)}>`;
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 500 ? s.slice(0, 500) + '...' : s;
  } catch {
    return String(v);
  }
}
