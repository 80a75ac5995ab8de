// Real samizdat nodes for the web tests: each a process of the built
// binary on loopback, with its own data directory, its web UI on a port
// of its own choosing (--web 127.0.0.1:0).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(what, fn, timeoutMs = 15000, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export class Node {
  constructor(bin, dir, name) {
    this.bin = bin;
    this.dir = dir;
    this.name = name;
    this.proc = null;
  }

  cli(args, opts = {}) {
    return execFileSync(this.bin, ['--data', this.dir, ...args], {
      encoding: opts.encoding ?? 'utf8',
      input: opts.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30000,
    });
  }

  // Like cli, but returns {status, stdout, stderr} instead of throwing.
  cliStatus(args) {
    try {
      return { status: 0, stdout: this.cli(args), stderr: '' };
    } catch (e) {
      return { status: e.status, stdout: String(e.stdout), stderr: String(e.stderr) };
    }
  }

  async start(extra = []) {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const log = fs.openSync(path.join(this.dir, 'node.log'), 'a');
    this.proc = spawn(
      this.bin,
      ['--data', this.dir, 'run', '--port', '0', '--no-lan', '--no-upnp', '--network', 'webtest',
        '--web', '127.0.0.1:0', ...extra],
      { stdio: ['ignore', log, log] },
    );
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => r({ code, sig })));
    const urlFile = path.join(this.dir, 'web.url');
    await waitFor(`${this.name}'s web UI`, () => fs.existsSync(urlFile), 20000);
    this.base = fs.readFileSync(urlFile, 'utf8').trim();
    this.loginUrl = this.cli(['open', '--print']).trim();
    this.author = this.cli(['whoami']).trim();
    this.nodeKey = this.cli(['whoami', '--node']).trim();
    const status = JSON.parse(this.cli(['--json', 'status']));
    this.port = Number(status.listen[0].split(':').pop());
    this.endpoint = `tcp://127.0.0.1:${this.port}`;
    return this;
  }

  async stop() {
    if (!this.proc) return null;
    this.proc.kill('SIGINT');
    const r = await Promise.race([this.exited, sleep(10000).then(() => null)]);
    if (r === null) {
      this.proc.kill('SIGKILL');
      throw new Error(`${this.name} did not stop within 10 s of SIGINT`);
    }
    this.proc = null;
    return r;
  }

  log() {
    try {
      return fs.readFileSync(path.join(this.dir, 'node.log'), 'utf8');
    } catch {
      return '';
    }
  }
}

// Connects a to b and has each follow the other.
export async function link(a, b) {
  a.cli(['peer', 'add', b.endpoint, b.nodeKey]);
  a.cli(['follow', b.author]);
  b.cli(['follow', a.author]);
}

// A raw HTTP request, so that headers fetch() will not send (Host) can be
// set. Returns {status, headers, body}.
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function binaryFromArgs() {
  const bin = process.argv[2];
  const work = process.argv[3];
  if (!bin || !work) {
    console.error('usage: node SCRIPT.mjs SAMIZDAT_BINARY WORK_DIR');
    process.exit(2);
  }
  return { bin: path.resolve(bin), work: path.resolve(work) };
}
