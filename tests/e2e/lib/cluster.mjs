// cluster.mjs - what the multi-server tests share: a real redis-server of
// their own (127.0.0.1, a free port, no persistence, its own temporary
// directory) that can be stopped and started again on the same port, and
// several coup-gateways sharing it, each with its own run directory.

import { before, after, afterEach } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { startServer, binaryFromEnv, freePort, HOST } from './server.mjs';
import { Clients } from './sio-client.mjs';
import { startMockApi } from './mock-api.mjs';
import { uniq, Peer } from './coup.mjs';
import { pollUntil } from './wait.mjs';

const GATEWAY = binaryFromEnv('COUP_GATEWAY');
const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server';

/** Why the cluster tests cannot run here, or false. */
export function clusterSkipReason() {
  if (!process.env.COUP_GATEWAY) return 'COUP_GATEWAY is not set (run through tests/run-node-test)';
  const r = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `${REDIS_SERVER} is not installed (install-deps --test installs it)`;
  return false;
}

/** A redis-server we own. */
export class Redis {
  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'coup-redis-'));
    this.port = null;
    this.proc = null;
  }

  get url() {
    return `redis://${HOST}:${this.port}`;
  }

  async start() {
    if (this.port === null) this.port = await freePort();
    const args = ['--port', String(this.port), '--bind', HOST, '--save', '', '--appendonly', 'no',
      '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'notice'];
    const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', resolve));
    process.on('exit', () => proc.kill('SIGKILL'));
    let out = '';
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${this.port}: ${out}`)), 10000);
      const onData = (c) => {
        out += c;
        if (/Ready to accept connections/i.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout.setEncoding('utf8').on('data', onData);
      proc.stderr.setEncoding('utf8').on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}) before it was ready: ${out}`));
      });
    });
    // Ready: reading on would only fill the pipe.
    this.proc.stdout.resume();
    this.proc.stderr.resume();
  }

  /** Stop it (SIGKILL: as a crash; its data goes, as with --save ''). */
  async kill() {
    if (!this.proc) return;
    this.proc.kill('SIGKILL');
    await this.exited;
    this.proc = null;
  }

  /** redis-cli on this server; the reply as text. */
  cli(...args) {
    const r = spawnSync('redis-cli', ['-h', HOST, '-p', String(this.port), ...args], { encoding: 'utf8' });
    return r.stdout.trim();
  }

  async close() {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * n gateways on one Redis (and one mock API) for a describe block.
 * Short timeouts so the tests of dead nodes and outages stay short.
 */
export function useCluster(n, args = [], { nodeTimeoutMs = 1500, redisTimeoutMs = 600 } = {}) {
  const ctx = { api: null, redis: null, nodes: [], runDirs: [], clients: new Clients(), nodeTimeoutMs };
  ctx.startNode = async (i) => {
    if (!ctx.runDirs[i]) ctx.runDirs[i] = mkdtempSync(path.join(tmpdir(), `coup-node${i}-`));
    const port = ctx.nodes[i]?.port;
    ctx.nodes[i] = await startServer(GATEWAY, [
      'NODE_ENV=production', `NEXTJS_URL=${ctx.api.url}`, 'LOG_LEVEL=info',
      `REDIS_URL=${ctx.redis.url}`, `CLUSTER_NODE_TIMEOUT_MS=${nodeTimeoutMs}`,
      `REDIS_TIMEOUT_MS=${redisTimeoutMs}`, `RUN_DIR=${ctx.runDirs[i]}`, ...args,
    ], { name: `node${i}`, ...(port ? { port } : {}) });
    return ctx.nodes[i];
  };
  before(async () => {
    ctx.api = await startMockApi();
    ctx.redis = new Redis();
    await ctx.redis.start();
    for (let i = 0; i < n; i++) await ctx.startNode(i);
  });
  afterEach(() => {
    ctx.clients.closeAll();
    ctx.api.setFailure(null);
  });
  after(async () => {
    ctx.clients.closeAll();
    // Their disconnects reach the gateways before the gateways stop: a
    // session still open at a drain is held for another gateway to take
    // over, and the drain waits for that (DRAIN_TIMEOUT_MS).
    for (const s of ctx.nodes) {
      if (!s || !s.running) continue;
      await pollUntil(async () => {
        try {
          const h = await (await fetch(`${s.url}/health`)).json();
          return { ok: h.connections === 0, value: h };
        } catch (err) {
          return { ok: true, value: err.message };
        }
      }, { attempts: 60, intervalMs: 50, what: `${s.name}'s clients gone` }).catch(() => {});
    }
    const errors = [];
    for (const s of ctx.nodes) {
      if (!s) continue;
      try {
        if (s.running) await s.stopAndCheck();
      } catch (err) {
        errors.push(err);
      }
    }
    if (ctx.api) await ctx.api.close();
    if (ctx.redis) await ctx.redis.close();
    for (const d of ctx.runDirs) if (d) rmSync(d, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  });
  ctx.user = (label) => {
    const id = uniq(`u${label}`);
    const user = { id, name: `사용자 ${label}`, email: `${id}@coup.test`, avatar: null };
    ctx.api.setUser(id, { name: user.name, email: user.email, avatar: user.avatar, status: 'ACTIVE' });
    return user;
  };
  /** A new user (or `user`) connected to node i. */
  ctx.peer = async (label, i, user = null, opts = {}) => {
    const u = user ?? ctx.user(label);
    const socket = await ctx.clients.connect(ctx.nodes[i].url, {
      transports: ['websocket'],
      auth: { userId: u.id, token: `tok-${u.id}` },
      ...opts,
    });
    return new Peer(socket, u, `${label}@node${i}`);
  };
  return ctx;
}

/** A study and its call, as the CoUp app names them. */
export function newRoom() {
  const studyId = uniq('s');
  return { studyId, roomId: `study-${studyId}-main` };
}
