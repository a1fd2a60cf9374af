// The supervisor's decisions as transcripts, one numbered test per behaviour: given
// these events (scripted capture and analysis, a fake clock, a line that stalls, a
// second signal), it took these actions (log lines, LED files, capture and analysis
// commands, records for the line, closes and wipes). The boot prelude is the same in
// every run and is checked whole in 001; the others compare what follows it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startScriptedRun, settle, ScriptedRun } from '../lib/scripted-sys';
import { until } from '../lib/until';

const BOOT_PRELUDE = [
  'led: status trigger=timer',
  'led: fault trigger=none',
  'led: fault brightness=0',
  '[    0.000] INFO  state: booting',
  '[    0.000] NOTE  sealtap test booting on board dev; analysis firmware test 1',
  '[    0.000] INFO  privacy statement c0d18d6cf985d463b328713a87a8826cec9d827c42211607e1a9e03af0bc6d4d',
  'keys: generated',
  '[    0.000] INFO  volatile keys generated from the kernel RNG: master and 7 purpose keys in locked memory',
  'spool: 4 slots open',
  '[    0.000] INFO  spool ready: 4 slots of 0.1 MiB in $DIR/spool, sealed with XChaCha20-Poly1305 (measured XChaCha20-Poly1305 1000 MB/s, AES-256-GCM 1000 MB/s)',
  'line: open, BOOT with link type -1',
  '[    0.000] INFO  results channel open on $DIR/line.raw (recording); session abababababababab',
  // The analysis starts before the capture slots exist (a fork would share their pages).
  'analysis: 1 to start ahead, reading $DIR/spool/',
  'capture: start (8 slots)',
];

const CAPTURING = [
  'line: BOOT with {"linkType":1}',
  'analysis: start (link type 1)',
  'led: status trigger=heartbeat',
  'led: fault trigger=none',
  'led: fault brightness=0',
  '[    0.000] INFO  state: capturing',
  '[    0.000] NOTE  capturing from file $DIR/in.pcap at max speed (link type 1)',
];

/** The LED files written when the box shows fatal: status off, fault on. */
const SHOWS_FATAL = [
  'led: status trigger=none',
  'led: status brightness=0',
  'led: fault trigger=none',
  'led: fault brightness=1',
  '[    0.000] INFO  state: fatal',
];

/** Run finished, draining: status on, fault off. */
const SHOWS_FINISHED = [
  'led: status trigger=none',
  'led: status brightness=1',
  'led: fault trigger=none',
  'led: fault brightness=0',
];

/** What the run did after the boot prelude (which must be there, unchanged). */
function afterBoot(r: ScriptedRun, prelude = BOOT_PRELUDE): string[] {
  const t = r.sys.transcript;
  assert.equal(t.slice(0, prelude.length), prelude, 'the boot prelude');
  return t.slice(prelude.length);
}

/** Capture reports its link type: the box is capturing. */
async function capturing(r: ScriptedRun): Promise<void> {
  await settle();
  r.sys.capture!.events.onLinkType(1);
  await settle();
}

async function finish(r: ScriptedRun): Promise<number> {
  const code = await r.exited;
  assert.ok(r.sys.keyring?.debugIsZeroed() ?? true, 'the keys are wiped');
  r.sys.remove();
  return code;
}

test('001 a replay to its end: boot, capture, end of source, the analysis finishes, END, drain, keys wiped, exit 0', async () => {
  const r = startScriptedRun();
  await capturing(r);
  r.sys.capture!.segment(50);
  await r.sys.published(0);
  r.sys.analysis!.segmentDone(0, 50);
  r.sys.capture!.done('end of file');
  assert.is(await finish(r), 0);
  assert.equal(r.sys.transcript, [
    ...BOOT_PRELUDE,
    ...CAPTURING,
    'capture: slot 0 released',
    'analysis: segment 0 published',
    '[    0.000] NOTE  stopping: end of source',
    'capture: stop',
    '[    0.000] INFO  capture stopped: 50 packets captured, 50 sealed in 1 segments; letting analysis finish',
    'analysis: finish',
    'analysis: stop',
    ...SHOWS_FINISHED,
    '[    0.000] INFO  state: finished',
    '[    0.000] NOTE  run finished (end of source): captured 50, kernel dropped 0, spool dropped 0, analysed 50, quarantined 0, egress refused 0, analysis restarts 0',
    'line: END "end of source" captured 50 analysed 50 spool dropped 0 quarantined 0 restarts 0; drain 30 s',
    'spool: closed',
    '[    0.000] NOTE  results drained in 0.0 s; keys wiped',
  ]);
});

