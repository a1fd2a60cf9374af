// `sealtap receive` given something that is not the results line, or a results folder
// it would spoil: one line on stderr, the exit code of the convention (1 runtime, 2 usage),
// and nothing left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tmpDir } from '../lib/channel-fixtures';
import { recordLine } from '../lib/channel-recording';

const SEALTAP = path.resolve(__dirname, '../../../bin/sealtap');

function run(args: string[]) {
  return spawnSync(SEALTAP, args, { encoding: 'utf8', timeout: 30000 });
}

function fails(r: ReturnType<typeof run>, code: number, pattern: RegExp): void {
  assert.is(r.status, code, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0], pattern);
}

/** An input file in a fresh folder, and an --out beside it that does not exist yet. */
function input(name: string, bytes: Buffer): { file: string; out: string } {
  const dir = tmpDir('refuse');
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return { file, out: path.join(dir, 'results') };
}

/** A classic pcap file with one 60-byte Ethernet frame: what a user might give by mistake. */
function pcapBytes(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(65535, 16);
  h.writeUInt32LE(1, 20);
  const r = Buffer.alloc(16);
  r.writeUInt32LE(60, 8);
  r.writeUInt32LE(60, 12);
  return Buffer.concat([h, r, Buffer.alloc(60, 0x45)]);
}

test('refuses an empty file: exit 1, one line naming it, nothing written', () => {
  const { file, out } = input('empty.raw', Buffer.alloc(0));
  fails(run(['receive', file, '--out', out]), 1, new RegExp(`^sealtap: ${file} is empty: no sealtap frame in it.*nothing written$`));
  assert.not.ok(fs.existsSync(out), 'no results folder left');
});

test('refuses garbage bytes: exit 1, one line asking whether it is the results line, nothing written', () => {
  const bytes = Buffer.alloc(5000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
  const { file, out } = input('noise.bin', bytes);
  fails(run(['receive', file, '--out', out]), 1, new RegExp(`^sealtap: no sealtap frame in ${file} \\(5000 bytes\\): is it the results line\\?`));
  assert.not.ok(fs.existsSync(out), 'no results folder left');
});

test('refuses a pcap file: exit 1, one line saying it is a pcap, nothing written', () => {
  const { file, out } = input('trace.pcap', pcapBytes());
  fails(run(['receive', file, '--out', out]), 1, new RegExp(`^sealtap: ${file} is a pcap file, not a recording of the results line`));
  assert.not.ok(fs.existsSync(out), 'no results folder left');
});

test('refuses a directory as input: exit 1, one line, no results folder made', () => {
  const dir = tmpDir('indir');
  const out = path.join(tmpDir('o'), 'results');
  fails(run(['receive', dir, '--out', out]), 1, new RegExp(`^sealtap: ${dir} is a directory: give a tty or a recording file`));
  assert.not.ok(fs.existsSync(out));
});

test('leaves an existing empty folder empty when the input held no frame', () => {
  const { file } = input('noise.bin', Buffer.from('not a line at all\n'));
  const out = tmpDir('empty-out');
  fails(run(['receive', file, '--out', out]), 1, /no sealtap frame in/);
  assert.equal(fs.readdirSync(out), []);
});

test('leaves no folder behind when the key file cannot be read', async () => {
  const { file, dir } = await recordLine({ rounds: 1, perRound: 1 });
  const out = path.join(dir, 'new', 'results');
  fails(run(['receive', file, '--out', out, '--key', '/nonexistent/r.key']), 1, /cannot read results key/);
  assert.not.ok(fs.existsSync(path.join(dir, 'new')), 'the folders receive made are gone');
});

test('refuses an output folder that is not empty: exit 2, one line naming it and --force', async () => {
  const { file } = await recordLine({ rounds: 1, perRound: 2 });
  const out = tmpDir('full');
  fs.writeFileSync(path.join(out, 'notes.txt'), 'mine\n');
  fails(run(['receive', file, '--out', out]), 2, new RegExp(`^sealtap: output directory ${out} is not empty .*--force`));
  assert.equal(fs.readdirSync(out), ['notes.txt'], 'nothing written beside it');
});

test('writes into an output folder that is not empty with --force, keeping other files', async () => {
  const { file } = await recordLine({ rounds: 1, perRound: 2 });
  const out = tmpDir('full');
  fs.writeFileSync(path.join(out, 'notes.txt'), 'mine\n');
  fs.writeFileSync(path.join(out, 'summary.json'), '{"stale": true}\n');
  const r = run(['receive', file, '--out', out, '--force']);
  assert.is(r.status, 0, r.stderr);
  assert.is(fs.readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'mine\n');
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.ok(summary.frames > 0, 'summary.json is this run\'s');
});

test('refuses its own line.raw as input, even with --force: exit 2, the recording intact', async () => {
  const { file } = await recordLine({ rounds: 1, perRound: 2 });
  const out = tmpDir('again');
  assert.is(run(['receive', file, '--out', out]).status, 0);
  const line = path.join(out, 'line.raw');
  const before = fs.readFileSync(line);
  fails(run(['receive', line, '--out', out, '--force']), 2, /is in the output directory .* would overwrite it/);
  assert.ok(fs.readFileSync(line).equals(before), 'line.raw not truncated');
});

test('a bad --ipfix is a usage mistake: exit 2, no results folder made', async () => {
  const { file, dir } = await recordLine({ rounds: 1, perRound: 1 });
  const out = path.join(dir, 'ipfix-out');
  fails(run(['receive', file, '--out', out, '--ipfix', 'tcp://x']), 2, /expected udp:\/\/host:port/);
  assert.not.ok(fs.existsSync(out));
});

test('a bad --ipfix-rate or --ipfix-template-secs is a usage mistake: exit 2, one line naming it, no results folder made', async () => {
  const { file, dir } = await recordLine({ rounds: 1, perRound: 1 });
  const out = path.join(dir, 'rate-out');
  const ipfix = ['--ipfix', 'udp://127.0.0.1:4739'];
  for (const v of ['0', '-5', 'fast', '2.5', '1e3', '']) {
    fails(run(['receive', file, '--out', out, ...ipfix, `--ipfix-rate=${v}`]), 2, new RegExp(`^sealtap: --ipfix-rate ${v}: expected a whole number of IPFIX records per second above 0, e.g. --ipfix-rate 5000$`));
  }
  fails(run(['receive', file, '--out', out, ...ipfix, '--ipfix-template-secs', '0']), 2, /^sealtap: --ipfix-template-secs 0: expected a whole number of seconds above 0, e.g. --ipfix-template-secs 60$/);
  fails(run(['receive', file, '--out', out, '--ipfix-rate', '1000']), 2, /^sealtap: --ipfix-rate is only for forwarding: give --ipfix udp:\/\/host:port too$/);
  assert.not.ok(fs.existsSync(out));
});

test('an --ipfix host that does not resolve is a runtime failure: exit 1, one line naming it, nothing written', async () => {
  const { file, dir } = await recordLine({ rounds: 1, perRound: 1 });
  const out = path.join(dir, 'resolve-out');
  fails(run(['receive', file, '--out', out, '--ipfix', 'udp://collector.invalid:4739']), 1, /^sealtap: --ipfix udp:\/\/collector\.invalid:4739: cannot resolve collector\.invalid \(\w+\)/);
  assert.not.ok(fs.existsSync(out));
});

test.run();
