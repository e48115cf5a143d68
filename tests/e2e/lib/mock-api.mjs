// A stand-in for the CoUp Next.js API that coup-gateway calls (contract §2,
// §3), on 127.0.0.1, answering the way the real API does:
//
//   POST /api/auth/verify {"userId":"<id>"}
//     ACTIVE user   -> 200 {"success":true,"user":{id,name,email,avatar,status}}
//     other status  -> 403 {"success":false,"error":"User is not active"}
//     unknown user  -> 404 {"success":false,"error":"User not found"}
//     no userId     -> 400 {"success":false,"error":"userId is required"}
//   POST /api/studies/<studyId>/check-member {"userId":"<id>"}
//     member        -> 200 {"success":true,"isMember":true}
//     not a member  -> 403 {"success":false,"error":"Not a member"}
//
// Defaults are permissive so that tests which are not about authentication
// need no set-up: while `users` was never configured every userId is an
// ACTIVE user named "User <id>", and a study whose members were never set
// has everyone as a member. setUser()/removeUser() configure the user table
// (from then on only its users exist); setMembers(studyId, [ids]) configures
// one study, setMembers(studyId, null) makes everyone its member again.
//
// GET /api/auth/me answers as the app's own route does: the user of the
// NextAuth session cookie (setSession(token, userId)), else 401; the
// verify failure modes apply to it too.
//
// Failures, for verify and check-member together or apart
// (setFailure(mode, { only: 'verify' | 'member' })):
//   null       answer normally
//   'down'     destroy the connection without an answer (like a dead API)
//   '500'      500 {"success":false,"error":"Internal server error"}
//   'timeout'  never answer (until close())
//   'notjson'  200 with an HTML page
//   'no-user'  verify only: 200 {"success":false} (a 2xx without a user)
//   'inactive-200' verify only: 200 with the user but status "INACTIVE"
//
// Every request is recorded in `calls` as {method, path, headers, body, at}
// (body parsed as JSON, or null; rawBody the text; at = Date.now()), in
// arrival order, whatever the answer. `url` repeats `path` for older tests.
// setLatency(ms) delays every answer; MOCK_API_TRACE=1 in the environment
// logs every request and answer on stderr.

import http from 'node:http';
import { HOST } from './server.mjs';

const MODES = new Set([null, 'down', '500', 'timeout', 'notjson', 'no-user', 'inactive-200']);
const MAX_BODY = 1024 * 1024;
// MOCK_API_TRACE=1 writes every request and answer to stderr (the test log).
const TRACE = Boolean(process.env.MOCK_API_TRACE);

function normalizeUser(id, { name, email, avatar, status = 'ACTIVE' } = {}) {
  return {
    id: String(id),
    name: name === undefined ? `User ${id}` : name,
    email: email === undefined ? null : email,
    avatar: avatar === undefined ? null : avatar,
    status,
  };
}

function tableFrom(obj, fn) {
  if (obj === null || obj === undefined) return null;
  const m = new Map();
  const entries = obj instanceof Map ? obj.entries() : Object.entries(obj);
  for (const [k, v] of entries) m.set(String(k), fn(k, v));
  return m;
}

/**
 * Start the stand-in. Resolves with { url, calls, close, setUser,
 * removeUser, setMembers, setLatency, setFailure, clearCalls,
 * verifyCalls, memberCalls }.
 *
 * options: latencyMs (delay before every answer), users ({id: {name,
 * email, avatar, status}} or a Map; null = everyone is ACTIVE), members
 * ({studyId: [userIds]}; a study not listed has everyone as a member).
 */
