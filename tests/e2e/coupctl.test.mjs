// coupctl and the gateway's control socket (gateway/control.h).
//
// Two parts. "coupctl client" runs coupctl against a small fake control
// server written here, so the client's side (request lines, socket path
// resolution, output formats, exit codes, bounds) is checked exactly and
// without a gateway. "coupctl against coup-gateway" runs every command end
// to end: socket.io-client users in rooms, coupctl in human and --json
// form, and what the clients see (kicked ones get 'disconnect', a closed
// room refuses their messages, a restarted room keeps them, a drained
// gateway exits by itself).
//
// Binaries from the environment: COUPCTL (the client) and COUP_GATEWAY.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, chmodSync, writeFileSync, rmSync, statSync, existsSync } from 'node:fs';

import { startServer, binaryFromEnv, skipReason, runToExit } from './lib/server.mjs';
import { safeJson, pollUntil, waitFor, withTimeout } from './lib/wait.mjs';
import { request } from './lib/eio-polling.mjs';
import { Clients } from './lib/sio-client.mjs';
import { startMockApi } from './lib/mock-api.mjs';
import { uniq, Peer as CoupPeer } from './lib/coup.mjs';
import { readProc, namesRoom } from './lib/proc.mjs';

const GATEWAY = binaryFromEnv('COUP_GATEWAY');
const COUPCTL = binaryFromEnv('COUPCTL');
const SKIP_CLIENT = skipReason('COUPCTL');
const SKIP_GATEWAY = skipReason('COUPCTL') || skipReason('COUP_GATEWAY') || (process.platform !== 'linux' ? 'needs /proc (Linux)' : false);
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;
const SKIP_NOBODY = !IS_ROOT ? 'needs root (to run coupctl as nobody)' : !SETPRIV ? 'needs setpriv (util-linux)' : false;

// ---------------------------------------------------------------------------
// running coupctl

// Only what coupctl and the sanitizers need: RUN_DIR or CONTROL_SOCKET in
// the runner's environment must not decide which socket a test talks to.
const PASS_ENV = ['PATH', 'LANG', 'LC_ALL', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'LD_LIBRARY_PATH'];

/**
 * Run coupctl with `args`; resolves with { code, signal, stdout, stderr }.
 * options: env (added), asNobody (through setpriv), timeoutMs.
 */
function ctl(args, { env = {}, asNobody = false, timeoutMs = 15000 } = {}) {
  const base = {};
  for (const k of PASS_ENV) if (process.env[k] !== undefined) base[k] = process.env[k];
  const [cmd, argv] = asNobody
    ? [SETPRIV, ['--reuid=nobody', '--regid=nogroup', '--clear-groups', COUPCTL, ...args]]
    : [COUPCTL, args];
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, argv, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    proc.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`coupctl ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, args });
    });
  });
}

function describeRun(r) {
  return `coupctl ${r.args.join(' ')}: exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}\n  stdout: ${r.stdout.trimEnd() || '(empty)'}\n  stderr: ${r.stderr.trimEnd() || '(empty)'}`;
}

/** Run coupctl and expect exit 0; resolves with the result. */
async function ctlOk(args, opts) {
  const r = await ctl(args, opts);
  assert.equal(r.code, 0, `expected exit 0\n${describeRun(r)}`);
  assert.equal(r.stderr, '', `nothing on stderr\n${describeRun(r)}`);
  return r;
}

/** coupctl --json ... with exit 0; resolves with the parsed data. */
async function ctlJson(args, opts) {
  const r = await ctlOk(['--json', ...args], opts);
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    throw new Error(`--json output is not JSON (${err.message})\n${describeRun(r)}`);
  }
}

async function ctlExpect(args, code, opts) {
  const r = await ctl(args, opts);
  assert.equal(r.code, code, `expected exit ${code}\n${describeRun(r)}`);
  return r;
}

// ---------------------------------------------------------------------------
// reading coupctl's human output

/*
 * Terminal columns of a string, as coupctl counts them: Hangul, CJK and
 * emoji take two, combining marks none.
 */
function displayWidth(s) {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) || (c >= 0xfe00 && c <= 0xfe0f)) continue;
    if (
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0xa4cf) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6) ||
      (c >= 0x1f300 && c <= 0x1f64f) ||
      (c >= 0x1f900 && c <= 0x1f9ff) ||
      (c >= 0x20000 && c <= 0x3fffd)
    )
      w += 2;
    else w += 1;
  }
  return w;
}

/** The cells of a table line (split on two or more blanks) and their display columns. */
function cellsOf(line) {
  const cells = [];
  const re = /\S+(?: \S+)*/g;
  let m;
  while ((m = re.exec(line)) !== null) cells.push({ text: m[0], col: displayWidth(line.slice(0, m.index)) });
  return cells;
}

/**
 * Find the table whose header row is `header` in `text` and return its
 * rows as objects keyed by the header; assert that every cell starts in its
 * header's column (the columns are aligned) and that no line ends in blanks.
 */
function parseTable(text, header) {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => safeJson(cellsOf(l).map((c) => c.text)) === safeJson(header));
  assert.ok(at >= 0, `a header row ${header.join(' ')} in:\n${text}`);
  const cols = cellsOf(lines[at]).map((c) => c.col);
  const rows = [];
  for (const line of lines.slice(at + 1)) {
    if (line === '') continue;
    assert.doesNotMatch(line, /\s$/, `no trailing blanks: ${JSON.stringify(line)}`);
    const cells = cellsOf(line);
    assert.equal(cells.length, header.length, `${header.length} cells in ${JSON.stringify(line)}\n${text}`);
    assert.deepEqual(
      cells.map((c) => c.col),
      cols,
      `the cells of ${JSON.stringify(line)} start in the header's columns\n${text}`,
    );
    rows.push(Object.fromEntries(header.map((h, i) => [h, cells[i].text])));
  }
  return rows;
}

/** "key: value" lines into a Map. */
function parseKv(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const r = /^([A-Za-z0-9_.]+):\s+(.*)$/.exec(line);
    assert.ok(r, `a "key: value" line: ${JSON.stringify(line)}\n${text}`);
    m.set(r[1], r[2]);
  }
  return m;
}

/** {a:1, b:{c:2}} -> [["a","1"], ["b.c","2"]] */
function flatten(obj, prefix = '') {
  const out = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...flatten(v, `${prefix}${k}.`));
    else out.push([`${prefix}${k}`, v === null ? '-' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v)]);
  }
  return out;
}

/** show config's "KEY=VALUE  # source" lines into a Map of {value, source}. */
function parseConfigLines(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const r = /^([A-Z0-9_]+)=(.*?)\s+# (.+)$/.exec(line);
    assert.ok(r, `a "KEY=VALUE  # source" line: ${JSON.stringify(line)}`);
    m.set(r[1], { value: r[2], source: r[3] });
  }
  return m;
}

function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  // Searchable by others: the permission tests must be refused by the
  // socket's own mode, not by its directory.
  chmodSync(dir, 0o755);
  return dir;
}

// ---------------------------------------------------------------------------
// a fake control server, for the client's side

/**
 * Listen on `sockPath`. `answer(req, rawLine)` returns what to do: an
 * object (sent as one JSON line), { raw: 'text' } (written as is, then the
 * connection closed), { chunks: [...] } (written piece by piece),
 * { close: true } (close without an answer) or { hang: true } (never
 * answer). Every request line is recorded, parsed, in `requests`.
 */
async function fakeControl(sockPath, answer) {
  const requests = [];
  const conns = new Set();
  const server = net.createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', async (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i < 0) return;
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let req = null;
      try {
        req = JSON.parse(line);
      } catch {
        /* recorded as null */
      }
      requests.push({ raw: line, req });
      const a = await answer(req, line);
      if (a && a.hang) return;
      if (a && a.close) return sock.destroy();
      if (a && a.raw !== undefined) return sock.end(a.raw);
      if (a && a.chunks) {
        for (const c of a.chunks) {
          sock.write(c);
          await new Promise((r) => setTimeout(r, 5));
        }
        return sock.end();
      }
      sock.end(JSON.stringify(a) + '\n');
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(sockPath, resolve);
  });
  return {
    requests,
    close: () =>
      new Promise((resolve) => {
        for (const c of conns) c.destroy();
        server.close(() => resolve());
      }),
  };
}

