// Hostile scripts in the analysis jail (firmware/analysis/jail/) trying to get data out
// or hurt the host: sockets, files, signals, new processes. One test per attack: the
// fixture (test/fixtures/jail-*.js) prints what it managed, the test asserts it managed
// nothing and that the host saw nothing. Each attack also runs once unjailed
// (spawnUnjailed, as root), where it must succeed: that is what shows the jailed test
// would fail if the jail let it through.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { spawnJailed, spawnUnjailed, startJail, JailOptions } from '../../firmware/analysis/jail/jail';
import { fixture } from '../lib/runtime-box';
import { tempDir } from '../lib/run-box';

const work = tempDir('jail-attacks');
fs.chmodSync(work, 0o755); // the jail's uid must reach the fixtures (see jail.test.ts)
const code = path.join(work, 'code');
fs.mkdirSync(code, { mode: 0o755 });

function options(name: string, args: string[], readOnly: string[] = []): JailOptions {
  const p = path.join(code, name);
  if (!fs.existsSync(p)) fs.copyFileSync(fixture(name), p);
  return { script: p, args, readOnly: [code, ...readOnly], memoryBytes: 256 * 2 ** 20 };
}

/** Runs to the end (with a deadline) and returns the fixture's one-line JSON report: attempt -> outcome. */
function report(child: ChildProcess, deadlineMs = 30_000): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.stderr!.on('data', (d: Buffer) => (err += d));
    child.stdin!.end();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no exit within ${deadlineMs} ms; stderr: ${err}`));
    }, deadlineMs);
    child.on('close', (c, signal) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.split('\n')[0]));
      } catch {
        reject(new Error(`no report (exit ${c ?? signal}): ${out} ${err}`));
      }
    });
  });
}

function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms).unref())]);
}

/**
 * A stream listener that counts connections in the order it accepts them and notes the
 * place of the one that says "control" (the test's own, made after the script exited).
 * Anything the script got through was queued before it, so control - 1 is what escaped.
 */
async function streamListener(listen: (s: net.Server) => Promise<void>, changed: EventEmitter) {
  let accepted = 0;
  let controlAt = 0;
  const server = net.createServer((s) => {
    const place = ++accepted;
    let data = '';
    s.on('data', (d) => (data += d));
    s.on('error', () => {});
    s.on('end', () => {
      if (data === 'control') controlAt = place;
      s.destroy();
      changed.emit('change');
    });
  });
  await listen(server);
  return { server, controlAt: () => controlAt };
}

/** A Unix socket, a TCP and a UDP listener, and a way to count what reached them. */
async function listeners() {
  const dir = fs.mkdtempSync(path.join(work, 'sock-'));
  fs.chmodSync(dir, 0o755);
  const unixPath = path.join(dir, 'line.sock');
  const changed = new EventEmitter();
  const unix = await streamListener((s) => new Promise((r) => s.listen(unixPath, r)), changed);
  // World-writable, so only the jail (not file permissions) keeps the jail's uid out.
  fs.chmodSync(unixPath, 0o777);
  const tcp = await streamListener((s) => new Promise((r) => s.listen(0, '127.0.0.1', r)), changed);
  const tcpPort = (tcp.server.address() as net.AddressInfo).port;
  const udp = dgram.createSocket('udp4');
  const datagrams: string[] = [];
  udp.on('message', (m) => { datagrams.push(m.toString()); changed.emit('change'); });
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const udpPort = udp.address().port;
  return {
    dir, unixPath, tcpPort, udpPort,
    /** Sends "control" to all three and says what arrived before it on each. */
    async escaped(): Promise<{ unix: number; tcp: number; udp: string[] }> {
      net.connect(unixPath, function (this: net.Socket) { this.end('control'); }).on('error', () => {});
      net.connect(tcpPort, '127.0.0.1', function (this: net.Socket) { this.end('control'); }).on('error', () => {});
      const s = dgram.createSocket('udp4');
      s.send('control', udpPort, '127.0.0.1', () => s.close());
      const done = () => unix.controlAt() > 0 && tcp.controlAt() > 0 && datagrams.includes('control');
      await within(new Promise<void>((resolve) => {
        const check = () => { if (done()) { changed.off('change', check); resolve(); } };
        changed.on('change', check);
        check();
      }), 'the control connections');
      return { unix: unix.controlAt() - 1, tcp: tcp.controlAt() - 1, udp: datagrams.slice(0, datagrams.indexOf('control')) };
    },
    close() { unix.server.close(); tcp.server.close(); udp.close(); },
  };
}

test('sockets: no Unix, TCP or UDP connection leaves the jail, and the test\'s listeners see nothing', async () => {
  const l = await listeners();
  try {
    // The socket's directory is bound in: only seccomp (no socket()) stands in the way.
    const r = await report(spawnJailed(options('jail-network.js', [l.unixPath, String(l.tcpPort), String(l.udpPort)], [l.dir])));
    assert.equal(r, { unix: 'EPERM', tcp: 'EPERM', udp: 'EPERM' });
    assert.equal(await l.escaped(), { unix: 0, tcp: 0, udp: [] });
  } finally {
    l.close();
  }
});

test('sockets, control: unjailed, the same script reaches all three listeners', async () => {
  const l = await listeners();
  try {
    const r = await report(spawnUnjailed(options('jail-network.js', [l.unixPath, String(l.tcpPort), String(l.udpPort)])));
    assert.equal(r, { unix: 'connected', tcp: 'connected', udp: 'sent' });
    assert.equal(await l.escaped(), { unix: 1, tcp: 1, udp: ['escaped'] });
  } finally {
    l.close();
  }
});

test('files: nothing can be created in /, /tmp, /dev, /dev/shm, /proc or the bound directories; nothing appears on the host', async () => {
  // Bound in and world-writable on the host: only the read-only mount stops a write.
  const open = path.join(work, 'open');
  fs.mkdirSync(open);
  fs.chmodSync(open, 0o777);
  const name = `escaped-${process.pid}-${Date.now()}`;
  const dirs = ['/', '/tmp', '/dev', '/dev/shm', '/proc', '/proc/self', code, open];
  const r = await report(spawnJailed(options('jail-files.js', [name, ...dirs], [open])));
  for (const d of dirs) {
    for (const kind of ['file', 'dir', 'symlink']) assert.is.not(r[d]?.[kind], 'created', `${kind} in ${d}: ${JSON.stringify(r[d])}`);
  }
  for (const d of ['/', '/tmp', code, open]) {
    assert.equal(fs.readdirSync(d).filter((n) => n.startsWith(name)), [], `host ${d}`);
  }
});

test('files, control: unjailed, the same script creates its files in an open directory', async () => {
  const open = fs.mkdtempSync(path.join(work, 'open-control-'));
  const r = await report(spawnUnjailed(options('jail-files.js', ['made', open])));
  assert.equal(r[open], { file: 'created', dir: 'created', symlink: 'created' });
  assert.ok(fs.existsSync(path.join(open, 'made')));
});

test('signals: killing the parent, the test and every process (-1) fails, and the test lives on', async () => {
  const r = await report(spawnJailed(options('jail-kill.js', [String(process.pid), 'SIGKILL'])));
  assert.equal(r, { parent: 'EPERM', test: 'EPERM', all: 'EPERM' });
  assert.ok(process.kill(process.pid, 0));
});

test('signals, control: unjailed, the same script may signal the test (signal 0)', async () => {
  const r = await report(spawnUnjailed(options('jail-kill.js', [String(process.pid), '0'])));
  assert.equal(r, { parent: 'sent', test: 'sent' });
});

test('processes: spawn, fork, execSync and spawnSync all fail', async () => {
  const r = await report(spawnJailed(options('jail-fork.js', [])));
  for (const how of ['spawn', 'spawnNoPipes', 'fork', 'execSync', 'spawnSync']) assert.is.not(r[how], 'started', `${how}: ${JSON.stringify(r)}`);
  // Refused by seccomp: socketpair for the stdio pipes, clone without CLONE_THREAD.
  assert.is(r.spawn, 'EPERM');
  assert.is(r.spawnNoPipes, 'EPERM');
});

test('processes, control: unjailed, the same script starts all four', async () => {
  const r = await report(spawnUnjailed(options('jail-fork.js', [])));
  assert.equal(r, { spawn: 'started', spawnNoPipes: 'started', fork: 'started', execSync: 'started', spawnSync: 'started' });
});

// The layers under seccomp, each on its own: the same attacks in the full jail with a
// filter that allows every call (one BPF instruction: return SECCOMP_RET_ALLOW).
const allowAll = Buffer.from([0x06, 0, 0, 0, 0x00, 0x00, 0xff, 0x7f]);

test('layers: with seccomp allowing everything, the read-only mounts alone refuse file creation', async () => {
  const open = fs.mkdtempSync(path.join(work, 'open-layer-'));
  fs.chmodSync(open, 0o777);
  const name = `escaped-${process.pid}-${Date.now()}`;
  const dirs = ['/', '/dev', code, open]; // (/proc makes no files at all: ENOENT)
  const r = await report(startJail(options('jail-files.js', [name, ...dirs], [open]), allowAll));
  for (const d of dirs) assert.equal(r[d], { file: 'EROFS', dir: 'EROFS', symlink: 'EROFS' }, d);
  assert.equal(fs.readdirSync(open), []);
});

test('layers: with seccomp allowing everything, the empty network namespace alone keeps TCP and UDP in', async () => {
  const l = await listeners();
  try {
    // The Unix socket is not bound in here: a bound one would be reachable without
    // seccomp (a path, not an address), which is why the filter refuses socket().
    const r = await report(startJail(options('jail-network.js', [path.join(code, 'none.sock'), String(l.tcpPort), String(l.udpPort)]), allowAll));
    assert.is(r.unix, 'ENOENT');
    assert.is(r.tcp, 'ECONNREFUSED'); // the jail's own loopback, where nothing listens
    assert.equal(await l.escaped(), { unix: 0, tcp: 0, udp: [] });
  } finally {
    l.close();
  }
});

test('layers: with seccomp allowing everything, the pid namespace alone hides the test from kill', async () => {
  const r = await report(startJail(options('jail-kill.js', [String(process.pid), 'SIGKILL']), allowAll));
  assert.is(r.test, 'ESRCH');
  assert.ok(process.kill(process.pid, 0));
});

test.run();