export async function startMockApi({ latencyMs = 0, users = null, members = null } = {}) {
  const calls = [];
  let latency = latencyMs;
  let userTable = tableFrom(users, (k, v) => normalizeUser(k, v));
  const memberTable = tableFrom(members, (_k, v) => new Set(v.map(String))) ?? new Map();
  const failure = { verify: null, member: null };
  const timers = new Set();
  let closed = false;
  let port = 0;

  const send = (res, status, payload, type = 'application/json') => {
    if (closed || res.destroyed || res.writableEnded) return;
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    if (TRACE) process.stderr.write(`[mock-api:${port}] -> ${status} ${body.slice(0, 200)}\n`);
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };

  const later = (fn) => {
    if (latency <= 0) {
      fn();
      return;
    }
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, latency);
    timers.add(t);
  };

  const verify = (json, res, mode) => {
    if (!json || typeof json !== 'object' || json.userId === undefined || json.userId === null || json.userId === '') {
      send(res, 400, { success: false, error: 'userId is required' });
      return;
    }
    const id = String(json.userId);
    const user = userTable === null ? normalizeUser(id) : userTable.get(id);
    if (mode === 'no-user') {
      send(res, 200, { success: false });
      return;
    }
    if (mode === 'inactive-200') {
      send(res, 200, { success: true, user: { ...(user ?? normalizeUser(id)), status: 'INACTIVE' } });
      return;
    }
    if (!user) {
      send(res, 404, { success: false, error: 'User not found' });
      return;
    }
    if (user.status !== 'ACTIVE') {
      send(res, 403, { success: false, error: 'User is not active' });
      return;
    }
    send(res, 200, { success: true, user });
  };

  // GET /api/auth/me as coup/src/app/api/auth/me/route.js answers it:
  // the NextAuth session cookie's user, or 401.
  const sessions = new Map(); // token -> user id
  const SESSION_COOKIES = ['next-auth.session-token', '__Secure-next-auth.session-token', 'authjs.session-token', '__Secure-authjs.session-token'];
  const me = (req, res) => {
    const pairs = (req.headers.cookie ?? '').split(';').map((p) => p.trim().split('='));
    const token = pairs.find(([k]) => SESSION_COOKIES.includes(k))?.[1];
    const id = token !== undefined ? sessions.get(token) : undefined;
    if (id === undefined) return send(res, 401, { error: '인증이 필요합니다.' });
    const user = userTable?.get(id) ?? normalizeUser(id);
    return send(res, 200, {
      user: { id: user.id, email: user.email, name: user.name, avatar: user.avatar, role: 'USER', bio: '', status: user.status, createdAt: null },
      adminRole: null,
    });
  };

  const checkMember = (studyId, json, res) => {
    if (!json || typeof json !== 'object' || json.userId === undefined || json.userId === null || json.userId === '') {
      send(res, 400, { success: false, error: 'userId is required' });
      return;
    }
    const set = memberTable.get(studyId);
    if (set === undefined || set.has(String(json.userId))) {
      send(res, 200, { success: true, isMember: true });
      return;
    }
    send(res, 403, { success: false, error: 'Not a member' });
  };

  const srv = http.createServer((req, res) => {
    let raw = '';
    let tooBig = false;
    req.setEncoding('utf8');
    req.on('data', (c) => {
      if (raw.length + c.length > MAX_BODY) tooBig = true;
      else raw += c;
    });
    req.on('error', () => {});
    req.on('end', () => {
      let json = null;
      try {
        json = raw ? JSON.parse(raw) : null;
      } catch {
        json = null;
      }
      const path = req.url;
      calls.push({ method: req.method, path, url: path, headers: { ...req.headers }, body: json, rawBody: raw, at: Date.now() });
      if (TRACE) process.stderr.write(`[mock-api:${port}] ${req.method} ${path} ${raw.slice(0, 200)}\n`);

      const memberMatch = /^\/api\/studies\/([^/?]+)\/check-member$/.exec(path);
      const kind = path === '/api/auth/verify' ? 'verify' : path === '/api/auth/me' ? 'me' : memberMatch ? 'member' : null;
      const mode = kind ? failure[kind === 'me' ? 'verify' : kind] : null;

      if (mode === 'down') {
        req.socket.destroy();
        return;
      }
      if (mode === 'timeout') return; // the socket is ended by close()
      later(() => {
        if (tooBig) return send(res, 413, { success: false, error: 'Payload too large' });
        if (kind === null) return send(res, 404, { success: false, error: 'Not found' });
        if (kind === 'me') return req.method === 'GET' ? me(req, res) : send(res, 405, { error: 'Method not allowed' });
        if (req.method !== 'POST') return send(res, 405, { success: false, error: 'Method not allowed' });
        if (mode === '500') return send(res, 500, { success: false, error: 'Internal server error' });
        if (mode === 'notjson') {
          return send(res, 200, '<!DOCTYPE html><html><body><h1>CoUp</h1></body></html>', 'text/html; charset=utf-8');
        }
        if (kind === 'verify') return verify(json, res, mode);
        let studyId;
        try {
          studyId = decodeURIComponent(memberMatch[1]);
        } catch {
          return send(res, 400, { success: false, error: 'Bad study id' });
        }
        return checkMember(studyId, json, res);
      });
    });
  });

  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      srv.off('error', reject);
      resolve();
    });
  });
  port = srv.address().port;

  const api = {
    url: `http://${HOST}:${port}`,
    calls,

    setUser(id, profile = {}) {
      if (userTable === null) userTable = new Map();
      userTable.set(String(id), normalizeUser(id, profile));
    },
    /** A NextAuth session: the cookie value `token` is user `id`'s. */
    setSession(token, id) {
      sessions.set(String(token), String(id));
    },
    meCalls() {
      return calls.filter((c) => c.path === '/api/auth/me');
    },
    removeUser(id) {
      if (userTable === null) userTable = new Map();
      userTable.delete(String(id));
    },
    setMembers(studyId, userIds) {
      if (userIds === null) memberTable.delete(String(studyId));
      else memberTable.set(String(studyId), new Set(userIds.map(String)));
    },
    setLatency(ms) {
      latency = ms;
    },
    setFailure(mode, { only } = {}) {
      if (!MODES.has(mode)) throw new Error(`mock-api: unknown failure mode ${mode}`);
      if (only !== undefined && only !== 'verify' && only !== 'member') {
        throw new Error(`mock-api: "only" is 'verify' or 'member', not ${only}`);
      }
      if (only !== 'member') failure.verify = mode;
      if (only !== 'verify') failure.member = mode;
    },
    clearCalls() {
      calls.length = 0;
    },
    verifyCalls() {
      return calls.filter((c) => c.path === '/api/auth/verify');
    },
    memberCalls() {
      return calls.filter((c) => /\/check-member$/.test(c.path));
    },

    /** Stop listening and drop every connection; bounded to 2 s. */
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise((resolve) => {
        const bound = setTimeout(resolve, 2000);
        srv.close(() => {
          clearTimeout(bound);
          resolve();
        });
        srv.closeAllConnections?.();
      });
    },
  };
  return api;
}
