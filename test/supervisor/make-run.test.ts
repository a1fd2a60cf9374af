// `make run`'s own path: scripts/run-sample.sh with a socat pty pair as the serial line,
// the receiver following on the workstation end and the supervisor on the box end.
// What the receiver wrote must equal what the sample traffic holds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot, readLines } from '../lib/run-box';
import { readPcap } from '../lib/pcapfile';

test('make run: the sample goes through the sealed pipeline over a pty, and the results equal what was sent', () => {
  const r = spawnSync(path.join(repoRoot, 'scripts', 'run-sample.sh'), [], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  const expect = JSON.parse(fs.readFileSync(path.join(repoRoot, 'build', 'sample.pcap.expect.json'), 'utf8'));
  const out = path.join(repoRoot, 'out', 'results');
  const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.is(s.complete, true, 'the END record arrived');
  assert.is(s.recordsMatchEnd, true, 'every record the box sent arrived');
  assert.is(s.captured, expect.packets);
  assert.is(s.analysed, expect.packets);
  assert.is(s.badFrames, 0);
  assert.is(s.missingFrames, 0);
  assert.is(s.outputs.packets, expect.packets);
  assert.is(readPcap(path.join(out, 'trace.pcap')).records.length, expect.packets);
  const flows = readLines(path.join(out, 'flows.jsonl'));
  assert.is(flows.length, s.outputs.flows);
  assert.is(flows.reduce((n, f) => n + f.packets + f.revPackets, 0) <= expect.packets, true);
  assert.ok(readLines(path.join(out, 'dns.jsonl')).length > 0, 'no DNS records');
  // The operator log reached the workstation live (receive --follow) and in log.txt.
  assert.match(r.stdout, /capturing from file .*sample\.pcap/);
  assert.match(fs.readFileSync(path.join(out, 'log.txt'), 'utf8'), /run finished \(end of source\)/);
  // Not a terminal here: the status block comes as plain lines, while capturing and after END.
  assert.match(r.stdout, /^status: .*\| state capturing \| time elapsed \d+:\d\d.* pps \|/m);
  assert.match(r.stdout, new RegExp(`^status: .*\\| ENDED: end of source \\|.*captured ${expect.packets} `, 'm'));
  assert.ok(fs.existsSync(path.join(out, 'report.html')));
  assert.match(r.stdout.trim().split('\n').pop()!, /^run report: out\/results\/report\.html/, 'make run ends with the report\'s path');
});

test.run();