const FAKE = {
  status: { version: '0.1.0', pid: 4242, uptime: 42, mode: 'single', draining: false, connections: 3, sessions: 4, rooms: 2, roomProcesses: 2, memory: { gateway: 1048576, rooms: 2097152 } },
  rooms: [
    { name: 'video:study-1-main', members: 2, pid: 111, rss: 1572864, restarts: 0 },
    { name: 'study:1', members: 12, pid: 2222, rss: 500, restarts: 3 },
    { name: 'video:given-up', members: 1, pid: null, rss: 0, restarts: 5 },
  ],
  room: {
    name: 'video:study-1-main',
    pid: 111,
    members: [
      { socketId: '-abcDEF_1', userId: 'u1', name: '사용자 에이', transport: 'websocket', isMuted: true, isVideoOff: false, isSharingScreen: false, joinedAt: '2024-05-01T10:00:00.000Z' },
      { socketId: 'xyz2', userId: 'user-two', name: 'Bob', transport: 'polling', isMuted: false, isVideoOff: true, isSharingScreen: true, joinedAt: '2024-05-01T10:00:01.500Z' },
      { socketId: 'evil3', userId: 'u3', name: 'Eve\u001b[31m\r\nX', transport: 'websocket', isMuted: false, isVideoOff: false, isSharingScreen: false, joinedAt: '2024-05-01T10:00:02.000Z' },
      { socketId: 'e4', userId: 'u4', name: '', transport: 'websocket', isMuted: false, isVideoOff: false, isSharingScreen: false, joinedAt: '2024-05-01T10:00:03.000Z' },
    ],
  },
  user: {
    userId: 'u1',
    connections: [
      { socketId: 's1', transport: 'websocket', peer: '127.0.0.1:5555', rooms: ['video:study-1-main', 'study:1'] },
      { socketId: 's2', transport: 'polling', peer: '127.0.0.1:5556', rooms: [] },
    ],
  },
  'show-config': {
    config: [
      { key: 'PORT', value: '4000', source: 'default', reloadable: false },
      { key: 'HOST', value: '', source: 'default', reloadable: false },
      { key: 'LOG_LEVEL', value: 'debug', source: 'command line', reloadable: true },
      { key: 'ALLOWED_ORIGINS', value: 'http://a#b', source: 'file', reloadable: true },
    ],
  },
  kick: { kicked: 2 },
  'close-room': { removed: 3 },
  'restart-room': { pid: 111 },
  'log-level': { level: 'debug' },
  reload: { changed: ['LOG_LEVEL', 'CHAT_MAX_LENGTH'], restartNeeded: ['PORT'] },
  drain: { draining: true, sessions: 7 },
};

