import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs } from '../../tools/samplegen/main';
import { readPcap } from '../lib/pcapfile';
import { tempDir } from '../lib/samplegen-files';

const MAIN = path.join(__dirname, '../../tools/samplegen/main.js');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('defaults to 2,000 sample packets and a million bench packets', () => {
  assert.is(parseArgs(['--out', 'x.pcap']).packets, 2000);
  assert.is(parseArgs(['--out', 'x.pcap', '--kind', 'imix']).packets, 1_000_000);
  assert.is(parseArgs(['--out', 'x.pcap', '--kind', 'small64']).packets, 1_000_000);
});

test('writes the pcap and prints the ground truth as JSON', () => {
  const out = path.join(tempDir(), 'cli-print.pcap');
  const r = cli(['--out', out, '--packets', '300', '--seed', '9']);
  assert.is(r.status, 0, r.stderr);
  const truth = JSON.parse(r.stdout);
  assert.is(truth.packets, 300);
  assert.is(readPcap(out).records.length, 300);
});

test('--expect writes FILE.expect.json instead of printing', () => {
  const out = path.join(tempDir(), 'cli-expect.pcap');
  const r = cli(['--out', out, '--packets', '120', '--kind', 'imix', '--expect']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '');
  const truth = JSON.parse(fs.readFileSync(`${out}.expect.json`, 'utf8'));
  assert.is(truth.kind, 'imix');
  assert.is(truth.packets, 120);
});

test('refuses a missing --out', () => {
  const r = cli(['--packets', '10']);
  assert.is(r.status, 2);
  assert.match(r.stderr, '--out FILE is required');
});

test('refuses an unknown --kind', () => {
  const r = cli(['--out', path.join(tempDir(), 'x.pcap'), '--kind', 'jumbo']);
  assert.is(r.status, 2);
  assert.match(r.stderr, '--kind must be sample, imix or small64');
});

test('refuses a --packets that is not a whole number', () => {
  const r = cli(['--out', path.join(tempDir(), 'x.pcap'), '--packets', '1e6']);
  assert.is(r.status, 2);
  assert.match(r.stderr, '--packets needs a whole number');
});

test('refuses an unknown argument', () => {
  const r = cli(['--out', path.join(tempDir(), 'x.pcap'), '--fast']);
  assert.is(r.status, 2);
  assert.match(r.stderr, 'unknown argument "--fast"');
});

test('refuses a marker that cannot go into a URL or a DNS option', () => {
  const r = cli(['--out', path.join(tempDir(), 'x.pcap'), '--marker', 'has space']);
  assert.is(r.status, 1);
  assert.match(r.stderr, 'use 4 to 64 characters');
});

test('refuses small64 over IPv6, which does not fit in 60 bytes', () => {
  const r = cli(['--out', path.join(tempDir(), 'x.pcap'), '--kind', 'small64', '--ipv6', '--packets', '10']);
  assert.is(r.status, 1);
  assert.match(r.stderr, 'use --kind imix --ipv6');
});

test.run();
