// server.js (test helper): runs the reference server (axum-server) on a free 127.0.0.1 port
// with a throw-away SQLite file, and can kill it (any signal) and start it again on the same
// port and database. The binary comes from CHAT_SERVER_BIN (scripts/js-client-test.sh sets it);
// without it the integration tests are skipped, or fail under CI=true. Only processes started
// here are ever signalled, by PID; every wait is bounded.

import { spawn } from 'node:child_process';
import { after, before } from 'node:test';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatApi } from '../../src/index.js';

const BIN = process.env.CHAT_SERVER_BIN;
/** The password of every test account. */
export const PASSWORD = 'correct horse battery staple';

/** Why the integration tests cannot run here, or false when they can. */
export function serverMissing() {
  if (BIN && existsSync(BIN)) return false;
  const why = BIN ? `CHAT_SERVER_BIN=${BIN} does not exist` : 'CHAT_SERVER_BIN is not set';
  if (process.env.CI === 'true') throw new Error(`the reference server is needed under CI=true: ${why}`);
  return `${why} (run scripts/js-client-test.sh)`;
}

/** Every server still running, killed when the test process exits. */
const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 25 ms until it returns something truthy, for at most `ms`. */
export async function waitFor(check, ms = 10000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** `promise`, or a failure naming `what` when it takes longer than `ms`. */
export async function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A reference server; `args` are extra `serve` options. */
export class TestServer {
  constructor(args = []) {
    this.args = args;
    this.dir = mkdtempSync(join(tmpdir(), 'chat-js-client-'));
    this.database = `sqlite:${join(this.dir, 'chat.db')}`;
    this.log = join(this.dir, 'server.log');
    this.child = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(args = []) {
    const server = new TestServer(args);
    server.port = await freePort();
    await server.spawn();
    return server;
  }

  /** Starts the process (again: same port, same database) and waits until it is healthy. */
  async spawn() {
    const out = openSync(this.log, 'a');
    // Limits off unless a test sets them: tests sign up many users and send in bursts.
    const limits = this.args.includes('--rate-limit') ? [] : ['--rate-limit', 'off'];
    const args = ['--database', this.database, '--log', 'warn', 'serve', '--bind', `127.0.0.1:${this.port}`,
      '--address-limits', 'off', ...limits, ...this.args];
    const child = spawn(BIN, args, { stdio: ['ignore', out, out] });
    this.child = child;
    running.add(child);
    child.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }));
    await waitFor(async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the server exited at start; its log:\n${readFileSync(this.log, 'utf8').slice(-2000)}`);
      }
      try {
        return (await fetch(`${this.url}/healthz`)).ok;
      } catch {
        return false;
      }
    }, 15000, 'the server to become healthy');
  }

  /** Sends `signal` to the server process and waits (10 s at most) for it to exit. */
  async kill(signal = 'SIGKILL') {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    let timer;
    const late = new Promise((resolve) => (timer = setTimeout(resolve, 10000, 'late')));
    const outcome = await Promise.race([child.exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      child.kill('SIGKILL');
      await child.exited;
    }
  }

  /** Stops the server and removes its files. */
  async stop() {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A new account: its ChatApi (authenticated by the returned token) and token. */
  async user(prefix = 'u') {
    const api = new ChatApi({ baseUrl: this.url });
    const username = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
    const session = await api.signup(username, PASSWORD);
    return { api, username, token: session.token, user: session.user };
  }
}

/**
 * For a test file: a server started before its tests, with an account for each of `names` (in
 * `users`), then `setup(ctx)`; stopped after the tests. `skip` says why not, when the server is
 * missing.
 */
export function serverForTests(names = [], setup = async () => {}) {
  const ctx = { skip: serverMissing(), server: null, users: {} };
  before(async () => {
    if (ctx.skip) return;
    ctx.server = await TestServer.start();
    for (const name of names) ctx.users[name] = await ctx.server.user(name);
    await setup(ctx);
  });
  after(async () => {
    await ctx.server?.stop();
  });
  return ctx;
}
