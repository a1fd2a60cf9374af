// The `sealtap` dispatcher (firmware/cli/main.ts): the command list, its exit codes, and
// that only the command asked for is loaded (each process of the box and the receiver
// starts faster for it).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { corpusFile } from '../lib/corpusFiles';

const MAIN = path.join(__dirname, '../../firmware/cli/main.js');
const SEALTAP = path.join(__dirname, '../../../bin/sealtap');
const FIRMWARE = path.join(__dirname, '../../firmware');
// Prints the firmware modules and packages the process loaded, on fd 3, when it exits.
// The main thread's only: a run's capture thread has the same --require.
const LIST_LOADED = `if (require('worker_threads').isMainThread) process.on('exit', () => require('fs').writeSync(3, JSON.stringify(Object.keys(require.cache))));`;

function sealtap(args: string[], require = preload()): { status: number | null; stdout: string; stderr: string; loaded: string[] } {
  const r = spawnSync(process.execPath, ['--require', require, MAIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const out = r.output[3] as string | null;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, loaded: out ? JSON.parse(out) as string[] : [] };
}

// Prints, on fd 3 at exit, for each child process forked from the main thread, whether
// the supervisor's modules were loaded by then (as a list in the order of the forks).
const FORK_ORDER = `
if (require('worker_threads').isMainThread) {
  const cp = require('child_process');
  const fork = cp.fork;
  const seen = [];
  cp.fork = function (...a) {
    seen.push(Object.keys(require.cache).some((f) => f.endsWith(require('path').join('supervisor', 'supervise.js'))) ? 'after' : 'before');
    return fork.apply(this, a);
  };
  process.on('exit', () => require('fs').writeSync(3, JSON.stringify(seen)));
}`;

let preloadFile: string | null = null;
function preload(): string {
  if (preloadFile === null) {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'sealtap-cli-'));
    preloadFile = path.join(dir, 'list-loaded.js');
    fs.writeFileSync(preloadFile, LIST_LOADED);
  }
  return preloadFile;
}

