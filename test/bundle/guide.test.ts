// docs/guide.md, run: every shell block of the researcher's guide, in order, with a
// throwaway $HOME, so the guide cannot drift from what the tools do. Then what the
// guide says the results hold is checked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { REPO_ROOT, tempDir } from '../lib/bundle-fixtures';

const GUIDE = path.join(REPO_ROOT, 'docs', 'guide.md');
const NOT_RUN = /^<!-- not run by the guide test: .+ -->$/;

/** The guide's ```sh blocks, in order, except those marked as not run (and why). */
function shellBlocks(text: string): { run: string[]; skipped: string[] } {
  const run: string[] = [];
  const skipped: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue;
    const end = lines.indexOf('```', i + 1);
    const block = lines.slice(i + 1, end).join('\n');
    (NOT_RUN.test(lines[i - 1] ?? '') ? skipped : run).push(block);
    i = end;
  }
  return { run, skipped };
}

test('every shell block of docs/guide.md runs, in order, and the results are what it says', () => {
  const { run, skipped } = shellBlocks(fs.readFileSync(GUIDE, 'utf8'));
  assert.ok(run.length >= 7, `the guide's steps: ${run.length} blocks`);
  assert.is(skipped.length, 1, 'only the QEMU boot is left to make test-image');
  assert.match(skipped[0], /make qemu BUNDLE=/);
  const home = tempDir('guide-home');
  // The module is unpacked under TMPDIR, which the jail's uid must be able to pass through.
  const tmp = tempDir('guide-tmp');
  fs.chmodSync(tmp, 0o711);
  const script = ['set -euo pipefail', ...run].join('\n');
  const r = spawnSync('bash', ['-c', script], {
    cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000,
    env: { ...process.env, HOME: home, TMPDIR: tmp },
  });
  assert.is(r.status, 0, `the guide's commands failed:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`);
  const out = r.stdout + r.stderr;
  assert.match(out, /trust configuration .*: a bundle needs researcher: 1 of [0-9a-f]{16}; privacy-officer: 1 of [0-9a-f]{16}/);
  assert.match(out, /valid — tcp-rtt 1\.0\.0 .* approved by researcher [0-9a-f]{16}, privacy-officer [0-9a-f]{16}/);
  assert.match(out, /analysis firmware tcp-rtt 1\.0\.0 \(security version 1\) from slot A, manifest [0-9a-f]{16}, approved by researcher [0-9a-f]{16}, privacy-officer [0-9a-f]{16}, privacy statement [0-9a-f]{16}/);
  const privacy = /^privacy statement ([0-9a-f]{64})$/m.exec(out)?.[1];
  assert.ok(privacy, 'inspect --privacy printed the statement');

  const results = path.join(home, 'rtt', 'results');
  const summary = JSON.parse(fs.readFileSync(path.join(results, 'summary.json'), 'utf8'));
  assert.is(summary.firmware.name, 'tcp-rtt');
  assert.is(summary.privacy, privacy);
  assert.is(summary.module.blake2b.length, 64);
  const schema = JSON.parse(fs.readFileSync(path.join(results, 'schema.json'), 'utf8'));
  assert.match(schema.rtt.fields.server.transform, /IPv4: Crypto-PAn \(keyed, prefix-preserving\), then cut to \/24/);
  assert.match(schema.rtt.fields.at.transform, /moved back by the run's secret origin, then rounded down to 1000 us/);
  const rows = fs.readFileSync(path.join(results, 'rtt.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(rows.length > 0, 'no rtt records');
  // Addresses cut to /24 after Crypto-PAn, as the statement says.
  assert.ok(rows.every((x) => typeof x.server === 'string' && (x.server.includes(':') || x.server.endsWith('.0'))), 'a server address not cut to /24');
  assert.ok(rows.every((x) => x.serverRttUs % 1000 === 0 && x.at % 1000 === 0), 'times not coarsened to 1 ms');
  // The try-out on the pcap and the run from the medium saw the same handshakes.
  const tried = fs.readFileSync(path.join(home, 'rtt', 'try', 'rtt.jsonl'), 'utf8').trim().split('\n');
  assert.is(tried.length, rows.length);
  assert.match(fs.readFileSync(path.join(results, 'README.txt'), 'utf8'), new RegExp(`Privacy statement: ${privacy}`));
});

test('the example the guide names is in examples/ with what a bundle needs', () => {
  const text = fs.readFileSync(GUIDE, 'utf8');
  const named = new Set([...text.matchAll(/examples\/([a-z0-9-]+)/g)].map((m) => m[1]));
  assert.equal([...named], ['tcp-rtt']);
  for (const f of ['module.js', 'policy.json', 'run.json', 'bundle.json']) assert.ok(fs.existsSync(path.join(REPO_ROOT, 'examples', 'tcp-rtt', f)), f);
});

test.run();