test('001b the run waits for the analysis processes to exit before it closes the spool (they map its files; the box unmounts it), 5 s at most', async () => {
  for (const [exitsAfterMs, waited] of [[1200, 1200], [null, 5000]] as const) {
    const r = startScriptedRun();
    await capturing(r);
    r.sys.analysis!.exitsAfterMs = exitsAfterMs;
    r.sys.capture!.segment(50);
    await r.sys.published(0);
    r.sys.analysis!.segmentDone(0, 50);
    r.sys.capture!.done('end of file');
    await until('the analysis was never stopped', () => r.sys.transcript.includes('analysis: stop'));
    const stoppedAt = r.sys.now();
    await r.sys.advance(waited - 1);
    assert.not.ok(r.sys.transcript.some((l) => l.includes('state: finished')), `the run went on ${waited - 1} ms after the stop, before the analysis exited`);
    await r.sys.advance(1);
    assert.is(await finish(r), 0);
    const t = r.sys.transcript;
    if (exitsAfterMs !== null) assert.ok(t.indexOf('analysis: exited') < t.indexOf('spool: closed'), t.join('\n'));
    assert.ok(t.indexOf('analysis: stop') < t.indexOf('spool: closed'));
    assert.ok(r.sys.now() >= stoppedAt + waited);
  }
});

test('002 packets capture dropped for want of a free slot count once toward stop.packets', async () => {
  // 60 captured and 20 dropped of a 100-packet stop: 80 packets, so the end of the file
  // is not the packet count, and the run waits for another stop condition.
  const r = startScriptedRun({ stop: { packets: 100, endOfSource: false } });
  await capturing(r);
  r.sys.capture!.segment(60);
  await r.sys.published(0);
  r.sys.capture!.done('end of file', 20);
  await settle();
  r.signals.emit('SIGTERM', 'SIGTERM');
  assert.is(await finish(r), 0);
  assert.equal(afterBoot(r, [...BOOT_PRELUDE.slice(0, -1), 'capture: start (8 slots, at most 100 packets)']), [
    ...CAPTURING,
    'capture: slot 0 released',
    'analysis: segment 0 published',
    '[    0.000] WARN  capture dropped 20 packets while every segment buffer was busy',
    '[    0.000] INFO  end of source reached; waiting for another stop condition',
    '[    0.000] NOTE  received SIGTERM: stopping (send it again to stop at once)',
    '[    0.000] NOTE  stopping: signal SIGTERM',
    'capture: stop',
    '[    0.000] INFO  capture stopped: 80 packets captured, 60 sealed in 1 segments; letting analysis finish',
    'analysis: finish',
    'analysis: stop',
    ...SHOWS_FINISHED,
    '[    0.000] INFO  state: finished',
    '[    0.000] NOTE  run finished (signal SIGTERM): captured 80, kernel dropped 0, spool dropped 20, analysed 0, quarantined 0, egress refused 0, analysis restarts 0',
    'line: END "signal SIGTERM" captured 80 analysed 0 spool dropped 20 quarantined 0 restarts 0; drain 30 s',
    'spool: closed',
    '[    0.000] NOTE  results drained in 0.0 s; keys wiped',
  ]);
});