/** The THP mode the kernel offers ('always', 'madvise', 'never'), or null without THP. */
function thpMode(): string | null {
  try {
    return /\[(\w+)\]/.exec(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

// Through bin/sealtap, as the box and the receiver run: reports on fd 3 the process's
// GLIBC_TUNABLES and how much of a 64 MiB Buffer, written through, lies in huge pages.
const HUGE_PAGES = `
const fs = require('fs');
const b = Buffer.alloc(64 << 20, 1);
const huge = Number(/AnonHugePages:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'))?.[1] ?? 0);
fs.writeSync(3, JSON.stringify({ tunables: process.env.GLIBC_TUNABLES ?? null, extraCa: process.env.NODE_EXTRA_CA_CERTS ?? null, hugeKiB: huge, touched: b[b.length - 1], execArgv: process.execArgv }));
process.exit(0);`;

function throughWrapper(env: Record<string, string>, args = ['--help']): { tunables: string | null; extraCa: string | null; hugeKiB: number; execArgv: string[] } {
  const file = path.join(path.dirname(preload()), 'huge-pages.js');
  fs.writeFileSync(file, HUGE_PAGES);
  const r = spawnSync(SEALTAP, args, { encoding: 'utf8', env: { ...process.env, ...env, NODE_OPTIONS: `--require ${file}` }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.output[3] as string) as { tunables: string | null; extraCa: string | null; hugeKiB: number; execArgv: string[] };
}

test('bin/sealtap raises V8\'s interrupt budget for run (the box\'s supervisor) only: the receiver and the other commands keep the default', () => {
  assert.ok(throughWrapper({}, ['run', '--help']).execArgv.includes('--interrupt-budget=675840'));
  for (const args of [['receive', '--help'], ['--help'], ['cryptopan', '--help']]) {
    const argv = throughWrapper({}, args).execArgv;
    assert.not.ok(argv.some((a) => a.startsWith('--interrupt-budget')), `${args.join(' ')}: ${argv.join(' ')}`);
    assert.ok(argv.includes('--no-memory-reducer'), `${args.join(' ')}: ${argv.join(' ')}`);
  }
});

test('bin/sealtap asks glibc for huge pages for malloc (a caller\'s own tunables come after and win), and large buffers get them', () => {
  const own = throughWrapper({ GLIBC_TUNABLES: '' });
  assert.is(own.tunables, 'glibc.malloc.hugetlb=1');
  const off = throughWrapper({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' });
  assert.is(off.tunables, 'glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=0');
  // Where the kernel gives huge pages only on request, the request is what makes them.
  if (thpMode() === 'madvise') {
    assert.ok(own.hugeKiB >= 32 << 10, `${own.hugeKiB} KiB in huge pages with the wrapper's setting`);
    assert.ok(off.hugeKiB < 4 << 10, `${off.hugeKiB} KiB in huge pages with hugetlb=0`);
  }
});

test('bin/sealtap starts node without NODE_EXTRA_CA_CERTS: no command makes a TLS connection, and reading them costs every start', () => {
  const bundle = fs.existsSync('/etc/ssl/certs/ca-certificates.crt') ? '/etc/ssl/certs/ca-certificates.crt' : preload();
  assert.is(throughWrapper({ NODE_EXTRA_CA_CERTS: bundle }).extraCa, null);
});

const loadedFirmware = (loaded: string[]): string[] => loaded.filter((f) => f.startsWith(FIRMWARE + path.sep)).map((f) => path.relative(FIRMWARE, f));

test('--help lists the four commands with one line each, exit 0, and loads none of them', () => {
  const r = sealtap(['--help']);
  assert.is(r.status, 0, r.stderr);
  for (const name of ['run', 'receive', 'cryptopan', 'bundle']) assert.match(r.stdout, new RegExp(`^  ${name} +\\S.+$`, 'm'));
  assert.equal(loadedFirmware(r.loaded).sort(), ['cli/command.js', 'cli/main.js']);
});

test('no command prints the usage and exits 2; an unknown one names itself and exits 2', () => {
  const none = sealtap([]);
  assert.is(none.status, 2);
  assert.match(none.stdout, /^usage: sealtap <command>/);
  const bad = sealtap(['frobnicate']);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /^sealtap: unknown command 'frobnicate'/);
});

test('receive --help loads the receiver only: not the supervisor, not the serial port package', () => {
  const r = sealtap(['receive', '--help']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^usage: sealtap receive/);
  const mine = loadedFirmware(r.loaded);
  assert.ok(mine.includes('receiver/receive.js'), mine.join(' '));
  for (const other of ['cli/run.js', 'supervisor/supervise.js', 'cli/bundle.js', 'cli/cryptopan.js']) assert.not.ok(mine.includes(other), `${other} was loaded`);
  assert.not.ok(r.loaded.some((f) => f.includes(`${path.sep}node_modules${path.sep}serialport${path.sep}`)), 'serialport was loaded for a command that opens no tty');
});

/** A whole run (8 packets of the corpus to a recorded line) through main.js, as sealtap() runs it. */
function tinyRun(require = preload()): ReturnType<typeof sealtap> {
  const dir = path.dirname(preload());
  const config = path.join(dir, 'run.json');
  fs.rmSync(path.join(dir, 'spool'), { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'spool'));
  fs.writeFileSync(config, JSON.stringify({
    source: { pcap: corpusFile('02-sunrise-sunset-esp.pcap') },
    spool: { dir: path.join(dir, 'spool'), bytes: 1 << 24 },
    channel: { path: path.join(dir, 'line.raw') },
    stop: { endOfSource: true },
    outputs: ['flows'],
  }));
  return sealtap(['run', '--config', config], require);
}

test('run --help loads neither the supervisor nor the receiver: the supervisor\'s modules load once the analysis is forked', () => {
  const r = sealtap(['run', '--help']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^usage: sealtap run/);
  const mine = loadedFirmware(r.loaded);
  assert.ok(mine.includes('cli/run.js'), mine.join(' '));
  for (const other of ['supervisor/supervise.js', 'supervisor/sys.js', 'cli/receive.js', 'receiver/receive.js']) assert.not.ok(mine.includes(other), `${other} was loaded`);
});

test('a run forks its analysis before the supervisor\'s modules load', () => {
  const file = path.join(path.dirname(preload()), 'fork-order.js');
  fs.writeFileSync(file, FORK_ORDER);
  const r = tinyRun(file);
  assert.is(r.status, 0, r.stderr);
  // `loaded` holds the forks in order here: the first (the analysis) came before the supervisor's modules.
  assert.ok(r.loaded.length >= 1, 'no process was forked');
  assert.is(r.loaded[0], 'before', JSON.stringify(r.loaded));
});

test('a run loads the supervisor, not the receiver, nor a bundle\'s verification when it verifies none, and of systeminformation its memory module only', () => {
  const r = tinyRun();
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /run finished \(end of source\): captured 8/);
  const mine = loadedFirmware(r.loaded);
  assert.ok(mine.includes('supervisor/supervise.js'), mine.join(' '));
  assert.not.ok(mine.includes('cli/receive.js'));
  assert.not.ok(mine.includes('receiver/receive.js'));
  for (const bundle of ['supervisor/firmware-bundle.js', 'bundle/boot-select.js', 'bundle/verify.js', 'cli/bundle.js']) assert.not.ok(mine.includes(bundle), `${bundle} was loaded`);
  const si = r.loaded.filter((f) => f.includes(`${path.sep}node_modules${path.sep}systeminformation${path.sep}`)).map((f) => path.basename(f)).sort();
  assert.equal(si, ['memory.js', 'util.js']);
});

test('receiving a recording loads neither the IPFIX forwarder nor the results key reader (they come with --ipfix and --key)', () => {
  assert.is(tinyRun().status, 0);
  const dir = path.dirname(preload());
  const out = path.join(dir, 'received');
  fs.rmSync(out, { recursive: true, force: true });
  const r = sealtap(['receive', path.join(dir, 'line.raw'), '--out', out]);
  assert.is(r.status, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(out, 'flows.ipfix')));
  const mine = loadedFirmware(r.loaded);
  assert.ok(mine.includes('receiver/receive.js'), mine.join(' '));
  for (const other of ['receiver/ipfix-udp.js', 'receiver/results-key.js']) assert.not.ok(mine.includes(other), `${other} was loaded`);
});

test.after(() => {
  if (preloadFile) fs.rmSync(path.dirname(preloadFile), { recursive: true, force: true });
});

test.run();
