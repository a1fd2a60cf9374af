// Crash safety under fire (slow: run it once, not in a loop): 200,000 IMIX packets
// through the sealed pipeline while the analysis is killed with SIGKILL 20 times at
// random points of its progress, with one analysis process and with two shards (a
// random shard each time).
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
import { until } from '../lib/until';

const PACKETS = 200_000;
const KILLS = 20;
// Small segments, 16 of them in the spool: ~285 publications in the run, while a restart
// with two shards lets the other shard release up to 16.
const SEGMENT_BYTES = 256 * 1024;
const seed = Number(process.env.SEALTAP_KILL_SEED ?? Date.now() % 100000);

const work = tempDir('crash');
const trace = path.join(work, 'imix.pcap');

test('generates the trace', () => {
  const gen = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'tools', 'samplegen', 'main.js'), '--kind', 'imix', '--packets', String(PACKETS), '--out', trace], { encoding: 'utf8' });
  assert.is(gen.status, 0, gen.stderr);
});

for (const shards of [1, 2]) {
  const what = shards === 1 ? 'the analysis is' : `a random one of ${shards} analysis shards is`;
  test(`loses and repeats nothing when ${what} killed ${KILLS} times at random (seed ${seed})`, () => crashRun(shards, ['packets', 'flows']));
}
// The packets output alone runs its packet loop in C (child.ts fastRun): the places of
// the records it takes must suppress and resume as the JavaScript loop's do.
test(`loses and repeats nothing of the packets output alone when the analysis is killed ${KILLS} times at random (seed ${seed})`, () => crashRun(1, ['packets']));
// The flows output alone runs its loop in C in each shard, which passes the other
// shard's packets (flowsRun): no flow may be lost or sent twice.
test(`repeats no flow of the flows output alone when a random one of 2 shards is killed ${KILLS} times at random (seed ${seed})`, () => crashRun(2, ['flows']));

async function crashRun(shards: number, outputs: ('packets' | 'flows')[]): Promise<void> {

  // Kills are paced by the run, so a fast analysis cannot end it before they land. The
  // spool holds 16 segments, so capture publishes a segment only once every shard is
  // through an older one: publications are the analysis' progress. Once the process
  // killed last is back, the next kill strikes at once (a third of them: start-up and
  // replay) or, from the supervisor's own publication callback, 1 to 6 publications
  // later (new work). The last waits for the end of the trace: it lands, with a
  // publication, while the analysis works through the spool's last segments and its
  // final flush.
  const rand = seededRandom(seed);
  const segments = Math.floor(fs.statSync(trace).size / SEGMENT_BYTES);
  let published = -1;
  let next = Infinity; // the publication the next kill waits for
  let kills = 0;
  const killed = new Set<number>();
  let running = true;
  // Only a process not killed before: a killed one shows in /proc until it is reaped,
  // and killing it again would count a kill that costs no death.
  const live = (): number[] => analysisPids().filter((p) => !killed.has(p));
  const strike = (): void => {
    const pids = live();
    const victim = pids[Math.floor(rand() * pids.length)];
    try {
      process.kill(victim, 'SIGKILL');
    } catch {
      return; // it ended by itself in the meantime: the next publication tries again
    }
    killed.add(victim);
    kills++;
    next = Infinity;
  };
  const killer = (async () => {
    while (kills < KILLS) {
      await until('the killed analysis never came back', () => !running || live().length === shards, 60_000, 5);
      if (!running) return;
      // A segment holds less than SEGMENT_BYTES of the trace: at least `segments` follow.
      // The last kill strikes from a publication, never from here: then the segment just
      // published is still to do, so it cannot land after the analysis said it finished
      // (that death would be no restart). The others strike by segments - 24 at the
      // latest, so that publications are left for it.
      if (kills === KILLS - 1) next = Math.max(published + 1, segments - 4);
      else if (rand() < 1 / 3) next = published;
      else next = Math.min(published + 1 + Math.floor(rand() * 6), segments - 24);
      if (published >= next) strike();
      await until('the analysis was never killed', () => !running || next === Infinity, 300_000, 5);
    }
  })();
  const onPublished = (seq: number): void => {
    published = seq;
    if (seq >= next) strike();
  };
  const run = await runBox({ config: { source: { pcap: trace }, outputs, analysis: { shards }, spool: { bytes: 16 * SEGMENT_BYTES, segmentBytes: SEGMENT_BYTES } }, hooks: { published: onPublished } });
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

  if (outputs.includes('packets')) {
    const got = packetShapes(path.join(r.outDir, 'trace.pcap'));
    assert.is(got.length, PACKETS);
    assert.equal(shapeDifference(packetShapes(trace), got).slice(0, 10), []);
  }

  if (!outputs.includes('flows')) return void fs.rmSync(run.linePath, { force: true });
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