test('002b a live capture gets 64 MiB of slots and says when it waited for a free one (progress, stop); a file replay keeps 8 and does not', async () => {
  /** A run whose capture waited 3 times for a slot, then ended: its transcript. */
  const waitedThrice = async (over: Record<string, unknown>, reason: 'stopped' | 'end of file'): Promise<string[]> => {
    const r = startScriptedRun(over);
    await capturing(r);
    r.sys.capture!.segment(10);
    await r.sys.published(0);
    r.sys.capture!.waits = 3;
    await r.sys.advance(10_000); // a progress line
    r.sys.capture!.done(reason);
    await settle();
    // A file's end stops the run by itself; a live capture is stopped.
    if (reason === 'stopped') r.signals.emit('SIGTERM', 'SIGTERM');
    assert.is(await finish(r), 0);
    return r.sys.transcript;
  };
  const waitLines = (t: string[]): string[] => t.filter((l) => l.includes('waited')).map((l) => l.replace(/^(.*INFO  progress: ).*?(, capture waited .*)$/, '$1…$2'));
  const live = await waitedThrice({ source: { interface: 'mirror0' } }, 'stopped');
  // A live source's pool: 64 MiB of 64 KiB segments is more than the 64 slots allowed.
  assert.ok(live.includes('capture: start (64 slots)'), 'a live capture gets 64 slots');
  assert.equal(waitLines(live), [
    '[   10.000] INFO  progress: …, capture waited for a free buffer 3 times',
    "[   10.000] WARN  capture waited 3 times for a free segment buffer: sealing fell behind, and packets waited in the kernel's ring (its drops are counted as kernel drops)",
  ]);
  const file = await waitedThrice({ spool: { onFull: 'wait' } }, 'end of file');
  assert.ok(file.includes('capture: start (8 slots)'), 'a file replay keeps 8 slots');
  assert.equal(waitLines(file), []);
});

test('003 a capture that fails at boot: fatal, the run stops without an analysis, exit 1', async () => {
  const r = startScriptedRun({}, (sys) => { sys.fail.capture = 'no such device eth9'; });
  assert.is(await finish(r), 1);
  assert.equal(afterBoot(r), [
    ...SHOWS_FATAL,
    '[    0.000] ERROR capture failed: no such device eth9',
    '[    0.000] NOTE  stopping: capture failed',
    'capture: stop',
    '[    0.000] INFO  capture stopped: 0 packets captured, 0 sealed in 0 segments; letting analysis finish',
    ...SHOWS_FINISHED,
    '[    0.000] INFO  state: finished',
    '[    0.000] NOTE  run finished (capture failed): captured 0, kernel dropped 0, spool dropped 0, analysed 0, quarantined 0, egress refused 0, analysis restarts 0',
    'line: END "capture failed" captured 0 analysed 0 spool dropped 0 quarantined 0 restarts 0; drain 30 s',
    'spool: closed',
    '[    0.000] NOTE  results drained in 0.0 s; keys wiped',
  ]);
});

test('004 an analysis that crashes twice on one packet: the packet is quarantined, the box degraded for 5 s, the run goes on', async () => {
  const r = startScriptedRun();
  await capturing(r);
  const a = r.sys.analysis!;
  a.events.restarted('the analysis stopped (killed by SIGSEGV): restarting it (1 of 5)');
  a.events.restarted('the analysis stopped (killed by SIGSEGV): restarting it (2 of 5)');
  a.events.quarantined(3 * 2 ** 20 + 17);
  await r.sys.advance(250);
  await r.sys.advance(5000);
  r.sys.capture!.done('end of file');
  assert.is(await finish(r), 0);
  const t = afterBoot(r).slice(CAPTURING.length);
  assert.equal(t.slice(0, 15), [
    '[    0.000] WARN  the analysis stopped (killed by SIGSEGV): restarting it (1 of 5)',
    '[    0.000] WARN  the analysis stopped (killed by SIGSEGV): restarting it (2 of 5)',
    '[    0.000] WARN  quarantined the packet at segment 3 index 17: it stopped the analysis twice',
    'led: status trigger=heartbeat',
    'led: fault trigger=timer',
    '[    0.250] INFO  state: degraded',
    'line: STATUS state degraded',
    'line: STATUS state degraded',
    'line: STATUS state degraded',
    'line: STATUS state degraded',
    'led: status trigger=heartbeat',
    'led: fault trigger=none',
    'led: fault brightness=0',
    '[    5.000] INFO  state: capturing',
    'line: STATUS state capturing',
  ]);
  assert.ok(t.includes('line: END "end of source" captured 0 analysed 0 spool dropped 0 quarantined 1 restarts 2; drain 30 s'), t.join('\n'));
});

