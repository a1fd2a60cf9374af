// The analysis jail (firmware/analysis/jail/) from inside: that it can be built here,
// that a benign script works through it, and what a hostile script sees of the machine
// (its /proc, its identity, its descriptors) and how its memory and threads are bounded.
// The attacks that try to get data out are in jail-attacks.test.ts. Each fixture
// (test/fixtures/jail-*.js) prints one JSON line saying what it managed to do.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { jailProblem, spawnJailed, spawnUnjailed, JailOptions } from '../../firmware/analysis/jail/jail';
import { JAIL_NOFILE, JAIL_NPROC, JAIL_UID, MIN_MEMORY_BYTES } from '../../firmware/analysis/jail/jail-command';
import { nodeLibraries } from '../../firmware/analysis/jail/node-binds';
import { fixture } from '../lib/runtime-box';
import { tempDir } from '../lib/run-box';

const MiB = 2 ** 20;
const work = tempDir('jail');
// The jail's uid must reach the fixtures: copy them under a directory anyone may
// search, wherever the tree is checked out (a 0700 /root would hide it).
fs.chmodSync(work, 0o755);
const code = path.join(work, 'code');
fs.mkdirSync(code, { mode: 0o755 });

function script(name: string): string {
  const p = path.join(code, name);
  if (!fs.existsSync(p)) fs.copyFileSync(fixture(name), p);
  return p;
}

function options(name: string, args: string[] = [], more: Partial<JailOptions> = {}): JailOptions {
  return { script: script(name), args, readOnly: [code], memoryBytes: 256 * MiB, ...more };
}

interface Ran {
  code: number | null;
  signal: string | null;
  out: Buffer;
  err: string;
}

