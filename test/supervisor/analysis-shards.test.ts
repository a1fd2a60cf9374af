// The shards seen as one analysis by the pipeline: a segment is analysed once every
// shard is through it, a skipped segment is counted once, and the end's counters and
// stream counts are the shards' sums. The shards here are fakes that record what they
// were asked and report what the test makes them report.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ShardedAnalysis } from '../../firmware/supervisor/analysis-shards';
import type { AnalysisEvents } from '../../firmware/analysis/host';
import type { Shard } from '../../firmware/analysis/shard';
import type { AnalysisControl } from '../../firmware/supervisor/sys';

interface FakeShard extends AnalysisControl {
  shard: Shard;
  events: AnalysisEvents;
  calls: string[];
  running: number | null;
}

function setUp(count: number): { set: ShardedAnalysis; shards: FakeShard[]; seen: string[] } {
  const seen: string[] = [];
  const outer: AnalysisEvents = {
    addresses: () => seen.push('addresses'),
    records: (r) => seen.push(`records ${r.length}`),
    packets: (_b, n) => seen.push(`packets ${n}`),
    segmentDone: (seq, packets, skipped) => seen.push(`done ${seq} ${packets}${skipped ? ` skipped ${skipped}` : ''}`),
    streamsRefused: (total) => seen.push(`refused ${total}`),
    restarted: (why) => seen.push(`restarted ${why}`),
    quarantined: (pos) => seen.push(`quarantined ${pos}`),
    finished: (c, s) => seen.push(`finished ${JSON.stringify(c)} ${JSON.stringify(s)}`),
    gaveUp: (why) => seen.push(`gave up ${why}`),
  };
  const shards: FakeShard[] = [];
  const set = new ShardedAnalysis(count, (shard, events) => {
    const f: FakeShard = {
      shard, events, calls: [], running: 100 + shard.index,
      start: () => f.calls.push('start'),
      segmentPublished: (seq) => f.calls.push(`segment ${seq}`),
      finish: () => f.calls.push('finish'),
      stop: () => { f.calls.push('stop'); return Promise.resolve(); },
      pid: () => f.running,
    };
    shards.push(f);
    return f;
  }, outer);
  return { set, shards, seen };
}

test('every shard is started with its index and gets every segment, the finish and the stop', () => {
  const { set, shards } = setUp(3);
  assert.equal(shards.map((s) => s.shard), [{ index: 0, count: 3 }, { index: 1, count: 3 }, { index: 2, count: 3 }]);
  set.start();
  set.segmentPublished(0);
  set.segmentPublished(1);
  set.finish();
  set.stop();
  for (const s of shards) assert.equal(s.calls, ['start', 'segment 0', 'segment 1', 'finish', 'stop']);
  shards[1].running = null; // between a death and its restart
  assert.equal(set.pids(), [100, 102]);
});

test('a segment is analysed once every shard is through it, with the packets of all of them', () => {
  const { shards, seen } = setUp(2);
  shards[0].events.segmentDone(0, 30, null, {});
  shards[0].events.segmentDone(1, 25, null, {});
  assert.equal(seen, [], 'shard 2 has not finished segment 0 yet');
  shards[1].events.segmentDone(0, 10, null, {});
  assert.equal(seen, ['done 0 40']);
  shards[1].events.segmentDone(1, 15, null, {});
  assert.equal(seen, ['done 0 40', 'done 1 40']);
});

test('a segment that fails authentication in every shard is counted once', () => {
  const { shards, seen } = setUp(2);
  shards[0].events.segmentDone(4, 0, 'auth', {});
  shards[1].events.segmentDone(4, 0, 'auth', {});
  assert.equal(seen, ['done 4 0 skipped auth']);
});

test('records, restarts and quarantines pass on as each shard reports them; refusals are summed', () => {
  const { shards, seen } = setUp(2);
  shards[1].events.records([{ type: 2, body: {} }]);
  shards[0].events.packets(Buffer.alloc(0), 3);
  shards[1].events.restarted('analysis shard 2 of 2 was killed by SIGKILL; restart 1 of at most 50');
  shards[0].events.quarantined(2 ** 20 + 7);
  shards[0].events.streamsRefused!(4);
  shards[1].events.streamsRefused!(2);
  shards[0].events.streamsRefused!(5);
  assert.equal(seen, ['records 1', 'packets 3', 'restarted analysis shard 2 of 2 was killed by SIGKILL; restart 1 of at most 50', `quarantined ${2 ** 20 + 7}`, 'refused 4', 'refused 6', 'refused 7']);
});

test('a packet quarantined by several shards (every shard decodes every packet) counts once', () => {
  const { shards, seen } = setUp(3);
  for (const s of shards) s.events.quarantined(5 * 2 ** 20 + 1);
  shards[2].events.quarantined(5 * 2 ** 20 + 2);
  assert.equal(seen, [`quarantined ${5 * 2 ** 20 + 1}`, `quarantined ${5 * 2 ** 20 + 2}`]);
});

test('the analysis finishes when every shard has, with counters and stream counts summed', () => {
  const { shards, seen } = setUp(2);
  shards[1].events.finished({ packets: 60, suppressed: 1 }, { hist: { accepted: 5, refused: { range: 1 } } });
  shards[1].events.finished({ packets: 999 }, {}); // a second report of a shard counts once
  assert.equal(seen, []);
  shards[0].events.finished({ packets: 40 }, { hist: { accepted: 7, refused: { range: 2, rate: 3 } } });
  assert.equal(seen, [`finished ${JSON.stringify({ packets: 100, suppressed: 1 })} ${JSON.stringify({ hist: { accepted: 12, refused: { range: 3, rate: 3 } } })}`]);
});

test.run();
