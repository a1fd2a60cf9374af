// The researcher's results key as a user handles it: `sealtap receive keygen`, run.json
// channel.recipient, `sealtap receive --key`, and every way of getting it wrong.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { validateConfig, ConfigError } from '../../firmware/supervisor/config';
import { readResultsKey, freeResultsKey } from '../../firmware/receiver/results-key';
import { tmpDir } from '../lib/channel-fixtures';
import { recordLine } from '../lib/channel-recording';
import { runBox, sampleTrace, tempDir } from '../lib/run-box';

const SEALTAP = path.resolve(__dirname, '../../../bin/sealtap');
const run = (args: string[]) => spawnSync(SEALTAP, args, { encoding: 'utf8', timeout: 60000 });

function oneLineError(r: ReturnType<typeof run>, pattern: RegExp): void {
  assert.ok(r.status !== 0, `exit ${r.status}`);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0], pattern);
}

function keygen(): { prefix: string; pubHex: string } {
  const prefix = path.join(tmpDir('rkey'), 'researcher');
  const r = run(['receive', 'keygen', '--out', prefix]);
  assert.is(r.status, 0, r.stderr);
  return { prefix, pubHex: fs.readFileSync(`${prefix}.pub`, 'utf8').trim() };
}

const lines = (f: string): number => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0);

test('keygen writes a 0600 secret key and a hex public key, and prints the run.json line', () => {
  const prefix = path.join(tmpDir('rkey'), 'r');
  const r = run(['receive', 'keygen', '--out', prefix]);
  assert.is(r.status, 0, r.stderr);
  assert.is(fs.statSync(`${prefix}.key`).mode & 0o777, 0o600);
  const pub = fs.readFileSync(`${prefix}.pub`, 'utf8');
  assert.match(pub, /^[0-9a-f]{64}\n$/);
  assert.ok(r.stdout.includes(`"recipient": "${pub.trim()}"`));
  const k = readResultsKey(`${prefix}.key`);
  assert.is(k.publicKey.toString('hex'), pub.trim(), 'the public half is derived from the .key file');
  freeResultsKey(k);
});

test('keygen refuses to overwrite a key, in one line', () => {
  const { prefix } = keygen();
  oneLineError(run(['receive', 'keygen', '--out', prefix]), /already exists: choose another --out prefix/);
});

test('the key file never holds its secret as text, and keygen never prints it', () => {
  const prefix = path.join(tmpDir('rkey'), 'r');
  const r = run(['receive', 'keygen', '--out', prefix]);
  const secret = fs.readFileSync(`${prefix}.key`).subarray(8);
  for (const enc of ['hex', 'base64'] as const) assert.not.ok((r.stdout + r.stderr).includes(secret.toString(enc)), enc);
});

test('run.json channel.recipient: 64 hex digits accepted, anything else refused naming the field', () => {
  const base = { source: { pcap: 'x.pcap' }, spool: { dir: '/tmp/s', bytes: 1 << 24 }, channel: { path: '/tmp/line' }, outputs: ['flows'] };
  const hex = 'ab'.repeat(32);
  assert.is(validateConfig({ ...base, channel: { path: '/tmp/line', recipient: hex } }, '/tmp').channel.recipient, hex);
  assert.is(validateConfig(base, '/tmp').channel.recipient, null);
  for (const bad of ['ab'.repeat(31), 'zz'.repeat(32), '00'.repeat(32), 42, `${hex}00`]) {
    try {
      validateConfig({ ...base, channel: { path: '/tmp/line', recipient: bad } }, '/tmp');
      assert.unreachable(`accepted ${String(bad)}`);
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.match((e as Error).message, /^channel\.recipient: must be the researcher's X25519 public key as 64 hex digits/);
      assert.not.ok((e as Error).message.includes(String(bad)), 'the value is not echoed');
    }
  }
});

test('the box encrypts to run.json channel.recipient; receive --key reads it all', async () => {
  const { prefix, pubHex } = keygen();
  const work = tempDir('enc-run');
  const sample = sampleTrace(work);
  const box = await runBox({ config: { source: { pcap: sample.file }, outputs: ['packets', 'flows', 'dns'], channel: { recipient: pubHex } } });
  assert.is(box.code, 0, box.console.join('\n'));
  const out = path.join(work, 'out');
  const r = run(['receive', box.linePath, '--out', out, '--key', `${prefix}.key`]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '');
  const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.is(s.complete, true);
  assert.is(s.recordsMatchEnd, true);
  assert.is(s.records.PACKET, sample.expect.packets);
  assert.is(s.captured, sample.expect.packets);
  assert.is(s.channel.undecryptableFrames, 0);
  assert.ok(s.channel.decryptedFrames > 0);
  assert.is(s.sessions[0].encrypted, 'decrypted');
  assert.is(lines(path.join(out, 'flows.jsonl')), s.records.FLOW);
});

test('receive without --key: exit 0, nothing decrypted, one line says to give --key', async () => {
  const { pubHex } = keygen();
  const { file, dir } = await recordLine({ rounds: 3, perRound: 10, over: { recipient: Buffer.from(pubHex, 'hex') } });
  const out = path.join(dir, 'out');
  const r = run(['receive', file, '--out', out]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr.trim(), /^sealtap: \d+ frames are encrypted and were not read: run sealtap receive again with --key PREFIX.key/);
  const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.ok(s.channel.undecryptableFrames > 0);
  assert.is(s.sessions[0].encrypted, 'no key');
  assert.is(lines(path.join(out, 'flows.jsonl')), 0);
  assert.match(fs.readFileSync(path.join(out, 'log.txt'), 'utf8'), /encrypted to the researcher's key.*--key/);
});

test('receive with the wrong --key: exit 0, one line says the key does not match', async () => {
  const { pubHex } = keygen();
  const other = keygen();
  const { file, dir } = await recordLine({ rounds: 2, perRound: 5, over: { recipient: Buffer.from(pubHex, 'hex') } });
  const out = path.join(dir, 'out');
  const r = run(['receive', file, '--out', out, '--key', `${other.prefix}.key`]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr.trim(), /^sealtap: \d+ frames are encrypted and were not read: the --key given is not the one run.json channel.recipient names/);
  assert.is(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).sessions[0].encrypted, 'wrong key');
});

test('refuses a --key that does not exist, in one line', async () => {
  const { file, dir } = await recordLine({ rounds: 1, perRound: 1 });
  oneLineError(run(['receive', file, '--out', path.join(dir, 'o'), '--key', '/nonexistent/r.key']), /^sealtap: cannot read results key \/nonexistent\/r.key: ENOENT; give the .key file/);
});

test('refuses the .pub file given as --key, in one line', async () => {
  const { prefix } = keygen();
  const { file, dir } = await recordLine({ rounds: 1, perRound: 1 });
  oneLineError(run(['receive', file, '--out', path.join(dir, 'o'), '--key', `${prefix}.pub`]), /is not a sealtap results key .*not the .pub/);
});

test('refuses a --key readable by other users, in one line', async () => {
  const { prefix } = keygen();
  fs.chmodSync(`${prefix}.key`, 0o644);
  const { file, dir } = await recordLine({ rounds: 1, perRound: 1 });
  oneLineError(run(['receive', file, '--out', path.join(dir, 'o'), '--key', `${prefix}.key`]), /readable by other users .*chmod 600/);
});

test('refuses keygen without --out, in one line', () => {
  oneLineError(run(['receive', 'keygen']), /^sealtap: receive keygen needs --out PREFIX/);
});

test.run();