test('005 a spool full of unanalysed data (spool.onFull drop): the next segment is dropped and counted, the box degraded, nothing overwritten', async () => {
  const r = startScriptedRun({ spool: { onFull: 'drop' } });
  await capturing(r);
  for (let seq = 0; seq < 4; seq++) {
    r.sys.capture!.segment(10);
    await r.sys.published(seq);
  }
  r.sys.capture!.segment(10); // no slot left: the analysis marked none analysed
  await settle();
  await r.sys.advance(250);
  r.sys.capture!.done('end of file');
  assert.is(await finish(r), 0);
  const t = afterBoot(r).slice(CAPTURING.length);
  assert.equal(t.slice(8, 17), [
    '[    0.000] WARN  dropped 10 packets: spool full of unanalysed data',
    'capture: slot 4 released',
    'led: status trigger=heartbeat',
    'led: fault trigger=timer',
    '[    0.250] INFO  state: degraded',
    '[    0.250] NOTE  stopping: end of source',
    'capture: stop',
    '[    0.250] INFO  capture stopped: 50 packets captured, 40 sealed in 4 segments; letting analysis finish',
    'analysis: finish',
  ]);
  assert.ok(t.includes('line: END "end of source" captured 50 analysed 0 spool dropped 10 quarantined 0 restarts 0; drain 30 s'), t.join('\n'));
});

test('006 a line that stops draining: backlogged while its backlog is over 75% of the outbox, capturing again once it drains', async () => {
  const r = startScriptedRun();
  await capturing(r);
  r.sys.line!.backlogBytes = r.config.channel.outboxBytes * 0.8;
  await r.sys.advance(250);
  r.sys.line!.backlogBytes = 0;
  await r.sys.advance(250);
  r.signals.emit('SIGTERM', 'SIGTERM');
  assert.is(await finish(r), 0);
  const t = afterBoot(r).slice(CAPTURING.length);
  assert.equal(t.slice(0, 9), [
    'led: status trigger=timer',
    'led: fault trigger=none',
    'led: fault brightness=0',
    '[    0.250] INFO  state: backlog',
    'led: status trigger=heartbeat',
    'led: fault trigger=none',
    'led: fault brightness=0',
    '[    0.500] INFO  state: capturing',
    '[    0.500] NOTE  received SIGTERM: stopping (send it again to stop at once)',
  ]);
});

test('007 a second SIGTERM during the drain: the drain is cut short, the keys still wiped, exit 1', async () => {
  const r = startScriptedRun();
  await capturing(r);
  r.sys.line!.drainHangs = true;
  r.sys.capture!.done('end of file');
  await settle();
  r.signals.emit('SIGTERM', 'SIGTERM');
  assert.is(await finish(r), 1);
  const t = afterBoot(r).slice(CAPTURING.length);
  assert.equal(t.slice(-5), [
    '[    0.000] NOTE  run finished (end of source): captured 0, kernel dropped 0, spool dropped 0, analysed 0, quarantined 0, egress refused 0, analysis restarts 0',
    'line: END "end of source" captured 0 analysed 0 spool dropped 0 quarantined 0 restarts 0; drain 30 s',
    '[    0.000] WARN  received SIGTERM again: stopping at once',
    'spool: closed',
    '[    0.000] NOTE  drain cut short by a second signal; keys wiped',
  ]);
});