describe('coupctl client (fake control server)', { skip: SKIP_CLIENT }, () => {
  let dir;
  let sock;
  let fake;
  let next = null; // one-shot answer override

  before(async () => {
    dir = tempDir('coupctl-fake-');
    sock = path.join(dir, 'coup-gateway.sock');
    fake = await fakeControl(sock, (req) => {
      if (next) {
        const n = next;
        next = null;
        return typeof n === 'function' ? n(req) : n;
      }
      if (req && req.command === 'room' && req.args[0] === 'video:nope') return { ok: false, error: 'no room video:nope', code: 'NOT_FOUND' };
      if (req && Object.hasOwn(FAKE, req.command)) return { ok: true, data: FAKE[req.command] };
      return { ok: false, error: `unknown command ${req && req.command}`, code: 'UNKNOWN_COMMAND' };
    });
  });
  after(async () => {
    if (fake) await fake.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    next = null;
  });

  it('sends one request line per command: version 1, the command, its args', async () => {
    const cases = [
      [['status'], 'status', []],
      [['rooms'], 'rooms', []],
      [['room', 'video:x'], 'room', ['video:x']],
      [['user', 'u1'], 'user', ['u1']],
      [['kick', 'sock1'], 'kick', ['sock1']],
      [['kick', '-dashFirst'], 'kick', ['-dashFirst']],
      [['kick', '--user', 'u1'], 'kick', ['--user', 'u1']],
      [['close-room', 'video:x'], 'close-room', ['video:x']],
      [['restart-room', 'study:9'], 'restart-room', ['study:9']],
      [['log-level', 'warn'], 'log-level', ['warn']],
      [['reload'], 'reload', []],
      [['drain'], 'drain', []],
      [['show', 'config'], 'show-config', []],
      [['room', '--', '--json'], 'room', ['--json']],
    ];
    for (const [args, command, want] of cases) {
      fake.requests.length = 0;
      const r = await ctl(['-s', sock, ...args]);
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(fake.requests.length, 1, `one request for ${args.join(' ')}`);
      assert.deepEqual(fake.requests[0].req, { version: 1, command, args: want }, `request of coupctl ${args.join(' ')}: ${fake.requests[0].raw}`);
    }
  });

  it('--json prints the answer\'s data as pretty JSON, whichever side of the command it is on', async () => {
    for (const cmd of ['status', 'rooms', 'user', 'show-config', 'kick', 'drain', 'reload']) {
      const args = cmd === 'user' ? ['user', 'u1'] : cmd === 'kick' ? ['kick', 's'] : cmd === 'show-config' ? ['show', 'config'] : [cmd];
      const a = await ctlOk(['-s', sock, '--json', ...args]);
      assert.deepEqual(JSON.parse(a.stdout), FAKE[cmd], `coupctl --json ${args.join(' ')}`);
      assert.ok(a.stdout.includes('\n\t') || a.stdout.includes('\n  '), `pretty (indented): ${a.stdout}`);
      const b = await ctlOk(['-s', sock, ...args, '--json']);
      assert.equal(b.stdout, a.stdout, '--json after the command');
    }
  });

  it('status: "key: value" lines, nested objects as parent.key', async () => {
    const r = await ctlOk(['-s', sock, 'status']);
    const kv = parseKv(r.stdout);
    assert.deepEqual([...kv.entries()], flatten(FAKE.status).map(([k, v]) => [k, v]), r.stdout);
  });

  it('rooms: an aligned table NAME MEMBERS PID RSS RESTARTS; RSS in K/M/G', async () => {
    const r = await ctlOk(['-s', sock, 'rooms']);
    const rows = parseTable(r.stdout, ['NAME', 'MEMBERS', 'PID', 'RSS', 'RESTARTS']);
    assert.deepEqual(rows, [
      { NAME: 'video:study-1-main', MEMBERS: '2', PID: '111', RSS: '1.5M', RESTARTS: '0' },
      { NAME: 'study:1', MEMBERS: '12', PID: '2222', RSS: '500', RESTARTS: '3' },
      { NAME: 'video:given-up', MEMBERS: '1', PID: '-', RSS: '0', RESTARTS: '5' },
    ]);
  });

  it('room: a line about the room, then SOCKET USER NAME TRANSPORT MUTED VIDEO SHARING JOINED aligned (wide characters too); control characters never reach the terminal', async () => {
    const r = await ctlOk(['-s', sock, 'room', 'video:study-1-main']);
    assert.match(r.stdout.split('\n')[0], /video:study-1-main.*111.*4 members/);
    const rows = parseTable(r.stdout, ['SOCKET', 'USER', 'NAME', 'TRANSPORT', 'MUTED', 'VIDEO', 'SHARING', 'JOINED']);
    assert.deepEqual(rows[0], { SOCKET: '-abcDEF_1', USER: 'u1', NAME: '사용자 에이', TRANSPORT: 'websocket', MUTED: 'yes', VIDEO: 'on', SHARING: 'no', JOINED: '2024-05-01T10:00:00.000Z' });
    assert.deepEqual(rows[1], { SOCKET: 'xyz2', USER: 'user-two', NAME: 'Bob', TRANSPORT: 'polling', MUTED: 'no', VIDEO: 'off', SHARING: 'yes', JOINED: '2024-05-01T10:00:01.500Z' });
    assert.equal(rows[2].NAME, 'Eve?[31m??X');
    assert.equal(rows[3].NAME, '-', 'an empty name is "-"');
    assert.doesNotMatch(r.stdout, /[\u0000-\u0009\u000b-\u001f\u007f]/, 'no control characters but newlines');
  });

  it('user: a line about the user, then SOCKET TRANSPORT PEER ROOMS', async () => {
    const r = await ctlOk(['-s', sock, 'user', 'u1']);
    assert.match(r.stdout.split('\n')[0], /u1.*2 connections/);
    assert.deepEqual(parseTable(r.stdout, ['SOCKET', 'TRANSPORT', 'PEER', 'ROOMS']), [
      { SOCKET: 's1', TRANSPORT: 'websocket', PEER: '127.0.0.1:5555', ROOMS: 'video:study-1-main,study:1' },
      { SOCKET: 's2', TRANSPORT: 'polling', PEER: '127.0.0.1:5556', ROOMS: '-' },
    ]);
  });

  it('show config: KEY=VALUE  # source, quoted where a file would read it back differently', async () => {
    const r = await ctlOk(['-s', sock, 'show', 'config']);
    assert.equal(
      r.stdout,
      'PORT=4000  # default\nHOST=  # default\nLOG_LEVEL=debug  # command line\nALLOWED_ORIGINS="http://a#b"  # file\n',
    );
  });

  it('the other commands: a one-line summary', async () => {
    const cases = [
      [['kick', 'sock1'], /^kicked 2 connections\n$/],
      [['kick', '--user', 'u1'], /^kicked 2 connections of user u1\n$/],
      [['close-room', 'video:x'], /^closed video:x: removed 3 members\n$/],
      [['restart-room', 'video:x'], /^restarted video:x \(old pid 111\)\n$/],
      [['log-level', 'debug'], /^log level: debug\n$/],
      [['reload'], /^reloaded: changed: LOG_LEVEL,CHAT_MAX_LENGTH; restart needed: PORT\n$/],
      [['drain'], /^draining: closing 7 sessions, then exiting\n$/],
    ];
    for (const [args, re] of cases) {
      const r = await ctlOk(['-s', sock, ...args]);
      assert.match(r.stdout, re, describeRun(r));
    }
  });

  it('ok:false: exit 1, "coupctl: <error>" on stderr, nothing on stdout', async () => {
    const r = await ctlExpect(['-s', sock, 'room', 'video:nope'], 1);
    assert.equal(r.stderr, 'coupctl: no room video:nope\n');
    assert.equal(r.stdout, '');
    next = { ok: false, error: 'bad\u001b]0;title\u0007', code: 'FAILED' };
    const r2 = await ctlExpect(['-s', sock, '--json', 'status'], 1);
    assert.equal(r2.stderr, 'coupctl: bad?]0;title?\n', 'control characters of the error are defanged');
  });

  it('FORBIDDEN (refused by the gateway\'s peer-credential check): exit 3, "permission denied" with the path, like a socket mode that keeps us out', async () => {
    next = { ok: false, error: 'permission denied', code: 'FORBIDDEN' };
    const r = await ctlExpect(['-s', sock, 'status'], 3);
    assert.match(r.stderr, /^coupctl: cannot reach the gateway: permission denied/);
    assert.ok(r.stderr.includes(sock), r.stderr);
    assert.equal(r.stdout, '');
  });

  it('a gateway that answers and hangs up before reading the request (its refusal): the answer still counts', async () => {
    const refuser = path.join(dir, 'refuser.sock');
    const srv = net.createServer((s) => {
      s.on('error', () => {});
      s.end('{"ok":false,"error":"permission denied","code":"FORBIDDEN"}\n');
      s.destroy();
    });
    await new Promise((resolve) => srv.listen(refuser, resolve));
    try {
      for (let i = 0; i < 20; i++) {
        const r = await ctlExpect(['-s', refuser, 'status'], 3);
        assert.match(r.stderr, /permission denied/, describeRun(r));
      }
    } finally {
      await new Promise((resolve) => srv.close(resolve));
    }
  });

  it('an answer in small pieces, and a last line without a newline, are read whole', async () => {
    const line = JSON.stringify({ ok: true, data: FAKE.rooms });
    next = { chunks: [line.slice(0, 3), line.slice(3, 40), line.slice(40), '\n'] };
    assert.deepEqual(await ctlJson(['-s', sock, 'rooms']), FAKE.rooms);
    next = { raw: line };
    assert.deepEqual(await ctlJson(['-s', sock, 'rooms']), FAKE.rooms);
  });

  it('no usable answer: exit 3 with a message (closed without answer, not JSON, no "ok", over 16 MB)', async () => {
    for (const [a, re] of [
      [{ close: true }, /without an answer/],
      [{ raw: 'hello\n' }, /not understood/],
      [{ raw: '{"data":1}\n' }, /not understood/],
      [{ raw: JSON.stringify({ ok: true, data: 'x'.repeat(17 * 1024 * 1024) }) + '\n' }, /larger than/],
    ]) {
      next = a;
      const r = await ctlExpect(['-s', sock, 'status'], 3);
      assert.match(r.stderr, /^coupctl: /);
      assert.match(r.stderr, re, describeRun(r));
      assert.equal(r.stdout, '');
    }
  });

  it('an answer of nearly 16 MB is accepted', async () => {
    const data = 'y'.repeat(15 * 1024 * 1024);
    next = { raw: JSON.stringify({ ok: true, data }) + '\n' };
    const r = await ctlOk(['-s', sock, '--json', 'status']);
    assert.equal(JSON.parse(r.stdout), data);
  });

  it('a gateway that never answers: exit 3 after 10 s', { timeout: 30000 }, async () => {
    next = { hang: true };
    const t0 = Date.now();
    const r = await ctlExpect(['-s', sock, 'status'], 3, { timeoutMs: 20000 });
    const took = Date.now() - t0;
    assert.match(r.stderr, /no answer .*10 s/);
    assert.ok(took >= 9500 && took < 15000, `gave up after ${took} ms`);
  });

  it('the socket path: -s, else CONTROL_SOCKET, else RUN_DIR/coup-gateway.sock; environment over --config file over default', async () => {
    const cfg = path.join(dir, 'coup.env');
    const other = tempDir('coupctl-other-');
    try {
      // RUN_DIR from the environment.
      await ctlOk(['status'], { env: { RUN_DIR: dir } });
      // CONTROL_SOCKET from the environment wins over RUN_DIR.
      await ctlOk(['status'], { env: { RUN_DIR: other, CONTROL_SOCKET: sock } });
      // --config FILE (a .env file with foreign keys and comments).
      writeFileSync(cfg, `# CoUp\nDATABASE_URL="postgres://x"\nexport RUN_DIR=${dir}\n`);
      let r = await ctlOk(['--config', cfg, 'status']);
      writeFileSync(cfg, `CONTROL_SOCKET=${sock}\nRUN_DIR=${other}\n`);
      r = await ctlOk(['--config', cfg, 'status']);
      // The environment beats the file.
      writeFileSync(cfg, `RUN_DIR=${other}\n`);
      await ctlOk(['--config', cfg, 'status'], { env: { RUN_DIR: dir } });
      r = await ctlExpect(['--config', cfg, 'status'], 3);
      assert.ok(r.stderr.includes(path.join(other, 'coup-gateway.sock')), `names the path it tried: ${r.stderr}`);
      // -s beats everything.
      await ctlOk(['-s', sock, '--config', cfg, 'status'], { env: { RUN_DIR: other, CONTROL_SOCKET: path.join(other, 'x.sock') } });
      await ctlOk([`--socket=${sock}`, 'status'], { env: { CONTROL_SOCKET: path.join(other, 'x.sock') } });
      // The default (unless a real gateway runs there).
      if (!existsSync('/run/coup-signaling/coup-gateway.sock')) {
        r = await ctlExpect(['status'], 3);
        assert.ok(r.stderr.includes('/run/coup-signaling/coup-gateway.sock'), r.stderr);
      }
      // CONTROL_SOCKET=off: there is nothing to reach.
      r = await ctlExpect(['status'], 3, { env: { CONTROL_SOCKET: 'off' } });
      assert.match(r.stderr, /off/);
      // A broken --config file is a usage error, reported as such.
      writeFileSync(cfg, 'RUN_DIR=\n');
      r = await ctlExpect(['--config', cfg, 'status'], 2);
      assert.match(r.stderr, /RUN_DIR/);
      r = await ctlExpect(['--config', path.join(dir, 'missing.env'), 'status'], 2);
      assert.match(r.stderr, /missing\.env/);
    } finally {
      rmSync(other, { recursive: true, force: true });
      rmSync(cfg, { force: true });
    }
  });

  it('cannot reach: exit 3 and a message naming the path (no socket, not a socket)', async () => {
    const missing = path.join(dir, 'missing.sock');
    let r = await ctlExpect(['-s', missing, 'status'], 3);
    assert.ok(r.stderr.includes(missing), r.stderr);
    assert.match(r.stderr, /not running|does not exist/);
    const plain = path.join(dir, 'plain-file');
    writeFileSync(plain, '');
    try {
      r = await ctlExpect(['-s', plain, 'status'], 3);
      assert.ok(r.stderr.includes(plain), r.stderr);
    } finally {
      rmSync(plain, { force: true });
    }
    r = await ctlExpect(['-s', '/' + 'x'.repeat(200), 'status'], 3);
    assert.match(r.stderr, /too long/);
  });

  it('permission denied: coupctl as nobody on a 0660 root socket exits 3 and says so', { skip: SKIP_NOBODY }, async () => {
    const mode = statSync(sock).mode & 0o777;
    try {
      chmodSync(sock, 0o660);
      const r = await ctlExpect(['-s', sock, 'status'], 3, { asNobody: true });
      assert.match(r.stderr, /permission denied/i);
      assert.ok(r.stderr.includes(sock), `names the socket: ${r.stderr}`);
      assert.equal(r.stdout, '');
      // The same socket open to all: nobody gets through (the fake checks no credentials).
      chmodSync(sock, 0o666);
      await ctlOk(['-s', sock, 'status'], { asNobody: true });
    } finally {
      chmodSync(sock, mode);
    }
  });

  it('usage errors: exit 2 and the usage on stderr, nothing sent', async () => {
    fake.requests.length = 0;
    for (const args of [
      [],
      ['frobnicate'],
      ['room'],
      ['user'],
      ['kick'],
      ['kick', '--user'],
      ['kick', 'a', 'b'],
      ['close-room'],
      ['restart-room'],
      ['log-level'],
      ['log-level', 'verbose'],
      ['show'],
      ['show', 'rooms'],
      ['status', 'extra'],
      ['--bogus', 'status'],
      ['-s'],
      ['room', ''],
    ]) {
      const r = await ctlExpect(['-s', sock, ...args], 2);
      assert.match(r.stderr, /^coupctl: .+\n/, describeRun(r));
      assert.match(r.stderr, /Usage: coupctl/, describeRun(r));
      assert.equal(r.stdout, '');
    }
    assert.equal(fake.requests.length, 0, `no request sent: ${safeJson(fake.requests)}`);
  });

  it('-h/--help and -V/--version: exit 0 on stdout', async () => {
    for (const a of ['-h', '--help']) {
      const r = await ctlOk([a]);
      assert.match(r.stdout, /Usage: coupctl/);
      for (const c of ['status', 'rooms', 'room NAME', 'user ID', 'kick SOCKET', 'kick --user ID', 'close-room NAME', 'restart-room NAME', 'log-level', 'reload', 'drain', 'show config']) {
        assert.ok(r.stdout.includes(c), `--help mentions ${c}`);
      }
    }
    for (const args of [['kick', '--help'], ['room', '-h']]) {
      const r = await ctlOk(['-s', sock, ...args]);
      assert.match(r.stdout, /Usage: coupctl/, `${args.join(' ')} prints the help`);
    }
    for (const a of ['-V', '--version']) {
      const r = await ctlOk([a]);
      assert.match(r.stdout, /^coupctl \d+\.\d+/);
    }
  });
});

