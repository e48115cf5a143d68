// Start and stop a server under test (conformance-server, coup-gateway).
//
// A server is a child process that takes KEY=VALUE arguments and prints
// "listening on 127.0.0.1:<port>" on stderr once it accepts connections.
// startServer() resolves on that line (never on a timer), and rejects when
// the process exits first or does not get there in time. Its stderr goes to
// the test log (stderr of the test file, which the reporter prints as "# "
// lines) with a prefix, and the last lines are kept for error messages.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const HOST = '127.0.0.1';

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * The path of a server binary named by an environment variable, or null
 * when the variable is not set (the caller skips its tests then). A variable
 * that names a missing file is an error: the build should have made it.
 */
export function binaryFromEnv(name) {
  const p = process.env[name];
  if (!p) return null;
  return path.resolve(p);
}

export function skipReason(name) {
  const p = process.env[name];
  if (!p) return `${name} is not set (run through tests/run-node-test or set it to the server binary)`;
  return false;
}

// Variables passed through to the server. Everything else is left out, so
// that PORT, NODE_ENV, LOG_LEVEL, ... from the caller's environment cannot
// change what a test sees; a test gives the server what it needs.
const PASS_ENV = [
  'PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ',
  'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'MSAN_OPTIONS', 'TSAN_OPTIONS',
  'ASAN_SYMBOLIZER_PATH', 'LLVM_SYMBOLIZER_PATH', 'LD_LIBRARY_PATH',
];

function baseEnv() {
  const env = {};
  for (const k of PASS_ENV) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

const TAIL_LINES = 200;

// Servers still running when this process ends are killed, so that a test
// file that crashes or is stopped leaves no server behind.
const live = new Set();
let exitHooked = false;
function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const p of live) {
      try {
        p.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.once(sig, () => process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 })[sig]));
  }
}

export class ServerProcess {
  constructor({ binary, args, name, port, proc }) {
    this.binary = binary;
    this.args = args;
    this.name = name;
    this.port = port;
    this.host = HOST;
    this.url = `http://${HOST}:${port}`;
    this.wsUrl = `ws://${HOST}:${port}`;
    this.proc = proc;
    this.tail = [];
    this.exit = null; // { code, signal } once it has exited
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get running() {
    return this.exit === null;
  }

  /** The last lines the server wrote on stderr, for error messages. */
  stderrTail(n = 40) {
    return this.tail.slice(-n).join('\n');
  }

  describeExit() {
    if (!this.exit) return 'still running';
    return this.exit.signal ? `killed by ${this.exit.signal}` : `exit code ${this.exit.code}`;
  }

  /**
   * SIGTERM, wait for the exit, SIGKILL after graceMs. Resolves with
   * { code, signal, killed } where killed says SIGKILL was needed.
   */
  async stop({ graceMs = 5000 } = {}) {
    if (!this.running) return { ...this.exit, killed: false };
    this.proc.kill('SIGTERM');
    let timer;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.proc.kill('SIGKILL');
      await this.exited;
      return { ...this.exit, killed: true };
    }
    return { ...this.exit, killed: false };
  }

  /**
   * Stop the server and throw when it did not end cleanly: it must exit by
   * itself on SIGTERM (status 0, or the default action of the signal), not
   * crash, not report a sanitizer error, not need SIGKILL.
   */
  async stopAndCheck(opts) {
    const wasRunning = this.running;
    const r = await this.stop(opts);
    const clean = !r.killed && (r.code === 0 || r.signal === 'SIGTERM' || r.code === 143);
    if (!wasRunning) {
      throw new Error(
        `${this.name} had already exited (${this.describeExit()}) before it was stopped\n` +
          `--- last stderr lines ---\n${this.stderrTail()}`,
      );
    }
    if (!clean) {
      throw new Error(
        `${this.name} did not stop cleanly on SIGTERM: ` +
          (r.killed ? 'still running after the grace period, killed' : this.describeExit()) +
          `\n--- last stderr lines ---\n${this.stderrTail()}`,
      );
    }
    return r;
  }
}

/**
 * Spawn `binary` with HOST=127.0.0.1 PORT=<port> and `args` (KEY=VALUE
 * strings or flags). Resolves with a ServerProcess once the server said it
 * is listening on that port.
 *
 * options: port (default: a free one), env (extra environment variables),
 *          timeoutMs (default 15000), name (for the log prefix),
 *          hostArgs (default true: add HOST= and PORT= arguments),
 *          wrap (a command line to run the binary through, e.g.
 *          ['prlimit', '--nofile=64:64', '--']; it must exec the binary,
 *          so that the process is the server's).
 */
