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

test('writes the pcap and prints no JSON by default: stdout empty, one line on stderr', () => {
  const out = path.join(tempDir(), 'cli-quiet.pcap');
  const r = cli(['--out', out, '--packets', '300', '--seed', '9']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '');
  assert.is(r.stderr, `samplegen: wrote 300 packets to ${out}\n`);
  assert.is(readPcap(out).records.length, 300);
  assert.not.ok(fs.existsSync(`${out}.expect.json`));
});

test('--print-truth prints the ground truth as JSON on stdout', () => {
  const out = path.join(tempDir(), 'cli-print.pcap');
  const r = cli(['--out', out, '--packets', '300', '--seed', '9', '--print-truth']);
  assert.is(r.status, 0, r.stderr);
  const truth = JSON.parse(r.stdout);
  assert.is(truth.packets, 300);
  assert.is(readPcap(out).records.length, 300);
});

test('--help prints the usage and every option on stdout, exit 0, writes nothing', () => {
  const r = cli(['--help']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^usage: samplegen --out FILE/);
  for (const o of ['--out', '--kind', '--packets', '--seed', '--marker', '--ipv6', '--flows', '--expect', '--print-truth', 'Exit status']) assert.match(r.stdout, o);
  assert.is(r.stderr, '');
});

test('refuses an --out in a folder that does not exist: exit 1, one line naming it', () => {
  const out = path.join(tempDir(), 'no-such-folder', 'x.pcap');
  const r = cli(['--out', out, '--packets', '10']);
  assert.is(r.status, 1);
  assert.is(r.stderr, `samplegen: cannot write ${out}: its folder does not exist; create it or choose another --out\n`);
});

test('refuses an --out that is a directory: exit 1, one line naming it', () => {
  const dir = tempDir();
  const r = cli(['--out', dir, '--packets', '10']);
  assert.is(r.status, 1);
  assert.match(r.stderr, new RegExp(`^samplegen: cannot write ${dir}: it is a directory; give a file name`));
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
  assert.match(r.stderr, '--kind must be sample, imix, small64 or large1500');
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

test('refuses a marker that cannot go into a URL or a DNS option: usage, exit 2, no file', () => {
  const out = path.join(tempDir(), 'marker.pcap');
  const r = cli(['--out', out, '--marker', 'has space']);
  assert.is(r.status, 2);
  assert.match(r.stderr, 'use 4 to 64 characters');
  assert.not.ok(fs.existsSync(out));
});

test('refuses small64 over IPv6, which does not fit in 60 bytes: usage, exit 2, no file', () => {
  const out = path.join(tempDir(), 'small64v6.pcap');
  const r = cli(['--out', out, '--kind', 'small64', '--ipv6', '--packets', '10']);
  assert.is(r.status, 2);
  assert.match(r.stderr, 'use --kind imix --ipv6');
  assert.not.ok(fs.existsSync(out));
});

test('refuses a --flows outside 2 to 65536: usage, exit 2', () => {
  const r = cli(['--out', path.join(tempDir(), 'x.pcap'), '--kind', 'imix', '--flows', '1']);
  assert.is(r.status, 2);
  assert.match(r.stderr, '--flows must be 2 to 65536, got 1');
});

test.run();