// ---------------------------------------------------------------------------
// end to end, against coup-gateway

/** The shared recording peer, plus what these tests ask of a kicked one. */
class Peer extends CoupPeer {
  /** A round trip: the connection is alive and served. */
  async roundTrip() {
    assert.ok(this.socket.connected, `${this.name} is still connected (disconnects: ${safeJson(this.disconnects)})`);
    const res = await this.ack('chat:mark-read', [{ messageIds: [] }]);
    assert.equal(res?.ok, true, `${this.name}: ack of chat:mark-read: ${safeJson(res)}`);
  }

  /** Resolves with the reason of this socket's 'disconnect' (bounded). */
  async disconnected(timeoutMs = 5000) {
    if (this.disconnects.length > 0) return this.disconnects[0];
    const [reason] = await waitFor(this.socket, 'disconnect', { timeoutMs, what: `'disconnect' of ${this.name}` });
    return reason;
  }
}

async function joinStudy(peer, studyId) {
  peer.emit('presence:join-study', { studyId });
  return peer.next('presence:study-joined', { filter: (e) => e && e.studyId === studyId, what: `presence:study-joined for ${studyId}` });
}

async function joinVideo(peer, studyId, roomId = `study-${studyId}-main`) {
  peer.emit('video:join-room', { studyId, roomId });
  return peer.next('video:room-state', { filter: (e) => e && (e.roomId === undefined || e.roomId === roomId), what: `video:room-state after joining ${roomId}` });
}

/** A live (not zombie) process, child of `parent`, whose command line names `room`. */
function isRoomProcess(pid, parent, room) {
  const status = readProc(pid, 'status');
  if (status === null || /^State:\s+Z/m.test(status)) return false;
  if (!new RegExp(`^PPid:\\s+${parent}$`, 'm').test(status)) return false;
  return namesRoom((readProc(pid, 'cmdline') ?? '').split('\0'), room);
}

/** One request line on the control socket, raw; resolves with the answer text and whether the gateway closed. */
function rawControl(sockPath, line, { timeoutMs = 5000 } = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const s = net.createConnection(sockPath);
      let data = '';
      s.setEncoding('utf8');
      s.on('connect', () => s.write(line));
      s.on('data', (d) => (data += d));
      // A reset is the gateway closing on a request it would not read.
      s.on('error', (err) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve({ data, closed: true, reset: err.code }) : reject(err)));
      s.on('close', () => resolve({ data, closed: true }));
    }),
    timeoutMs,
    `the answer to ${JSON.stringify(line.slice(0, 100))} and the close of the connection`,
  );
}

function parseAnswer(a, what) {
  assert.ok(a.data.endsWith('\n'), `${what}: the answer is one line ending in a newline: ${JSON.stringify(a.data.slice(0, 300))}`);
  assert.equal(a.data.indexOf('\n'), a.data.length - 1, `${what}: exactly one line: ${JSON.stringify(a.data.slice(0, 300))}`);
  return JSON.parse(a.data);
}

/**
 * A gateway with RUN_DIR=<fresh dir> and --config <file> (RUN_DIR and
 * LOG_LEVEL come from the file, so coupctl --config finds the same socket
 * and reload sees the file's changes), its mock API, and helpers.
 */
function useGateway({ args = [], file = '' } = {}) {
  const ctx = { api: null, server: null, dir: null, sock: null, cfg: null, clients: new Clients() };
  ctx.fileText = (extra = file) => `# written by coupctl.test.mjs\nRUN_DIR=${ctx.dir}\nLOG_LEVEL=info\n${extra}`;
  before(async () => {
    ctx.dir = tempDir('coupctl-gw-');
    ctx.sock = path.join(ctx.dir, 'coup-gateway.sock');
    ctx.cfg = path.join(ctx.dir, 'coup.env');
    writeFileSync(ctx.cfg, ctx.fileText());
    ctx.api = await startMockApi();
    ctx.server = await startServer(GATEWAY, ['NODE_ENV=production', `NEXTJS_URL=${ctx.api.url}`, ...args, '--config', ctx.cfg], { name: 'coup-gateway' });
    ctx.url = ctx.server.url;
    await pollUntil(() => ({ ok: existsSync(ctx.sock), value: ctx.sock }), {
      attempts: 50,
      intervalMs: 100,
      what: `the control socket ${ctx.sock} to appear`,
    });
  });
  afterEach(() => {
    ctx.clients.closeAll();
    if (ctx.server && !ctx.server.running && !ctx.expectExit) {
      throw new Error(`the gateway died (${ctx.server.describeExit()})\n--- last stderr lines ---\n${ctx.server.stderrTail()}`);
    }
  });
  after(async () => {
    ctx.clients.closeAll();
    try {
      if (ctx.server && ctx.server.running) await ctx.server.stopAndCheck();
    } finally {
      if (ctx.api) await ctx.api.close();
      if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
    }
  });
  ctx.user = (label) => {
    const id = uniq(`u${label}`);
    const user = { id, name: `사용자 ${label}` };
    ctx.api.setUser(id, { name: user.name, email: `${id}@coup.test`, avatar: null, status: 'ACTIVE' });
    return user;
  };
  ctx.peer = async (label, opts = {}, user = null) => {
    const u = user ?? ctx.user(label);
    const socket = await ctx.clients.connect(ctx.url, { transports: ['websocket'], auth: { userId: u.id, token: `tok-${u.id}` }, ...opts });
    return new Peer(socket, u, label);
  };
  ctx.ctl = (a, o) => ctl(['-s', ctx.sock, ...a], o);
  ctx.ok = (a, o) => ctlOk(['-s', ctx.sock, ...a], o);
  ctx.json = (a, o) => ctlJson(['-s', ctx.sock, ...a], o);
  ctx.expect = (a, code, o) => ctlExpect(['-s', ctx.sock, ...a], code, o);
  return ctx;
}