export async function startServer(binary, args = [], options = {}) {
  const { env = {}, timeoutMs = 15000, hostArgs = true, wrap = [] } = options;
  if (!binary) throw new Error('startServer: no binary given');
  if (!existsSync(binary)) throw new Error(`server binary not found: ${binary} (was it built?)`);
  const port = options.port ?? (await freePort());
  const name = options.name ?? path.basename(binary);
  const fullArgs = hostArgs ? [`HOST=${HOST}`, `PORT=${port}`, ...args] : [...args];
  // A gateway's run directory (control socket, pid file) is a fresh one
  // of its own unless the test chose: tests never touch the default
  // /run/coup-signaling, where an installed gateway may be running.
  let runDir = null;
  const CHOICE = /^\s*(RUN_DIR|CONTROL_SOCKET)\s*=/m;
  const cfg = fullArgs.indexOf('--config');
  let inFile = false;
  try {
    inFile = cfg >= 0 && CHOICE.test(readFileSync(fullArgs[cfg + 1], 'utf8'));
  } catch {
    // No such file: the gateway says so itself.
  }
  if (path.basename(binary) === 'coup-gateway' && !fullArgs.some((a) => CHOICE.test(a)) && !inFile && !('RUN_DIR' in env)) {
    runDir = mkdtempSync(path.join(os.tmpdir(), 'coup-run-'));
    fullArgs.push(`RUN_DIR=${runDir}`);
  }
  const proc = spawn(wrap.length ? wrap[0] : binary, [...wrap.slice(1), ...(wrap.length ? [binary] : []), ...fullArgs], {
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = new ServerProcess({ binary, args: fullArgs, name, port, proc });
  hookExit();
  live.add(proc);
  server.exited.then(() => {
    live.delete(proc);
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  });
  const prefix = `[${name}:${port}]`;
  process.stderr.write(`${prefix} started: ${[...wrap, binary, ...fullArgs].join(' ')}\n`);

  let lineWaiter = null;
  const onLine = (line, stream) => {
    server.tail.push(stream === 'stdout' ? `(stdout) ${line}` : line);
    if (server.tail.length > TAIL_LINES) server.tail.shift();
    process.stderr.write(`${prefix} ${line}\n`);
    if (lineWaiter && stream === 'stderr') lineWaiter(line);
  };
  for (const stream of ['stdout', 'stderr']) {
    let partial = '';
    proc[stream].setEncoding('utf8');
    proc[stream].on('data', (chunk) => {
      partial += chunk;
      let i;
      while ((i = partial.indexOf('\n')) >= 0) {
        onLine(partial.slice(0, i).replace(/\r$/, ''), stream);
        partial = partial.slice(i + 1);
      }
    });
    proc[stream].on('end', () => {
      if (partial) onLine(partial, stream);
      partial = '';
    });
  }

  const ready = new Promise((resolve, reject) => {
    let timer = null;
    const done = (err) => {
      lineWaiter = null;
      clearTimeout(timer);
      proc.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onError = (err) => done(new Error(`could not run ${binary}: ${err.message}`));
    proc.once('error', onError);
    lineWaiter = (line) => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(line);
      if (!m) return;
      if (Number(m[1]) !== port) {
        done(new Error(`${name} listens on port ${m[1]}, expected ${port} (from the PORT argument): "${line}"`));
      } else {
        done(null);
      }
    };
    server.exited.then(() => {
      if (lineWaiter) {
        done(
          new Error(
            `${name} exited (${server.describeExit()}) before it was listening\n` +
              `args: ${fullArgs.join(' ')}\n--- stderr ---\n${server.stderrTail()}`,
          ),
        );
      }
    });
    timer = setTimeout(
      () =>
        done(
          new Error(
            `${name} did not print "listening on ${HOST}:${port}" within ${timeoutMs} ms\n` +
              `--- stderr ---\n${server.stderrTail()}`,
          ),
        ),
      timeoutMs,
    );
  });

  try {
    await ready;
  } catch (err) {
    await server.stop({ graceMs: 2000 });
    throw err;
  }
  return server;
}

/**
 * Run a binary to completion (for --check-config). Resolves with
 * { code, signal, stdout, stderr }; kills it after timeoutMs.
 */
export function runToExit(binary, args = [], { env = {}, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    if (!existsSync(binary)) {
      reject(new Error(`binary not found: ${binary} (was it built?)`));
      return;
    }
    const proc = spawn(binary, args, { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    proc.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${binary} ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
