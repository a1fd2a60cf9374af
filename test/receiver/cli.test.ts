// `sealtap receive` as a user runs it: exit codes, one-line errors, files, signals.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { SerialPort } from 'serialport';
import { OUTPUT_FILES } from '../../firmware/receiver/outputs';
import { makeEnd, openPtyPair, tmpDir } from '../lib/channel-fixtures';
import { channelOn, recordLine, sendMix, untilHearing } from '../lib/channel-recording';
import { until, within } from '../lib/until';

const SEALTAP = path.resolve(__dirname, '../../../bin/sealtap');

function run(args: string[]) {
  return spawnSync(SEALTAP, args, { encoding: 'utf8', timeout: 30000 });
}

function oneLineError(r: ReturnType<typeof run>, pattern: RegExp): void {
  assert.ok(r.status !== 0, `exit ${r.status}`);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0], pattern);
}

test('reads a recording: exit 0, a short summary, every output file', async () => {
  const { file, dir } = await recordLine({ rounds: 3, perRound: 10 });
  const out = path.join(dir, 'out');
  const r = run(['receive', file, '--out', out]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /received \d+ frames \(0 bad, 0 missing\)/);
  assert.match(r.stdout, /box: captured 1000, analysed 995/);
  for (const f of [...OUTPUT_FILES, 'line.raw']) assert.ok(fs.existsSync(path.join(out, f)), `${f} written`);
});

test('refuses an input that does not exist, in one line', () => {
  oneLineError(run(['receive', '/dev/ttyNOSUCH7', '--out', tmpDir('x')]), /^sealtap: \/dev\/ttyNOSUCH7 does not exist: give the tty/);
});

test('refuses an input that cannot be read, in one line', () => {
  oneLineError(run(['receive', '/etc/passwd/line', '--out', tmpDir('x')]), /^sealtap: cannot read \/etc\/passwd\/line/);
});

test('refuses a directory as input, in one line', () => {
  oneLineError(run(['receive', tmpDir('d'), '--out', tmpDir('x')]), /is a directory/);
});

test('refuses an output directory that cannot be written, in one line', async () => {
  const { file } = await recordLine({ rounds: 1, perRound: 1 });
  oneLineError(run(['receive', file, '--out', '/etc/passwd/out']), /^sealtap: output directory \/etc\/passwd\/out is not writable/);
});

test('refuses a busy tty, in one line', async () => {
  const pty = await openPtyPair();
  const holder = new SerialPort({ path: pty.workstation, baudRate: 115200, autoOpen: false });
  try {
    await new Promise<void>((res, rej) => holder.open((e) => (e ? rej(e) : res())));
    const out = path.join(tmpDir('busy'), 'results');
    oneLineError(run(['receive', pty.workstation, '--out', out]), /is busy: another program/);
    assert.not.ok(fs.existsSync(out), 'no results folder left behind');
  } finally {
    await new Promise<void>((res) => holder.close(() => res()));
    await pty.close();
  }
});

test('usage mistakes exit 2: no input, no --out, bad --baud, unknown option, bad --ipfix', async () => {
  const { file } = await recordLine({ rounds: 1, perRound: 1 });
  assert.is(run(['receive', '--out', tmpDir('u')]).status, 2);
  assert.is(run(['receive', file]).status, 2);
  assert.is(run(['receive', file, '--out', tmpDir('u'), '--baud', 'fast']).status, 2);
  assert.is(run(['receive', file, '--out', tmpDir('u'), '--bogus']).status, 2);
  const bad = run(['receive', file, '--out', tmpDir('u'), '--ipfix', 'tcp://x']);
  oneLineError(bad, /expected udp:\/\/host:port/);
  assert.is(bad.status, 2);
});

test('a tty is read until SIGTERM: files finished, exit 0; --follow shows the log and status', async () => {
  const pty = await openPtyPair();
  const out = tmpDir('sig');
  try {
    const p = spawn(SEALTAP, ['receive', pty.workstation, '--out', out, '--baud', '921600', '--follow'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => (stdout += d));
    p.stderr!.on('data', (d) => (stderr += d));
    await untilHearing(pty.box, path.join(out, 'line.raw'));
    const { ch } = channelOn(pty.box, { baud: 921600 });
    ch.send(3, { uptimeMs: 42, severity: 5, msg: 'capture started on eth1' });
    await sendMix(ch, 3, 10, 10);
    await until(() => `the log line never showed:\n${stdout}`, () => /capture started on eth1/.test(stdout));
    const exit = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    p.kill('SIGTERM');
    const code = await exit;
    assert.is(code, 0, stderr);
    assert.match(stdout, /capture started on eth1/);
    assert.match(stdout, /^status: .*frames \d+ bad 0 missing 0/m);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.ok(summary.records.FLOW > 0);
    assert.is(summary.complete, false, 'no END yet when stopped');
    await ch.close(makeEnd(), 500);
  } finally {
    await pty.close();
  }
});

test('--until-end on a tty exits by itself after the END record', async () => {
  const pty = await openPtyPair();
  const out = tmpDir('until');
  try {
    const p = spawn(SEALTAP, ['receive', pty.workstation, '--out', out, '--baud', '921600', '--until-end'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exit = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    await untilHearing(pty.box, path.join(out, 'line.raw'));
    const { ch } = channelOn(pty.box, { baud: 921600 });
    await sendMix(ch, 2, 10);
    await ch.close(makeEnd(31337), 5000);
    const code = await within(exit, 'receive --until-end did not exit after END', 10_000);
    assert.is(code, 0);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.is(summary.captured, 31337);
    assert.is(summary.recordsMatchEnd, true);
  } finally {
    await pty.close();
  }
});

test.run();