test('008 a second SIGTERM while the analysis finishes: the analysis and capture end at once, END says so, no drain', async () => {
  const r = startScriptedRun();
  await capturing(r);
  r.sys.analysis!.finishesWhenAsked = false;
  r.signals.emit('SIGTERM', 'SIGTERM');
  await settle();
  r.signals.emit('SIGTERM', 'SIGTERM');
  assert.is(await finish(r), 1);
  const t = afterBoot(r).slice(CAPTURING.length);
  assert.equal(t, [
    '[    0.000] NOTE  received SIGTERM: stopping (send it again to stop at once)',
    '[    0.000] NOTE  stopping: signal SIGTERM',
    'capture: stop',
    '[    0.000] INFO  capture stopped: 0 packets captured, 0 sealed in 0 segments; letting analysis finish',
    'analysis: finish',
    '[    0.000] WARN  received SIGTERM again: stopping at once',
    'analysis: stop',
    'capture: threads ended',
    ...SHOWS_FINISHED,
    '[    0.000] INFO  state: finished',
    '[    0.000] NOTE  run finished (signal SIGTERM): captured 0, kernel dropped 0, spool dropped 0, analysed 0, quarantined 0, egress refused 0, analysis restarts 0',
    'line: END "signal SIGTERM; stopped at once" captured 0 analysed 0 spool dropped 0 quarantined 0 restarts 0; drain 0 s',
    'spool: closed',
    '[    0.000] NOTE  results drained in 0.0 s; keys wiped',
  ]);
});

test('009 a module whose sandbox cannot be built is refused before any key exists, exit 1', async () => {
  const r = startScriptedRun({ analysis: { module: 'module.js' } }, (sys) => {
    fs.writeFileSync(path.join(sys.dir, 'module.js'), 'module.exports = {};\n');
    sys.files.set(path.join(sys.dir, 'module.js'), Buffer.from('module.exports = {};\n'));
    sys.sandbox = 'bubblewrap is not installed: run scripts/setup.sh';
  });
  assert.is(await finish(r), 1);
  assert.equal(r.sys.transcript.slice(6), [
    ...SHOWS_FATAL,
    '[    0.000] ERROR the analysis module\'s sandbox cannot be built: bubblewrap is not installed: run scripts/setup.sh',
  ]);
  assert.not.ok(r.sys.transcript.includes('keys: generated'));
});

test('010 a module that cannot be read is refused with the run.json key to fix, exit 1', async () => {
  const r = startScriptedRun({ analysis: { module: 'gone.js' } });
  assert.is(await finish(r), 1);
  assert.equal(r.sys.transcript.slice(-2), [
    '[    0.000] INFO  state: fatal',
    '[    0.000] ERROR the analysis module $DIR/gone.js cannot be read (ENOENT): check analysis.module in run.json',
  ]);
});

test('011 a spool that cannot be made: fatal after the keys, which are wiped; nothing was opened', async () => {
  const r = startScriptedRun({}, (sys) => { sys.fail.spool = 'no space left on device'; });
  assert.is(await finish(r), 1);
  assert.equal(r.sys.transcript.slice(6), [
    'keys: generated',
    '[    0.000] INFO  volatile keys generated from the kernel RNG: master and 7 purpose keys in locked memory',
    ...SHOWS_FATAL,
    '[    0.000] ERROR spool failed: no space left on device',
  ]);
});

test('012 a results line that cannot be opened: fatal, the spool closed, the keys wiped', async () => {
  const r = startScriptedRun({}, (sys) => { sys.fail.channel = 'cannot open /dev/ttyS9: no such device'; });
  assert.is(await finish(r), 1);
  assert.equal(r.sys.transcript.slice(-7), [
    ...SHOWS_FATAL,
    '[    0.000] ERROR results channel failed: cannot open /dev/ttyS9: no such device',
    'spool: closed',
  ]);
});

test('013 stop.seconds: the duration stops the run on the clock; STATUS every second until then', async () => {
  const r = startScriptedRun({ stop: { seconds: 3 } });
  await capturing(r);
  await r.sys.advance(3000);
  assert.is(await finish(r), 0);
  const t = afterBoot(r).slice(CAPTURING.length);
  assert.equal(t.slice(0, 6), [
    'line: STATUS state capturing',
    'line: STATUS state capturing',
    'line: STATUS state capturing',
    '[    3.000] NOTE  stopping: duration 3 s reached',
    'capture: stop',
    '[    3.000] INFO  capture stopped: 0 packets captured, 0 sealed in 0 segments; letting analysis finish',
  ]);
});

