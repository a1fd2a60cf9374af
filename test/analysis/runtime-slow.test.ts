// Crash safety under fire (slow: run it once, not in a loop): 200,000 IMIX packets
// through the sealed pipeline while the analysis is killed with SIGKILL 20 times at
// random, with one analysis process and with two shards (a random shard each time).
// Nothing may be lost and nothing repeated: the received trace holds every input
// packet once (same sizes, protocols, ports and flags; addresses and TCP sequence
// numbers are anonymized), and no flow is reported twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runBox, receive, tempDir, readLines, repoRoot } from '../lib/run-box';
import { analysisPids, packetShapes, seededRandom, shapeDifference } from '../lib/runtime-box';
import { until, pause } from '../lib/until';

const PACKETS = 200_000;
const KILLS = 20;
const seed = Number(process.env.SEALTAP_KILL_SEED ?? Date.now() % 100000);

const work = tempDir('crash');
const trace = path.join(work, 'imix.pcap');

test('generates the trace', () => {
  const gen = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'tools', 'samplegen', 'main.js'), '--kind', 'imix', '--packets', String(PACKETS), '--out', trace], { encoding: 'utf8' });
  assert.is(gen.status, 0, gen.stderr);
});

for (const shards of [1, 2]) {
  const what = shards === 1 ? 'the analysis is' : `a random one of ${shards} analysis shards is`;
  test(`loses and repeats nothing when ${what} killed ${KILLS} times at random (seed ${seed})`, () => crashRun(shards));
}

async function crashRun(shards: number): Promise<void> {

  // Kills are spread over the whole run: each waits for capture to publish a randomly
  // chosen segment (capture is paced by analysis through the full spool), then for a
  // random moment, so some land in replays, some in new work, some in the final flush.
  const rand = seededRandom(seed);
  const segments = Math.floor(fs.statSync(trace).size / (1024 * 1024));
  // Capture runs up to a ring and a few capture slots (~24 segments) ahead of the
  // analysis: later targets could land after the analysis already finished.
  const span = segments - 24;
  assert.ok(span > KILLS, `the trace has only ${segments} segments`);
  const targets = Array.from({ length: KILLS }, () => 1 + Math.floor(rand() * span)).sort((a, b) => a - b);
  let published = -1;
  let kills = 0;
  const killed = new Set<number>();
  let running = true;
  const killer = (async () => {
    for (const target of targets) {
      await until(`segment ${target} was never published`, () => !running || published >= target, 300_000, 20);
      await pause(rand() * 400); // a random moment after it, not a wait for anything
      // Only a process not killed before: a killed one shows in /proc until it is reaped,
      // and killing it again would count a kill that costs no death.
      let pids: number[] = [];
      await until('no analysis process to kill', () => !running || (pids = analysisPids().filter((p) => !killed.has(p))).length === shards, 60_000, 20);
      if (!running) return;
      const victim = pids[Math.floor(rand() * pids.length)];
      try {
        process.kill(victim, 'SIGKILL');
        killed.add(victim);
        kills++;
      } catch {
        // it ended by itself in the meantime
      }
    }
  })();
  const run = await runBox({ config: { source: { pcap: trace }, outputs: ['packets', 'flows'], analysis: { shards } }, hooks: { published: (seq) => { published = seq; } } });
  running = false;
  await killer;
  const text = run.console.join('\n');
  assert.is(run.code, 0, text);
  assert.is(kills, KILLS, `only ${kills} kills landed before the run ended`);

  const r = receive(run.linePath);
  const s = r.summary;
  assert.is(s.captured, PACKETS);
  assert.is(s.spoolDropped, 0);
  assert.is(s.analysed, PACKETS);
  assert.is(s.quarantined, 0, text);
  assert.is(s.missingFrames, 0);
  assert.is(s.sessions[s.sessions.length - 1].end.analysisRestarts, KILLS, text.split('\n').filter((l) => /restart/.test(l)).join('\n'));

  const got = packetShapes(path.join(r.outDir, 'trace.pcap'));
  assert.is(got.length, PACKETS);
  assert.equal(shapeDifference(packetShapes(trace), got).slice(0, 10), []);

  const flows = readLines(path.join(r.outDir, 'flows.jsonl'));
  assert.ok(flows.length > 0, 'no flow records arrived');
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const f of flows) {
    const k = `${f.protocol} ${f.srcAddr}:${f.srcPort} ${f.dstAddr}:${f.dstPort} ${f.firstUs}`;
    if (seen.has(k)) dups.push(k);
    seen.add(k);
  }
  assert.equal(dups.slice(0, 10), []);
  // Kept when the test fails, for a look at the line and the spool.
  fs.rmSync(run.linePath, { force: true });
}

test('cleans up', () => {
  fs.rmSync(work, { recursive: true, force: true });
});

test.run();