/** Feeds stdin, collects everything until the process closes; fails after the deadline. */
function finish(child: ChildProcess, input: Buffer | string = '', deadlineMs = 30_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (err += d));
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no exit within ${deadlineMs} ms; stderr: ${err}`));
    }, deadlineMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out: Buffer.concat(out), err });
    });
  });
}

function report(r: Ran): any {
  const line = r.out.toString().split('\n')[0];
  try {
    return JSON.parse(line);
  } catch {
    assert.unreachable(`no JSON report (exit ${r.code ?? r.signal}): ${line} ${r.err}`);
  }
}

/** Resolves with the first line the process prints (the fixture stays until stdin ends). */
function firstLine(child: ChildProcess, deadlineMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d));
    const timer = setTimeout(() => reject(new Error(`no report within ${deadlineMs} ms; stderr: ${err}`)), deadlineMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.split('\n')[0]);
      }
    });
    child.on('close', (c) => reject(new Error(`exited ${c} before reporting; stderr: ${err}`)));
  });
}

/** Host pids of a process's descendants (bwrap's monitor -> its pid 1 -> node). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
      out.push(Number(c), ...descendants(Number(c)));
    }
  }
  return out;
}

test('jailProblem() is null on this machine (CI builds the jail the same way)', () => {
  assert.is(jailProblem(), null);
});

test('jailProblem() names a missing seccomp helper in one line, with the fix', () => {
  const p = jailProblem(path.join(work, 'no-such-seccomp-helper'));
  assert.ok(p !== null);
  assert.match(p!, /seccomp helper .*no-such-seccomp-helper is missing: run make build/);
  assert.not.match(p!, /\n/);
});

test('a benign script reads stdin and writes it back on stdout, exit 0', async () => {
  const input = crypto.randomBytes(3 * MiB);
  const r = await finish(spawnJailed(options('jail-echo.js')), input);
  assert.is(r.code, 0, r.err);
  assert.ok(r.out.equals(input), `echoed ${r.out.length} of ${input.length} bytes`);
});

test('refuses a script that is not under a readOnly path', () => {
  assert.throws(() => spawnJailed({ ...options('jail-echo.js'), readOnly: [path.join(work, 'elsewhere')] }), /is not under any readOnly path/);
});

test('refuses a memory bound node cannot start in', () => {
  assert.throws(() => spawnJailed(options('jail-echo.js', [], { memoryBytes: 32 * MiB })), /below the 128 MiB node needs/);
  assert.throws(() => spawnUnjailed(options('jail-echo.js', [], { memoryBytes: MIN_MEMORY_BYTES - 1 })), /below/);
});

test('refuses a readOnly path the jail uid cannot reach, naming the directory', () => {
  const hidden = path.join(work, 'hidden');
  fs.mkdirSync(path.join(hidden, 'code'), { recursive: true, mode: 0o700 });
  const inner = path.join(hidden, 'code');
  fs.chmodSync(inner, 0o755);
  assert.throws(() => spawnJailed({ ...options('jail-echo.js'), readOnly: [code, inner] }), new RegExp(`directory ${hidden} is not searchable by others`));
});

/** Runs a fixture that reports one line and then waits for stdin to close; always ends it. */
async function whileRunning(o: JailOptions, look: (report: any, child: ChildProcess) => void): Promise<void> {
  const child = spawnJailed(o);
  try {
    look(JSON.parse(await firstLine(child)), child);
  } finally {
    child.stdin!.end();
    const r = await finish(child);
    assert.is(r.code, 0, r.err);
  }
}

test('/proc holds only the jail\'s processes; the test\'s /proc entry and a root-only spool file are unreadable', async () => {
  const spool = path.join(work, 'spool');
  fs.mkdirSync(spool, { mode: 0o755 });
  const secret = path.join(spool, 'segment-0');
  fs.writeFileSync(secret, 'raw packets', { mode: 0o600 });
  const unbound = path.join(work, 'segment-unbound');
  fs.writeFileSync(unbound, 'raw packets', { mode: 0o600 });
  await whileRunning(options('jail-proc.js', [String(process.pid), secret, unbound], { readOnly: [code, spool] }), (r) => {
    // bwrap's pid 1 and node; nothing of the host.
    assert.equal(r.pids, [1, 2]);
    assert.is(r.testEnviron.error, 'ENOENT');
    assert.is(r.testCmdline.error, 'ENOENT');
    assert.not.match(r.pid1Environ.text ?? '', /PATH=/);
    // Bound but 0600 root: the jail's uid may not read it. Not bound: not there at all.
    assert.is(r.files[0].error, 'EACCES');
    assert.is(r.files[1].error, 'ENOENT');
  });
});

test('runs as uid/gid 65529 inside and outside, no capabilities, no_new_privs, seccomp filter, fds 0-2 only, no environment, nice 19, its rlimits, a root of its binds only', async () => {
  await whileRunning(options('jail-proc.js', [String(process.pid)]), (r, child) => {
    const ids = `${JAIL_UID}\t${JAIL_UID}\t${JAIL_UID}\t${JAIL_UID}`;
    assert.is(r.uid, ids);
    assert.is(r.gid, ids);
    assert.is(r.capEff, '0000000000000000');
    assert.is(r.noNewPrivs, '1');
    assert.is(r.seccomp, '2');
    // bwrap sets PWD after --clearenv; it is the jail's "/", nothing of the host.
    assert.equal(r.env, { PWD: '/' });
    assert.is(r.nice, 19);
    assert.equal(
      [r.limits['Max data size'], r.limits['Max processes'], r.limits['Max open files'], r.limits['Max core file size'], r.limits['Max file size']],
      [String(256 * MiB), String(JAIL_NPROC), String(JAIL_NOFILE), '0', '0'],
    );
    // Node's own descriptors (epoll, eventfd, its signal pipe) are not sockets; anything
    // inherited beyond stdio (the filter's pipe, a bwrap fd) would be.
    const sockets = Object.entries(r.fds as Record<string, string>).filter(([, l]) => l.startsWith('socket:')).map(([fd]) => fd);
    assert.equal(sockets, ['0', '1', '2']);
    const top = (p: string) => p.split('/')[1];
    const want = new Set([process.execPath, ...nodeLibraries(), code, '/dev', '/proc'].map(top));
    assert.equal([...r.root].sort(), [...want].sort());
    // From outside: the jailed node (bwrap's monitor -> pid 1 -> node) is not root either.
    const node = descendants(child.pid!).find((p) => fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'node');
    assert.ok(node, 'found the jailed node among the jail\'s host processes');
    const status = fs.readFileSync(`/proc/${node}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${ids}$`, 'm'));
    assert.match(status, /^NSpid:\s+\d+\s+2$/m);
  });
});

/** Died by its own hand (an exception, V8's abort), not by SIGKILL (the OOM killer). */
function diedOfMemory(r: Ran): void {
  const how = `exit ${r.code ?? r.signal}: ${r.err.slice(0, 400)}`;
  assert.ok(r.code !== 0 && r.code !== 128 + 9 && r.signal !== 'SIGKILL', how);
  // Buffers are malloc'd: either the allocation fails (RangeError) or V8 cannot commit
  // its young generation any more; both are RLIMIT_DATA.
  assert.match(r.err, /Array buffer allocation failed|JavaScript heap out of memory/, how);
}

function held(r: Ran): number {
  return Number(r.out.toString().trim().split('\n').pop());
}

test('memory: a Buffer hog dies within RLIMIT_DATA with a non-zero exit, not by the OOM killer', async () => {
  const bound = 192 * MiB;
  const r = await finish(spawnJailed(options('jail-memory.js', ['buffer'], { memoryBytes: bound })));
  diedOfMemory(r);
  assert.ok(held(r) > 0 && held(r) < bound, `held ${held(r)} bytes`);
});

test('memory: a JS array hog dies at V8\'s heap bound derived from memoryBytes', async () => {
  const bound = 192 * MiB;
  const r = await finish(spawnJailed(options('jail-memory.js', ['array'], { memoryBytes: bound })));
  diedOfMemory(r);
  assert.match(r.err, /Reached heap limit/);
  assert.ok(held(r) <= bound / 2, `held ${held(r)} bytes, more than the old space of ${bound / 2}`);
});

test('memory: spawnUnjailed keeps the same bound', async () => {
  const bound = 192 * MiB;
  const r = await finish(spawnUnjailed(options('jail-memory.js', ['buffer'], { memoryBytes: bound })));
  diedOfMemory(r);
  assert.ok(held(r) > 0 && held(r) < bound, `held ${held(r)} bytes`);
});

test('threads: a worker_threads bomb stops at the jail\'s descriptor and thread limits', async () => {
  const r = report(await finish(spawnJailed(options('jail-threads.js', [], { memoryBytes: 1024 * MiB }))));
  assert.ok(r.online > 0 && r.online < JAIL_NPROC, `${r.online} workers came online`);
  assert.equal(r.errors, ['ERR_WORKER_INIT_FAILED']);
});

test.run();
