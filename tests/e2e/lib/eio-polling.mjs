// Raw Engine.IO v4 HTTP long-polling over fetch.
//
// Payload encoding (spec "Packet encoding / HTTP long-polling"): packets are
// joined with the record separator \x1e; a text packet is its type digit and
// its data; a binary message is "b" and its base64.

export const SEP = '\x1e';

export function eioUrl(base, { path = '/engine.io/', transport = 'polling', sid, eio = '4', extra = {} } = {}) {
  const u = new URL(path, base);
  if (eio !== null) u.searchParams.set('EIO', eio);
  if (transport !== null) u.searchParams.set('transport', transport);
  if (sid) u.searchParams.set('sid', sid);
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
  return u.toString();
}

/** Decode a polling payload into [{ type, data }] (data: string or Buffer). */
export function decodePayload(body) {
  if (body === '') return [];
  return body.split(SEP).map((p) => {
    if (p[0] === 'b') return { type: 'message', binary: true, data: Buffer.from(p.slice(1), 'base64') };
    const types = ['open', 'close', 'ping', 'pong', 'message', 'upgrade', 'noop'];
    const t = types[Number(p[0])];
    return { type: t ?? `invalid(${p[0]})`, binary: false, data: p.slice(1), raw: p };
  });
}

/** Encode [{ type: digit-string, data }] or raw strings/Buffers into a payload. */
export function encodePayload(items) {
  return items.map((it) => (Buffer.isBuffer(it) ? 'b' + it.toString('base64') : String(it))).join(SEP);
}

/**
 * One HTTP request. Resolves with { status, headers, body } (body as text),
 * or with { error } when the connection failed or was dropped — a server may
 * refuse a request by closing the connection. Bounded by timeoutMs.
 */
export async function request(url, { method = 'GET', body, headers = {}, timeoutMs = 5000 } = {}) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    const res = await fetch(url, { method, body, headers, signal: ctrl.signal });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text };
  } catch (err) {
    if (ctrl.signal.aborted) {
      const e = new Error(`${method} ${url}: no answer within ${timeoutMs} ms`);
      e.timedOut = true;
      throw e;
    }
    return { error: err, status: null, headers: new Headers(), body: '' };
  } finally {
    clearTimeout(timer);
  }
}

/** Polling handshake; returns { sid, open, res } and checks it worked. */
export async function handshake(base, { path = '/engine.io/', headers = {}, timeoutMs = 5000 } = {}) {
  const res = await request(eioUrl(base, { path }), { headers, timeoutMs });
  if (res.status !== 200) {
    throw new Error(`polling handshake: HTTP ${res.status ?? res.error?.message} body ${JSON.stringify(res.body)}`);
  }
  const packets = decodePayload(res.body);
  if (packets.length < 1 || packets[0].type !== 'open') {
    throw new Error(`polling handshake: expected an open packet, got ${JSON.stringify(res.body)}`);
  }
  const open = JSON.parse(packets[0].data);
  return { sid: open.sid, open, res, rest: packets.slice(1) };
}

export function get(base, sid, { path = '/engine.io/', timeoutMs = 5000, headers = {} } = {}) {
  return request(eioUrl(base, { path, sid }), { headers, timeoutMs });
}

export function post(base, sid, body, { path = '/engine.io/', timeoutMs = 5000, headers = {} } = {}) {
  return request(eioUrl(base, { path, sid }), {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...headers },
    timeoutMs,
  });
}

/**
 * GET until `count` packets (pings excluded unless keepPings) have arrived,
 * answering pings with pongs so the session stays up. Bounded by the number
 * of requests and by timeoutMs overall.
 */
export async function receive(base, sid, count, { path = '/engine.io/', timeoutMs = 5000, keepPings = false } = {}) {
  const got = [];
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 200 && got.length < count; i++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const res = await get(base, sid, { path, timeoutMs: left });
    if (res.status !== 200) {
      throw new Error(`GET while waiting for ${count} packets: HTTP ${res.status ?? res.error?.message} ${JSON.stringify(res.body)}; got so far ${JSON.stringify(got)}`);
    }
    for (const p of decodePayload(res.body)) {
      if (p.type === 'ping' && !keepPings) {
        await post(base, sid, '3', { path });
        continue;
      }
      got.push(p);
    }
  }
  if (got.length < count) throw new Error(`received ${got.length} of ${count} packets within ${timeoutMs} ms: ${JSON.stringify(got)}`);
  return got;
}