test('014 a spool full of unanalysed data (spool.onFull wait, a file replay): the segment waits, and is sealed once the analysis frees a slot', async () => {
  const r = startScriptedRun({ spool: { onFull: 'wait' } });
  await capturing(r);
  for (let seq = 0; seq < 4; seq++) {
    r.sys.capture!.segment(10);
    await r.sys.published(seq);
  }
  r.sys.capture!.segment(10); // held: its capture slot stays busy, which pauses the replay
  await settle();
  const held = afterBoot(r).slice(CAPTURING.length + 8);
  r.sys.analysis!.segmentDone(0, 10);
  await r.sys.published(4);
  r.sys.capture!.done('end of file');
  assert.is(await finish(r), 0);
  assert.equal(held, [], 'nothing dropped, nothing released while the ring is full');
  const t = afterBoot(r).slice(CAPTURING.length + 8);
  assert.equal(t.slice(0, 3), [
    'capture: slot 4 released',
    'analysis: segment 4 published',
    '[    0.000] NOTE  stopping: end of source',
  ]);
  assert.ok(t.includes('line: END "end of source" captured 50 analysed 10 spool dropped 0 quarantined 0 restarts 0; drain 30 s'), t.join('\n'));
});

test('016 two analysis shards: each gets every segment, a full ring frees a slot only once both are through its segment, a shard\'s restart is logged by name, the run ends when both finish', async () => {
  const r = startScriptedRun({ spool: { onFull: 'wait' }, analysis: { shards: 2 } });
  await capturing(r);
  const [one, two] = r.sys.analyses;
  assert.equal([one.name, two.name], ['analysis shard 1/2', 'analysis shard 2/2']);
  for (let seq = 0; seq < 4; seq++) {
    r.sys.capture!.segment(10);
    await r.sys.published(seq);
  }
  assert.equal(one.published, [0, 1, 2, 3]);
  assert.equal(two.published, [0, 1, 2, 3]);
  r.sys.capture!.segment(10); // held: the ring is full of unanalysed segments
  await settle();
  const mark = r.sys.transcript.length;
  one.segmentDone(0, 6);
  await settle();
  const halfDone = r.sys.transcript.slice(mark);
  two.events.restarted('analysis shard 2 of 2 was killed by SIGKILL; restart 1 of at most 50');
  two.segmentDone(0, 4);
  await r.sys.published(4);
  r.sys.capture!.done('end of file');
  assert.is(await finish(r), 0);
  assert.equal(halfDone, [], 'one shard through segment 0 frees nothing');
  assert.ok(r.sys.transcript.includes('[    0.000] INFO  analysis in 2 shards: each analyses the flows of its shard (a keyed hash of the 5-tuple)'));
  const t = r.sys.transcript.slice(mark);
  assert.equal(t.slice(0, 4), [
    '[    0.000] WARN  analysis shard 2 of 2 was killed by SIGKILL; restart 1 of at most 50',
    'capture: slot 4 released',
    'analysis shard 1/2: segment 4 published',
    'analysis shard 2/2: segment 4 published',
  ]);
  for (const shard of [one, two]) {
    assert.ok(t.includes(`${shard.name}: finish`) && t.includes(`${shard.name}: stop`), t.join('\n'));
  }
  assert.ok(t.includes('line: END "end of source" captured 50 analysed 10 spool dropped 0 quarantined 0 restarts 1; drain 30 s'), t.join('\n'));
});

test('015 an analysis that gives up: the box stays degraded, captured packets stay sealed, the run goes on to its stop', async () => {
  const r = startScriptedRun();
  await capturing(r);
  r.sys.analysis!.events.gaveUp('the analysis stopped 6 times');
  await r.sys.advance(60_000);
  r.signals.emit('SIGTERM', 'SIGTERM');
  assert.is(await finish(r), 0);
  const t = afterBoot(r).slice(CAPTURING.length);
  assert.equal(t.slice(0, 4), [
    '[    0.000] ERROR the analysis stopped 6 times: captured packets stay sealed on the spool and are not analysed',
    'led: status trigger=heartbeat',
    'led: fault trigger=timer',
    '[    0.250] INFO  state: degraded',
  ]);
  assert.not.ok(t.some((l) => /state: capturing/.test(l)), 'never healthy again');
});

test.run();