describe('coupctl against coup-gateway', { skip: SKIP_GATEWAY }, () => {
  const g = useGateway({ args: ['ROOM_IDLE_TIMEOUT=2'], file: 'MAX_CONNECTIONS=100000\nCHAT_MAX_LENGTH=4000\n' });

  it('the control socket: RUN_DIR/coup-gateway.sock, a socket of mode 0660 owned by the gateway\'s user', () => {
    const st = statSync(g.sock);
    assert.ok(st.isSocket(), `${g.sock} is a socket`);
    assert.equal((st.mode & 0o777).toString(8), '660', `mode of ${g.sock}`);
    assert.equal(st.uid, process.getuid(), 'owned by the gateway\'s user');
  });

  it('status: the gateway\'s figures, human and --json alike, matching the connected users and their rooms', async () => {
    const studyId = uniq('s');
    const a = await g.peer('A');
    const b = await g.peer('B');
    const c = await g.peer('C');
    await joinVideo(a, studyId);
    await joinVideo(b, studyId);
    for (const p of [a, b, c]) await joinStudy(p, studyId);

    const s = await g.json(['status']);
    for (const k of ['version', 'pid', 'uptime', 'mode', 'logLevel', 'draining', 'connections', 'sessions', 'rooms', 'roomProcesses', 'roomRestarts', 'memory']) {
      assert.ok(Object.hasOwn(s, k), `status has "${k}": ${safeJson(s)}`);
    }
    assert.equal(s.pid, g.server.proc.pid, 'pid is the gateway\'s');
    assert.equal(s.draining, false, 'not draining');
    assert.equal(s.connections, 3, `3 connections: ${safeJson(s)}`);
    assert.equal(s.sessions, 3, `3 sessions: ${safeJson(s)}`);
    assert.equal(s.rooms, 2, `2 rooms (the video room and the study room): ${safeJson(s)}`);
    assert.equal(s.roomProcesses, 2, `2 room processes: ${safeJson(s)}`);
    assert.equal(typeof s.uptime, 'number');
    assert.ok(s.uptime >= 0 && s.uptime < 600, `uptime ${s.uptime}`);
    assert.equal(typeof s.version, 'string');
    assert.equal(s.mode, 'production', 'mode: NODE_ENV');
    assert.equal(s.logLevel, 'info', 'logLevel: from the --config file');
    assert.equal(s.roomRestarts, 0, 'no room process restarted yet');
    assert.ok(s.memory.gateway > 0, `memory.gateway ${safeJson(s.memory)}`);
    assert.ok(s.memory.rooms > 0, `memory.rooms ${safeJson(s.memory)}`);
    const m = JSON.parse((await request(`${g.url}/metrics`)).body);
    assert.equal(s.connections, m.connections, `status and /metrics agree on connections: ${safeJson(m)}`);
    assert.equal(s.rooms, m.rooms, 'status and /metrics agree on rooms');

    const h = await g.ok(['status']);
    const kv = parseKv(h.stdout);
    for (const [k, v] of flatten(s)) {
      if (k === 'uptime' || k.startsWith('memory.')) {
        assert.ok(kv.has(k), `human status has ${k}:\n${h.stdout}`);
        continue; // they move between two calls
      }
      assert.equal(kv.get(k), v, `human status ${k}:\n${h.stdout}`);
    }
  });

  it('rooms: every room with its member count and a live pid (a coup-roomd child); human table alike', async () => {
    const studyId = uniq('s');
    const video = `video:study-${studyId}-main`;
    const study = `study:${studyId}`;
    const [a, b, c] = [await g.peer('A'), await g.peer('B'), await g.peer('C')];
    await joinVideo(a, studyId);
    await joinVideo(b, studyId);
    for (const p of [a, b, c]) await joinStudy(p, studyId);

    const list = await g.json(['rooms']);
    assert.ok(Array.isArray(list), `an array: ${safeJson(list)}`);
    const v = list.find((r) => r.name === video);
    const s = list.find((r) => r.name === study);
    assert.ok(v && s, `rooms lists ${video} and ${study}: ${safeJson(list)}`);
    assert.equal(v.members, 2, `${video} members: ${safeJson(v)}`);
    assert.equal(s.members, 3, `${study} members: ${safeJson(s)}`);
    const gw = g.server.proc.pid;
    for (const r of [v, s]) {
      assert.ok(Number.isInteger(r.pid) && r.pid > 0, `pid of ${r.name}: ${safeJson(r)}`);
      assert.ok(isRoomProcess(r.pid, gw, r.name), `${r.pid} is a live coup-roomd child of ${gw} for ${r.name}: ${readProc(r.pid, 'cmdline')}`);
      assert.ok(r.rss > 0, `rss of ${r.name}: ${safeJson(r)}`);
      assert.equal(r.restarts, 0, `restarts of ${r.name}`);
    }
    assert.notEqual(v.pid, s.pid, 'one process per room');

    const h = await g.ok(['rooms']);
    const rows = parseTable(h.stdout, ['NAME', 'MEMBERS', 'PID', 'RSS', 'RESTARTS']);
    for (const r of [v, s]) {
      const row = rows.find((x) => x.NAME === r.name);
      assert.ok(row, `human rooms lists ${r.name}:\n${h.stdout}`);
      assert.deepEqual([row.MEMBERS, row.PID, row.RESTARTS], [String(r.members), String(r.pid), '0'], h.stdout);
      assert.match(row.RSS, /^\d+(\.\d)?[KMGT]?$/);
    }
  });

  it('room NAME: its members with their media flags after toggle-audio/-video and screen sharing; human table alike', async () => {
    const studyId = uniq('s');
    const roomId = `study-${studyId}-main`;
    const name = `video:${roomId}`;
    const a = await g.peer('A');
    const b = await g.peer('B');
    const c = await g.peer('C', { transports: ['polling'] });
    for (const p of [a, b, c]) await joinVideo(p, studyId);
    a.emit('video:toggle-audio', { roomId, isMuted: true });
    await c.next('video:peer-audio-changed', { filter: (e) => e && e.socketId === a.sid });
    b.emit('video:toggle-video', { roomId, isVideoOff: true });
    await c.next('video:peer-video-changed', { filter: (e) => e && e.socketId === b.sid });
    b.emit('video:screen-share-start', { roomId });
    await c.next('video:peer-screen-share', { filter: (e) => e && e.socketId === b.sid });

    const room = await g.json(['room', name]);
    assert.equal(room.name, name);
    const rooms = await g.json(['rooms']);
    assert.equal(room.pid, rooms.find((r) => r.name === name)?.pid, 'the pid rooms lists');
    assert.equal(room.members.length, 3, safeJson(room));
    const want = {
      [a.sid]: { peer: a, transport: 'websocket', isMuted: true, isVideoOff: false, isSharingScreen: false },
      [b.sid]: { peer: b, transport: 'websocket', isMuted: false, isVideoOff: true, isSharingScreen: true },
      [c.sid]: { peer: c, transport: 'polling', isMuted: false, isVideoOff: false, isSharingScreen: false },
    };
    for (const m of room.members) {
      const w = want[m.socketId];
      assert.ok(w, `member ${m.socketId} is one of A, B, C: ${safeJson(room)}`);
      assert.equal(m.userId, w.peer.userId);
      assert.equal(m.name, w.peer.user.name);
      assert.equal(m.transport, w.transport, `transport of ${w.peer.label}`);
      assert.equal(m.isMuted, w.isMuted, `isMuted of ${w.peer.label}`);
      assert.equal(m.isVideoOff, w.isVideoOff, `isVideoOff of ${w.peer.label}`);
      assert.equal(m.isSharingScreen, w.isSharingScreen, `isSharingScreen of ${w.peer.label}`);
      assert.ok(!Number.isNaN(Date.parse(m.joinedAt)), `joinedAt is a date: ${m.joinedAt}`);
    }

    const h = await g.ok(['room', name]);
    assert.ok(h.stdout.split('\n')[0].includes(name), h.stdout);
    const rows = parseTable(h.stdout, ['SOCKET', 'USER', 'NAME', 'TRANSPORT', 'MUTED', 'VIDEO', 'SHARING', 'JOINED']);
    assert.equal(rows.length, 3, h.stdout);
    for (const r of rows) {
      const w = want[r.SOCKET];
      assert.ok(w, `row ${safeJson(r)}`);
      assert.deepEqual(
        [r.USER, r.NAME, r.TRANSPORT, r.MUTED, r.VIDEO, r.SHARING],
        [w.peer.userId, w.peer.user.name, w.transport, w.isMuted ? 'yes' : 'no', w.isVideoOff ? 'off' : 'on', w.isSharingScreen ? 'yes' : 'no'],
        h.stdout,
      );
    }
  });

  it('user ID: its connections (two tabs, two rows) with transport, peer address and rooms', async () => {
    const studyId = uniq('s');
    const user = g.user('T');
    const tab1 = await g.peer('T1', {}, user);
    const tab2 = await g.peer('T2', { transports: ['polling'] }, user);
    await joinVideo(tab1, studyId);
    await joinStudy(tab2, studyId);

    const u = await g.json(['user', user.id]);
    assert.equal(u.userId, user.id);
    assert.equal(u.connections.length, 2, `two connections: ${safeJson(u)}`);
    const byId = new Map(u.connections.map((c) => [c.socketId, c]));
    assert.deepEqual([...byId.keys()].sort(), [tab1.sid, tab2.sid].sort());
    assert.equal(byId.get(tab1.sid).transport, 'websocket');
    assert.equal(byId.get(tab2.sid).transport, 'polling');
    for (const c of u.connections) assert.match(String(c.peer), /127\.0\.0\.1/, `peer of ${c.socketId}`);
    assert.deepEqual(byId.get(tab1.sid).rooms, [`video:study-${studyId}-main`], 'tab 1 is in the video room');
    assert.deepEqual(byId.get(tab2.sid).rooms, [`study:${studyId}`], 'tab 2 is in the study room');

    const h = await g.ok(['user', user.id]);
    assert.ok(h.stdout.split('\n')[0].includes(user.id), h.stdout);
    const rows = parseTable(h.stdout, ['SOCKET', 'TRANSPORT', 'PEER', 'ROOMS']);
    assert.deepEqual(
      rows.map((r) => [r.SOCKET, r.TRANSPORT, r.ROOMS]).sort(),
      [
        [tab1.sid, 'websocket', `video:study-${studyId}-main`],
        [tab2.sid, 'polling', `study:${studyId}`],
      ].sort(),
      h.stdout,
    );
  });

  it('user ID of nobody connected: not found (exit 1) or no connections', async () => {
    const r = await g.ctl(['--json', 'user', uniq('ghost')]);
    if (r.code === 0) assert.deepEqual(JSON.parse(r.stdout).connections, [], describeRun(r));
    else assert.equal(r.code, 1, describeRun(r));
  });

  it('kick SOCKET: that client is disconnected, the others (the same user\'s other tab too) stay', async () => {
    const studyId = uniq('s');
    const name = `video:study-${studyId}-main`;
    const user = g.user('K');
    const k1 = await g.peer('K1', {}, user);
    const k2 = await g.peer('K2', {}, user);
    const o = await g.peer('O');
    for (const p of [k1, o]) await joinVideo(p, studyId);

    const r = await g.ok(['kick', k1.sid]);
    assert.match(r.stdout, /^kicked 1 connection\n$/, describeRun(r));
    await k1.disconnected();
    await o.roundTrip();
    await k2.roundTrip();
    await o.next('video:user-left', { filter: (e) => e && e.socketId === k1.sid, what: 'video:user-left of the kicked member' });
    const room = await g.json(['room', name]);
    assert.deepEqual(room.members.map((m) => m.socketId), [o.sid], `only O is left in ${name}`);

    // --json, and a socket id that is no longer there.
    assert.deepEqual(await g.json(['kick', k2.sid]), { kicked: 1 });
    await k2.disconnected();
    const again = await g.ctl(['--json', 'kick', k2.sid]);
    if (again.code === 0) assert.deepEqual(JSON.parse(again.stdout), { kicked: 0 }, describeRun(again));
    else assert.equal(again.code, 1, `a gone socket: kicked 0 or not found\n${describeRun(again)}`);
    await o.roundTrip();
  });

  it('kick --user ID: every tab of that user is disconnected, other users stay', async () => {
    const user = g.user('U');
    const tabs = [await g.peer('U1', {}, user), await g.peer('U2', { transports: ['polling'] }, user), await g.peer('U3', {}, user)];
    const other = await g.peer('V');
    const r = await g.ok(['kick', '--user', user.id]);
    assert.match(r.stdout, /^kicked 3 connections/, describeRun(r));
    for (const t of tabs) await t.disconnected();
    await other.roundTrip();
    const u = await g.ctl(['--json', 'user', user.id]);
    if (u.code === 0) assert.deepEqual(JSON.parse(u.stdout).connections, [], describeRun(u));

    const user2 = g.user('W');
    const w = [await g.peer('W1', {}, user2), await g.peer('W2', {}, user2)];
    assert.deepEqual(await g.json(['kick', '--user', user2.id]), { kicked: 2 });
    for (const t of w) await t.disconnected();
    await other.roundTrip();
  });

  it('close-room NAME: the room is emptied; its members stay connected but are no longer in it (NOT_IN_ROOM)', async () => {
    const studyId = uniq('s');
    const roomId = `study-${studyId}-main`;
    const name = `video:${roomId}`;
    const [a, b] = [await g.peer('A'), await g.peer('B')];
    await joinVideo(a, studyId);
    await joinVideo(b, studyId);
    // A bystander room, closed with --json below.
    const s2 = uniq('s');
    const c = await g.peer('C');
    await joinVideo(c, s2);

    const r = await g.ok(['close-room', name]);
    assert.match(r.stdout, /removed 2 members/, describeRun(r));
    const after = await g.ctl(['--json', 'room', name]);
    if (after.code === 0) assert.deepEqual(JSON.parse(after.stdout).members, [], `no members left\n${describeRun(after)}`);
    else assert.equal(after.code, 1, `room ${name} after close-room: empty or not found\n${describeRun(after)}`);
    const h = await g.ctl(['room', name]);
    if (h.code === 0) assert.match(h.stdout, /0 members/, describeRun(h));
    const list = await g.json(['rooms']);
    const entry = list.find((x) => x.name === name);
    assert.ok(!entry || entry.members === 0, `rooms: ${name} is gone or empty: ${safeJson(entry)}`);

    for (const p of [a, b]) {
      // Told at once (coupctl(8)): an "error" NOT_IN_ROOM.
      const told = await p.next('error', { what: `the "error" NOT_IN_ROOM that tells ${p.label} the room was closed` });
      assert.equal(told?.code, 'NOT_IN_ROOM', `${p.label}: ${safeJson(told)}`);
      // And no longer in it: a message to the room is refused.
      const ack = await p.ack('chat:video-message', [{ roomId, message: 'still here?' }]);
      assert.equal(ack?.ok, false, `${p.label}'s chat:video-message after close-room is refused: ${safeJson(ack)}`);
      assert.equal(ack?.code, 'NOT_IN_ROOM', `${p.label}: ${safeJson(ack)}`);
      await p.roundTrip();
    }
    for (const p of [a, b]) assert.deepEqual(p.all('chat:video-message-received'), [], `${p.label} received no message of the closed room`);
    // C's room is untouched by that.
    const cr = await g.json(['room', `video:study-${s2}-main`]);
    assert.deepEqual(cr.members.map((m) => m.socketId), [c.sid]);
    assert.deepEqual(await g.json(['close-room', `video:study-${s2}-main`]), { removed: 1 });
    assert.equal((await c.next('error'))?.code, 'NOT_IN_ROOM');
    const ack = await c.ack('chat:video-message', [{ roomId: `study-${s2}-main`, message: 'x' }]);
    assert.equal(ack?.code, 'NOT_IN_ROOM', safeJson(ack));
  });

  it('restart-room NAME: a new process (new pid), the members stay and messages still flow', async () => {
    const studyId = uniq('s');
    const roomId = `study-${studyId}-main`;
    const name = `video:${roomId}`;
    const [a, b] = [await g.peer('A'), await g.peer('B')];
    await joinVideo(a, studyId);
    await joinVideo(b, studyId);
    a.emit('video:toggle-audio', { roomId, isMuted: true });
    await b.next('video:peer-audio-changed');
    const gw = g.server.proc.pid;
    const old = (await g.json(['rooms'])).find((r) => r.name === name);
    assert.ok(old && old.pid > 0, `rooms lists ${name} with a pid`);

    const r = await g.ok(['restart-room', name]);
    assert.equal(r.stdout, `restarted ${name} (old pid ${old.pid})\n`);
    const now = await pollUntil(
      async () => {
        const e = (await g.json(['rooms'])).find((x) => x.name === name);
        return { ok: e && e.pid > 0 && e.pid !== old.pid && isRoomProcess(e.pid, gw, name), value: e };
      },
      { attempts: 50, intervalMs: 100, what: `a new live process for ${name}` },
    );
    assert.equal(now.members, 2, `members kept: ${safeJson(now)}`);
    await pollUntil(() => ({ ok: readProc(old.pid, 'status') === null || /State:\s+Z/.test(readProc(old.pid, 'status')), value: old.pid }), {
      attempts: 50,
      intervalMs: 100,
      what: `the old process ${old.pid} to be gone`,
    });
    const room = await g.json(['room', name]);
    assert.equal(room.pid, now.pid);
    assert.deepEqual(room.members.map((m) => m.socketId).sort(), [a.sid, b.sid].sort(), safeJson(room));
    assert.equal(room.members.find((m) => m.socketId === a.sid).isMuted, true, 'A is still muted');

    a.emit('chat:video-message', { roomId, message: 'after the restart' });
    for (const p of [a, b]) await p.next('chat:video-message-received', { filter: (m) => m && m.message === 'after the restart' });
    for (const p of [a, b]) {
      assert.deepEqual(p.all('video:user-left'), [], `${p.label} saw nobody leave`);
      assert.deepEqual(p.all('error'), [], `${p.label} got no error`);
    }

    // --json: the old pid, which is the current one.
    assert.deepEqual(await g.json(['restart-room', name]), { pid: now.pid });
    b.emit('chat:video-message', { roomId, message: 'after the second restart' });
    await a.next('chat:video-message-received', { filter: (m) => m && m.message === 'after the second restart', timeoutMs: 10000 });
  });

  it('restart-room three times in a row (each once the new process is up): an administrator\'s restarts are not crashes, the members stay', { timeout: 30000 }, async () => {
    const studyId = uniq('s');
    const roomId = `study-${studyId}-main`;
    const name = `video:${roomId}`;
    const [a, b] = [await g.peer('A'), await g.peer('B')];
    await joinVideo(a, studyId);
    await joinVideo(b, studyId);
    const gw = g.server.proc.pid;
    let pid = (await g.json(['rooms'])).find((r) => r.name === name).pid;
    for (let i = 1; i <= 3; i++) {
      const r = await g.ok(['restart-room', name]);
      assert.equal(r.stdout, `restarted ${name} (old pid ${pid})\n`, `restart ${i}`);
      const e = await pollUntil(
        async () => {
          const x = (await g.json(['rooms'])).find((y) => y.name === name);
          return { ok: !x || (x.pid > 0 && x.pid !== pid && isRoomProcess(x.pid, gw, name)), value: x };
        },
        { attempts: 50, intervalMs: 100, what: `the process of ${name} after restart ${i}` },
      );
      assert.ok(e, `after restart ${i}, rooms still lists ${name} (the gateway gave the room up)`);
      pid = e.pid;
      a.emit('chat:video-message', { roomId, message: `after restart ${i}` });
      await b.next('chat:video-message-received', { filter: (m) => m && m.message === `after restart ${i}`, timeoutMs: 5000 });
    }
    const room = await g.json(['room', name]);
    assert.deepEqual(room.members.map((m) => m.socketId).sort(), [a.sid, b.sid].sort(), 'both members stay');
    for (const p of [a, b]) assert.deepEqual(p.all('error'), [], `${p.label} got no error (ROOM_UNAVAILABLE, NOT_IN_ROOM)`);
  });

  it('unknown room: exit 1 with the gateway\'s error (room, close-room, restart-room)', async () => {
    for (const cmd of ['room', 'close-room', 'restart-room']) {
      const r = await g.expect([cmd, `video:${uniq('nope')}`], 1);
      assert.match(r.stderr, /^coupctl: \S.*\n$/, describeRun(r));
      assert.equal(r.stdout, '');
    }
  });

  it('log-level LEVEL: room processes already running follow it', async () => {
    const studyId = uniq('s');
    const room = `video:study-${studyId}-main`;
    const a = await g.peer('A');
    await joinVideo(a, studyId);
    const mark = g.server.tail.length;
    await g.ok(['log-level', 'debug']);
    // The room's process logs at debug level now: its own line about it.
    const line = await pollUntil(
      () => {
        const l = g.server.tail.slice(mark).find((x) => x.includes(`room ${room}[`) && /debug: log level set by the gateway/.test(x));
        return { ok: l !== undefined, value: g.server.tail.slice(mark).join('\n') };
      },
      { attempts: 100, intervalMs: 50, what: `a debug line from the process of ${room}` },
    );
    assert.ok(line);
    await g.ok(['log-level', 'info']);
    // And back at info, its debug lines stop: leaving the room (which
    // the room process would log at debug level) says nothing.
    const quietMark = g.server.tail.length;
    await g.ok(['close-room', room]);
    await pollUntil(async () => {
      const rooms = await g.json(['rooms']);
      return { ok: !rooms.some((r) => r.name === room), value: rooms };
    }, { attempts: 100, intervalMs: 50, what: `${room} closed` });
    const debugLines = g.server.tail.slice(quietMark).filter((x) => x.includes(`room ${room}[`) && x.includes('debug:'));
    assert.deepEqual(debugLines, [], 'no debug line from the room at info level');
  });

  it('log-level LEVEL: changes the level, which show config reports', async () => {
    const r = await g.ok(['log-level', 'debug']);
    assert.equal(r.stdout, 'log level: debug\n');
    const cfg = await g.json(['show', 'config']);
    const entry = cfg.config.find((e) => e.key === 'LOG_LEVEL');
    assert.equal(entry?.value, 'debug', `show-config LOG_LEVEL: ${safeJson(entry)}`);
    const h = parseConfigLines((await g.ok(['show', 'config'])).stdout);
    assert.equal(h.get('LOG_LEVEL')?.value, 'debug');
    const st = await g.json(['status']);
    assert.equal(st.logLevel, 'debug', `status.logLevel: ${safeJson(st)}`);
    assert.match((await g.ok(['status'])).stdout, /^logLevel:\s+debug$/m);
    // The level is in force: a new connection is logged at debug level now.
    const before = g.server.tail.length;
    await g.peer('D');
    const quiet = await g.json(['log-level', 'info']);
    assert.deepEqual(quiet, { level: 'info' });
    const lines = g.server.tail.slice(before);
    if (lines.length === 0) process.stderr.write('# note: no gateway log line at debug level for a new connection\n');
    const after = (await g.json(['show', 'config'])).config.find((e) => e.key === 'LOG_LEVEL');
    assert.equal(after.value, 'info');
  });

  it('show config: every key of the table with value, source and reloadable; human KEY=VALUE  # source alike', async () => {
    const cfg = await g.json(['show', 'config']);
    assert.ok(Array.isArray(cfg.config), safeJson(cfg));
    const byKey = new Map(cfg.config.map((e) => [e.key, e]));
    for (const k of ['PORT', 'HOST', 'NODE_ENV', 'NEXTJS_URL', 'LOG_LEVEL', 'RUN_DIR', 'CONTROL_SOCKET', 'DRAIN_TIMEOUT_MS', 'ROOM_IDLE_TIMEOUT']) {
      assert.ok(byKey.has(k), `show-config lists ${k}`);
    }
    assert.equal(byKey.get('PORT').value, String(g.server.port));
    assert.equal(byKey.get('PORT').source, 'command line');
    assert.equal(byKey.get('RUN_DIR').value, g.dir);
    assert.equal(byKey.get('RUN_DIR').source, 'file');
    assert.equal(byKey.get('ROOM_IDLE_TIMEOUT').value, '2');
    assert.equal(byKey.get('LOG_LEVEL').reloadable, true);
    assert.equal(byKey.get('PORT').reloadable, false);
    const h = parseConfigLines((await g.ok(['show', 'config'])).stdout);
    assert.deepEqual([...h.keys()], cfg.config.map((e) => e.key), 'the same keys in the same order');
    for (const e of cfg.config) {
      if (/["'`#]|^\s|\s$/.test(String(e.value))) continue; // quoted
      assert.equal(h.get(e.key).value, String(e.value ?? ''), `${e.key}`);
      assert.equal(h.get(e.key).source, e.source, `${e.key}`);
    }
  });

  it('reload: after the --config file changed, the reloadable keys change and the others are reported as needing a restart', async () => {
    const studyId = uniq('s');
    const a = await g.peer('A');
    await joinStudy(a, studyId);
    writeFileSync(g.cfg, g.fileText('MAX_CONNECTIONS=99999\nCHAT_MAX_LENGTH=10\n').replace('LOG_LEVEL=info', 'LOG_LEVEL=warn'));
    const res = await g.json(['reload']);
    assert.ok(Array.isArray(res.changed) && Array.isArray(res.restartNeeded), safeJson(res));
    assert.ok(res.changed.includes('LOG_LEVEL'), `changed has LOG_LEVEL: ${safeJson(res)}`);
    assert.ok(res.changed.includes('CHAT_MAX_LENGTH'), `changed has CHAT_MAX_LENGTH: ${safeJson(res)}`);
    assert.ok(!res.changed.includes('MAX_CONNECTIONS'), `MAX_CONNECTIONS cannot change at run time: ${safeJson(res)}`);
    assert.ok(res.restartNeeded.includes('MAX_CONNECTIONS'), `restartNeeded has MAX_CONNECTIONS: ${safeJson(res)}`);
    const cfg = new Map((await g.json(['show', 'config'])).config.map((e) => [e.key, e]));
    assert.equal(cfg.get('LOG_LEVEL').value, 'warn');
    assert.equal(cfg.get('LOG_LEVEL').source, 'file');
    assert.equal(cfg.get('CHAT_MAX_LENGTH').value, '10');
    // The new CHAT_MAX_LENGTH is in force.
    const ack = await a.ack('chat:send-message', [{ studyId, message: 'x'.repeat(11) }]);
    assert.equal(ack?.ok, false, `an 11-character message is refused now: ${safeJson(ack)}`);
    assert.equal(ack?.code, 'BAD_REQUEST', safeJson(ack));

    // Back, with the human output.
    writeFileSync(g.cfg, g.fileText());
    // MAX_CONNECTIONS goes back to the value in force: no restart needed.
    const h = await g.ok(['reload']);
    assert.match(h.stdout, /^reloaded: changed: (?=.*LOG_LEVEL)(?=.*CHAT_MAX_LENGTH).*; restart needed: none\n$/, describeRun(h));
    const ok = await a.ack('chat:send-message', [{ studyId, message: 'x'.repeat(11) }]);
    assert.equal(ok?.ok, true, `an 11-character message passes again: ${safeJson(ok)}`);
    const same = await g.json(['reload']);
    assert.deepEqual(same.changed, [], `nothing changed: ${safeJson(same)}`);
  });

  it('reload: ROOM_SPARES grows and shrinks the pool of spare room processes; status counts them', async () => {
    const spares = async (n) => pollUntil(
      async () => {
        const s = await g.json(['status']);
        return { ok: s.roomSpares === n && (n === 0) === (s.memory.spares === 0), value: s };
      },
      { attempts: 100, intervalMs: 50, what: `coupctl status to count ${n} spare room processes` },
    );
    await spares(1); // the default
    writeFileSync(g.cfg, g.fileText('MAX_CONNECTIONS=100000\nCHAT_MAX_LENGTH=4000\nROOM_SPARES=3\n'));
    const grown = await g.json(['reload']);
    assert.deepEqual(grown.changed, ['ROOM_SPARES'], safeJson(grown));
    await spares(3);
    writeFileSync(g.cfg, g.fileText('MAX_CONNECTIONS=100000\nCHAT_MAX_LENGTH=4000\nROOM_SPARES=0\n'));
    await g.json(['reload']);
    await spares(0);
    // With no spare, a new room still gets its process.
    const a = await g.peer('A');
    await joinStudy(a, uniq('s'));
    writeFileSync(g.cfg, g.fileText());
    await g.json(['reload']);
    await spares(1);
  });

  it('the socket from --config FILE or RUN_DIR in the environment, as the gateway finds it', async () => {
    await ctlOk(['--config', g.cfg, 'status']);
    await ctlOk(['status'], { env: { RUN_DIR: g.dir } });
  });

  it('the protocol: one JSON line in, one JSON line out, then the gateway closes; errors with their codes', async () => {
    const ok = parseAnswer(await rawControl(g.sock, '{"version":1,"command":"status","args":[]}\n'), 'status');
    assert.equal(ok.ok, true);
    assert.equal(ok.data.pid, g.server.proc.pid);
    const cases = [
      ['{"version":2,"command":"status","args":[]}\n', 'BAD_VERSION'],
      ['this is not json\n', 'BAD_REQUEST'],
      ['{"version":1,"args":[]}\n', 'BAD_REQUEST'],
      ['{"version":1,"command":"frobnicate","args":[]}\n', 'UNKNOWN_COMMAND'],
      ['{"version":1,"command":"room","args":[]}\n', 'BAD_REQUEST'],
      ['{"version":1,"command":"log-level","args":["verbose"]}\n', 'BAD_REQUEST'],
      [`{"version":1,"command":"room","args":["video:${uniq('nope')}"]}\n`, 'NOT_FOUND'],
      // Every field is checked before any command sees it (control_parse).
      ['[{"version":1,"command":"status"}]\n', 'BAD_REQUEST'],
      ['{"version":1.5,"command":"status","args":[]}\n', 'BAD_VERSION'],
      ['{"version":1,"command":"status","command":"drain","args":[]}\n', 'BAD_REQUEST'],
      ['{"version":1,"command":"status","args":[]} trailing\n', 'BAD_REQUEST'],
      ['{"version":1,"command":"status","args":["extra"]}\n', 'BAD_REQUEST'],
      ['{"version":1,"command":"user","args":[42]}\n', 'BAD_REQUEST'],
      ['{"version":1,"command":"room","args":[""]}\n', 'BAD_REQUEST'],
      [`{"version":1,"command":"room","args":["video:${'r'.repeat(128)}"]}\n`, 'NOT_FOUND'],
      [`{"version":1,"command":"room","args":["video:${'r'.repeat(129)}"]}\n`, 'BAD_REQUEST'],
      [`{"version":1,"command":"kick","args":["${'s'.repeat(65)}"]}\n`, 'BAD_REQUEST'],
      [`{"version":1,"command":"kick","args":["--user","${'u'.repeat(1025)}"]}\n`, 'BAD_REQUEST'],
      ['{"version":1,"command":"kick","args":["--user"]}\n', 'BAD_REQUEST'],
      ['{"version":1,"command":"close-room","args":["video:a\\nforged"]}\n', 'BAD_REQUEST'],
      ['{"version":1,"command":"room","args":["video:a\\u00zz"]}\n', 'BAD_REQUEST'],
      ['{"version":1,"command":"log-level","args":["DEBUG"]}\n', 'BAD_REQUEST'],
    ];
    for (const [line, code] of cases) {
      const a = parseAnswer(await rawControl(g.sock, line), line.trim());
      assert.equal(a.ok, false, `${line.trim()}: ${safeJson(a)}`);
      assert.equal(a.code, code, `${line.trim()}: ${safeJson(a)}`);
      assert.equal(typeof a.error, 'string', `${line.trim()}: error is a message: ${safeJson(a)}`);
      assert.ok(a.error.length > 0);
    }
    // A line longer than CONTROL_REQUEST_MAX (4096): refused or closed, never served.
    for (const size of [4098, 5000, 8192, 100000]) { // with the newline: 4097 bytes of request and more
      const pre = '{"version":1,"command":"status","args":["';
      const line = `${pre}${'x'.repeat(size - pre.length - 4)}"]}\n`;
      assert.equal(line.length, size);
      const long = await rawControl(g.sock, line);
      if (long.data !== '') {
        const a = parseAnswer(long, `a request line of ${size} bytes`);
        assert.equal(a.ok, false, `a request line of ${size} bytes (over CONTROL_REQUEST_MAX 4096) is refused, not served: ${safeJson(a).slice(0, 200)}`);
      }
    }
    // A client that connects and says nothing does not block the others.
    const idle = net.createConnection(g.sock);
    idle.on('error', () => {});
    try {
      await waitFor(idle, 'connect', { timeoutMs: 2000 });
      await g.ok(['status']);
    } finally {
      idle.destroy();
    }
    assert.ok(g.server.running, 'the gateway is still running');
  });

  it('a client without permission is refused: coupctl as nobody exits 3 and says why; a world-writable socket is still refused by its peer credentials', { skip: SKIP_NOBODY }, async () => {
    const r = await g.expect(['status'], 3, { asNobody: true });
    assert.match(r.stderr, /permission denied/i, describeRun(r));
    assert.ok(r.stderr.includes(g.sock), `names the socket: ${r.stderr}`);
    assert.equal(r.stdout, '');
    // With the file mode out of the way, SO_PEERCRED must still refuse.
    const mode = statSync(g.sock).mode & 0o777;
    chmodSync(g.sock, 0o666);
    try {
      const p = await g.ctl(['--json', 'status'], { asNobody: true });
      assert.equal(p.code, 3, `nobody is refused by the gateway itself\n${describeRun(p)}`);
      assert.match(p.stderr, /permission denied/i, describeRun(p));
      assert.equal(p.stdout, '', 'and sees no data');
      const raw = parseAnswer(await rawControl(g.sock, '{"version":1,"command":"status","args":[]}\n'), 'root on the 0666 socket');
      assert.equal(raw.ok, true, 'root still gets through');
      const k = await g.ctl(['drain'], { asNobody: true });
      assert.notEqual(k.code, 0, describeRun(k));
      assert.ok(g.server.running, 'a refused drain drains nothing');
      assert.equal((await g.json(['status'])).draining, false);
    } finally {
      chmodSync(g.sock, mode);
    }
  });

  it('unknown command, missing argument: exit 2 without asking the gateway', async () => {
    for (const args of [['frobnicate'], ['room'], ['kick'], ['log-level', 'loud']]) {
      const r = await g.expect(args, 2);
      assert.match(r.stderr, /Usage: coupctl/);
    }
  });
});

describe('coupctl drain', { skip: SKIP_GATEWAY }, () => {
  for (const json of [false, true]) {
    describe(json ? '--json' : 'human', () => {
      const g = useGateway({ args: ['DRAIN_TIMEOUT_MS=3000'] });

      it('clients are disconnected and the gateway exits by itself (code 0) within DRAIN_TIMEOUT_MS; then coupctl says it is not running (exit 3)', { timeout: 30000 }, async () => {
        const studyId = uniq('s');
        const [a, b] = [await g.peer('A'), await g.peer('B', { transports: ['polling'] })];
        await joinVideo(a, studyId);
        await joinStudy(b, studyId);
        const rooms = await g.json(['rooms']);
        assert.equal(rooms.length, 2, safeJson(rooms));
        g.expectExit = true;
        const t0 = Date.now();
        if (json) {
          const d = await g.json(['drain']);
          assert.deepEqual(d, { draining: true, sessions: 2 });
        } else {
          const r = await g.ok(['drain']);
          assert.equal(r.stdout, 'draining: closing 2 sessions, then exiting\n');
        }
        // While it drains (if it is still there to ask), status says so.
        const during = await g.ctl(['--json', 'status']);
        if (during.code === 0) assert.equal(JSON.parse(during.stdout).draining, true, `status while draining\n${describeRun(during)}`);
        else assert.equal(during.code, 3, describeRun(during));
        for (const p of [a, b]) await p.disconnected(5000);
        const exit = await withTimeout(g.server.exited, 3000 + 3000, 'the gateway to exit after drain');
        const took = Date.now() - t0;
        assert.deepEqual(exit, { code: 0, signal: null }, `exit status after drain\n${g.server.stderrTail()}`);
        assert.ok(took < 3000 + 2000, `exited ${took} ms after drain (DRAIN_TIMEOUT_MS=3000)`);
        for (const r of rooms) {
          await pollUntil(() => ({ ok: readProc(r.pid, 'status') === null, value: readProc(r.pid, 'status')?.split('\n')[0] }), {
            attempts: 30,
            intervalMs: 100,
            what: `the room process ${r.pid} (${r.name}) to be gone after the gateway exited`,
          });
        }
        const after = await g.expect(['status'], 3);
        assert.ok(after.stderr.includes(g.sock), `names the socket: ${after.stderr}`);
        assert.match(after.stderr, /not running|does not exist/, describeRun(after));
        if (existsSync(g.sock)) process.stderr.write(`# note: the gateway left its control socket ${g.sock} behind\n`);
      });
    });
  }
});

describe('coupctl without a gateway', { skip: SKIP_CLIENT }, () => {
  it('no gateway running: exit 3, "not running", with the path', async () => {
    const dir = tempDir('coupctl-none-');
    try {
      const r = await ctlExpect(['status'], 3, { env: { RUN_DIR: dir } });
      assert.ok(r.stderr.includes(path.join(dir, 'coup-gateway.sock')), r.stderr);
      assert.match(r.stderr, /not running|does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('coup-gateway --check-config knows the control keys coupctl reads', { skip: SKIP_GATEWAY }, async () => {
    const r = await runToExit(GATEWAY, ['--check-config', 'RUN_DIR=/tmp/x', 'CONTROL_SOCKET=']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^RUN_DIR=\/tmp\/x\s+# command line$/m);
  });
});
