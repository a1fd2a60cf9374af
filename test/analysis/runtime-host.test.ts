// AnalysisHost and the analysis process on their own, without capture or the line:
// sealed segments in slot files, a ring whose retention the test controls, and every
// record the host hands on, checked one for one.
import type { Streams } from '../../firmware/analysis/streams/schema';
import { moduleCommand } from '../../firmware/analysis/module-link';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnalysisHost, AnalysisEvents } from '../../firmware/analysis/host';
import { SpareAnalyses } from '../../firmware/analysis/sandbox';
import { childKeyOrder, OutRecord, splitPacked } from '../../firmware/analysis/ipc';
import { SecretKey } from '../../firmware/keys/secret-key';
import { appendRecord, sealedSize, sealSegment } from '../../firmware/spool/segment';
import { loadRunPolicy } from '../../firmware/supervisor/policy';
import { PacketView } from '../../firmware/decode/packetView';
import { decodePacket } from '../../firmware/decode/decode';
import { RecordType } from '../../firmware/channel/records';
import { build, eth, ipv4, udp, raw } from '../lib/craft';
import { tempDir } from '../lib/run-box';
import { fixture, treeCpuTicks } from '../lib/runtime-box';
import { until } from '../lib/until';
import { TEST_RUN_ID } from '../lib/spool-segments';

const PER_SEGMENT = 40;
const SLOTS = 4;

function keys(): Record<(typeof childKeyOrder)[number], SecretKey> {
  const k = {} as Record<(typeof childKeyOrder)[number], SecretKey>;
  childKeyOrder.forEach((name, i) => { k[name] = SecretKey.fromBytes(Buffer.alloc(32, 0x30 + i)); });
  return k;
}

/** Packet i of segment seq is a UDP packet whose source port is seq * 100 + i. */
/** Packet time of packet i of segment seq: `spacingUs` apart, from a whole second on. */
function packetTimeUs(seq: number, i: number, spacingUs: number): number {
  return 1_700_000_000e6 + (seq * PER_SEGMENT + i) * spacingUs;
}

/** Segment seq: `count` UDP packets, each with `payload` bytes of payload (PER_SEGMENT of 7 unless told). */
function sealed(spoolKey: SecretKey, seq: number, spacingUs = 1_000_000, count = PER_SEGMENT, payload = 7): Buffer {
  const body = Buffer.alloc(count * (payload + 200));
  let off = 0;
  for (let i = 0; i < count; i++) {
    const pkt = build(eth(), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ sport: seq * 100 + i, dport: 9 }), raw(Buffer.alloc(payload, 0x61)));
    const t = packetTimeUs(seq, i, spacingUs);
    off = appendRecord(body, off, Math.floor(t / 1e6), t % 1e6, pkt, pkt.length);
  }
  const b = body.subarray(0, off);
  const out = Buffer.alloc(sealedSize(b.length));
  const n = sealSegment(spoolKey, {
    linkType: 1, runId: TEST_RUN_ID, seq, firstTsSec: 0, firstTsUsec: 0, lastTsSec: 0, lastTsUsec: 0, packetCount: count,
  }, b, out);
  return out.subarray(0, n);
}

class Harness {
  readonly dir = tempDir('host');
  readonly k = keys();
  oldest = 0;
  next = 0;
  readonly records: OutRecord[] = [];
  readonly done: number[] = [];
  readonly restarts: string[] = [];
  finished = false;
  readonly host: AnalysisHost;

  constructor(module: string | null = null, streams: Streams = {}, spares: ((readable: string[]) => SpareAnalyses) | null = null, policy = loadRunPolicy('default')) {
    const events: AnalysisEvents = {
      addresses: () => {},
      records: (r) => this.records.push(...r),
      packets: (b) => this.records.push(...splitPacked(b).map((body) => ({ type: RecordType.PACKET, body }))),
      segmentDone: (seq) => {
        this.done.push(seq);
        // The ring keeps SLOTS segments: once seq is analysed, the oldest may be overwritten.
        this.oldest = Math.max(this.oldest, seq + 1 - SLOTS);
      },
      restarted: (why) => this.restarts.push(why),
      quarantined: () => {},
      finished: () => { this.finished = true; },
      gaveUp: (why) => { throw new Error(`gave up: ${why}`); },
    };
    this.host = new AnalysisHost({
      linkType: 1, outputs: ['packets'], policy,
      flows: { maxFlows: 1024, idleSeconds: 60, activeSeconds: 300 },
      module, streams, moduleCommand: module ? moduleCommand(module, true, 256 * 1048576) : null, heartbeatMs: 5000, maxRestarts: 5, keys: this.k,
      readablePaths: [this.dir + '/'],
      spares: spares?.([this.dir + '/']) ?? null,
      ring: {
        oldestRetainedSeq: () => this.oldest,
        slotPath: (seq) => this.slotPath(seq),
        isRetained: (seq) => seq >= this.oldest && seq < this.next,
      },
    }, events);
  }

  slotPath(seq: number): string {
    return path.join(this.dir, `slot-${seq % SLOTS}`);
  }

  spacingUs = 1_000_000;
  perSegment = PER_SEGMENT;
  payloadBytes = 7;

  publish(n: number): void {
    for (let i = 0; i < n; i++) {
      const seq = this.next++;
      fs.writeFileSync(this.slotPath(seq), sealed(this.k.spool, seq, this.spacingUs, this.perSegment, this.payloadBytes));
      this.host.segmentPublished(seq);
    }
  }

  until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
    return until(what, ok, ms);
  }

  /** Source ports of the PACKET records, in arrival order. */
  ports(): number[] {
    const v = new PacketView();
    return this.records.filter((r) => r.type === RecordType.PACKET).map((r) => {
      const b = Buffer.from(r.body as Uint8Array);
      decodePacket(1, b, 16, b.length - 16, b.readUInt32LE(12), v);
      return v.srcPort;
    });
  }

  expectedPorts(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.next; s++) for (let i = 0; i < this.perSegment; i++) out.push(s * 100 + i);
    return out;
  }

  async kill(): Promise<void> {
    const pid = this.host.pid();
    assert.ok(pid !== null, 'no analysis running');
    process.kill(pid!, 'SIGKILL');
    await this.until('the restart', () => this.host.pid() !== null && this.host.pid() !== pid);
  }
}

test('after a kill the new analysis sends every packet once, in order', async () => {
  const h = new Harness();
  h.host.start();
  h.publish(3);
  await h.until('segment 1', () => h.done.includes(1));
  await h.kill();
  h.publish(3);
  h.host.finish();
  await h.until('finished', () => h.finished);
  assert.equal(h.ports(), h.expectedPorts());
  assert.is(h.restarts.length, 1);
  assert.equal(h.done, [0, 1, 2, 3, 4, 5]);
});

/** True while a process of that id exists (a killed one is reaped by node). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('stop() resolves once the analysis process has exited, its mappings of the spool\'s slot files gone with it; a second stop() waits for the same exit', async () => {
  const h = new Harness();
  h.host.start();
  h.publish(2);
  await h.until('segment 1', () => h.done.includes(1));
  const pid = h.host.pid()!;
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  assert.ok(maps.includes(h.dir), 'the analysis maps no slot file: this test shows nothing');
  const first = h.host.stop();
  const second = h.host.stop();
  await first;
  assert.not.ok(alive(pid), `process ${pid} still exists when stop() resolved`);
  await second;
});

test('PACKET records more than one packing buffer holds arrive whole, once and in order', async () => {
  // Payload kept as zeros: 1,000 records of 1,458 bytes are more than the 1 MiB the
  // analysis packs a batch into at first, so one batch spans two buffers.
  const policy = loadRunPolicy('default');
  policy.fields = { ...policy.fields, payload: { action: 'zero' as const } };
  for (const level of Object.values(policy.levels)) level.fields = { ...level.fields, payload: { action: 'zero' as const } };
  const h = new Harness(null, {}, null, policy);
  h.perSegment = 1000;
  h.payloadBytes = 1400;
  h.host.start();
  h.publish(3);
  h.host.finish();
  await h.until('finished', () => h.finished);
  // Ports of segment s are s * 100 + i: segments overlap in ports, so compare in order.
  assert.equal(h.ports(), h.expectedPorts());
  const packets = h.records.filter((r) => r.type === RecordType.PACKET).map((r) => Buffer.from(r.body as Uint8Array));
  const frame = 14 + 20 + 8 + 1400;
  for (const p of packets) {
    assert.is(p.length, 16 + frame);
    assert.is(p.readUInt32LE(8), frame);
    assert.ok(p.subarray(16 + 42).every((b) => b === 0), 'the payload is zeroed');
  }
});

test('the host takes the analysis process started ahead of it, and a restart starts a new one', async () => {
  let spares: SpareAnalyses | null = null;
  const h = new Harness(null, {}, (readable) => (spares = new SpareAnalyses(readable, false, 1)));
  const ahead = spares!.waiting()[0].pid!;
  assert.ok(alive(ahead));
  // Nothing of the supervisor's environment, only glibc's huge-page advice (sandbox.ts)
  // and node's own IPC channel settings.
  // Node itself, not unshare (whose command line names child.js too) in the middle of
  // its exec of node: its environment cannot be read then.
  const node = fs.realpathSync(process.execPath);
  const exe = (): string => { try { return fs.readlinkSync(`/proc/${ahead}/exe`); } catch { return ''; } };
  await h.until('the spare running node', () => exe() === node && fs.readFileSync(`/proc/${ahead}/cmdline`, 'utf8').includes('child.js'));
  assert.equal(fs.readFileSync(`/proc/${ahead}/environ`, 'utf8').split('\0').filter((v) => v && !v.startsWith('NODE_CHANNEL_')), ['GLIBC_TUNABLES=glibc.malloc.hugetlb=1']);
  h.host.start();
  assert.is(h.host.pid(), ahead);
  assert.equal(spares!.waiting(), []);
  h.publish(2);
  await h.until('segment 1', () => h.done.includes(1));
  await h.kill();
  assert.is.not(h.host.pid(), ahead);
  h.publish(2);
  h.host.finish();
  await h.until('finished', () => h.finished);
  assert.equal(h.ports(), h.expectedPorts());
  assert.is(h.restarts.length, 1);
});

test('processes started ahead for other readable paths or another module setting are not taken', async () => {
  for (const [paths, module] of [[['/nowhere/'], false], [null, true]] as const) {
    let spares: SpareAnalyses | null = null;
    const h = new Harness(null, {}, (readable) => (spares = new SpareAnalyses(paths ? [...paths] : readable, module, 1)));
    const ahead = spares!.waiting()[0].pid!;
    h.host.start();
    h.publish(2);
    h.host.finish();
    await h.until('finished', () => h.finished);
    assert.equal(h.ports(), h.expectedPorts());
    assert.equal(spares!.waiting().map((c) => c.pid), [ahead], 'the spare is still waiting');
    spares!.close();
    await h.until('the spare gone', () => !alive(ahead));
  }
});

test('a process started ahead that died before it was taken counts as a restart, is replaced, and nothing is lost', async () => {
  let spares: SpareAnalyses | null = null;
  const h = new Harness(null, {}, (readable) => (spares = new SpareAnalyses(readable, false, 1)));
  const [c] = spares!.waiting();
  const ahead = c.pid!;
  process.kill(ahead, 'SIGKILL');
  await h.until('the spare closed', () => spares!.hasClosed(c));
  h.host.start();
  h.publish(2);
  await h.until('a new analysis', () => h.host.pid() !== null && h.host.pid() !== ahead);
  h.host.finish();
  await h.until('finished', () => h.finished);
  assert.equal(h.ports(), h.expectedPorts());
  assert.equal(h.restarts, ['analysis was killed by SIGKILL; restart 1 of at most 5']);
});

test('processes started ahead and never taken are killed at close', async () => {
  const spares = new SpareAnalyses([tempDir('spares') + '/'], false, 2);
  const pids = spares.waiting().map((c) => c.pid!);
  assert.is(pids.length, 2);
  assert.ok(pids.every(alive));
  spares.close();
  assert.equal(spares.waiting(), []);
  await until('both spares gone', () => !pids.some(alive), 10_000);
});

test('a segment overwritten while the analysis replays it is skipped, and nothing is lost', async () => {
  const h = new Harness();
  h.host.start();
  h.publish(4);
  await h.until('segment 3', () => h.done.includes(3));
  // Down, then the slot of segment 1 is rewritten by a later segment before the replay reads it.
  h.host.killForTest();
  fs.writeFileSync(h.slotPath(1), Buffer.from('not a segment any more'));
  fs.rmSync(h.slotPath(2));
  await h.until('the restart', () => h.restarts.length === 1 && h.host.pid() !== null);
  h.publish(2);
  h.host.finish();
  await h.until('finished', () => h.finished);
  assert.equal(h.ports(), h.expectedPorts());
  // Replayed segments are not reported done again (the supervisor would count them twice).
  assert.equal(h.done, [0, 1, 2, 3, 4, 5]);
});

test('segments published while the analysis is down are analysed once it is back', async () => {
  const h = new Harness();
  h.host.start();
  h.publish(2);
  await h.until('segment 1', () => h.done.includes(1));
  h.host.killForTest();
  await h.until('the death', () => h.restarts.length === 1);
  assert.is(h.host.pid(), null);
  h.publish(3); // within the restart delay: nobody to send them to yet
  h.host.finish();
  await h.until('finished', () => h.finished);
  assert.equal(h.ports(), h.expectedPorts());
  assert.equal(h.done, [0, 1, 2, 3, 4]);
});

test('a death while the analysis finishes is restarted, and the end-of-run records arrive once', async () => {
  const h = new Harness(fixture('runtime-slow-end-module.js'), { marks: { fields: { n: { type: 'count', max: 10, round: 1 } }, maxPerSecond: 10, minCount: null } });
  h.host.start();
  h.publish(3);
  await h.until('segment 2', () => h.done.includes(2));
  // Inside the module's second-long onEnd: its busy loop has used a tenth of a second.
  const pid = h.host.pid()!;
  const before = treeCpuTicks(pid);
  h.host.finish();
  await h.until('the module spending CPU in onEnd', () => treeCpuTicks(pid) - before >= 10);
  await h.kill();
  await h.until('finished', () => h.finished);
  assert.equal(h.ports(), h.expectedPorts());
  assert.is(h.records.filter((r) => r.type === RecordType.STREAM).length, 1);
  assert.is(h.restarts.length, 1);
});

test('a kill while the analysis is idle blames no packet, however often it happens', async () => {
  const h = new Harness();
  h.host.start();
  h.publish(2);
  await h.until('segment 1', () => h.done.includes(1));
  for (let i = 0; i < 3; i++) {
    // Idle: every published segment is done (the restarted process replayed the ring
    // before the segment published after its start).
    await h.kill();
    h.publish(1);
    await h.until(`segment ${h.next - 1}`, () => h.done.includes(h.next - 1));
  }
  h.host.finish();
  await h.until('finished', () => h.finished);
  assert.equal(h.host.quarantined(), []);
  assert.equal(h.ports(), h.expectedPorts());
  assert.is(h.restarts.length, 3);
});

test('timer ticks fall on the same packets after a restart that replays from a later segment', async () => {
  const h = new Harness(fixture('runtime-tick-module.js'), { ticks: { fields: { at: { type: 'count', max: Number.MAX_SAFE_INTEGER, round: 1 } }, maxPerSecond: 10, minCount: null } });
  h.spacingUs = 700_000; // packets off the whole second, so a tick phase kept per process would drift
  h.host.start();
  // No more than the ring's SLOTS unanalysed segments at a time, as the real ring allows.
  h.publish(4);
  await h.until('segment 3', () => h.done.includes(3));
  h.publish(2);
  await h.until('segment 5', () => h.done.includes(5));
  assert.ok(h.oldest > 0, 'the replay must start after segment 0 for this test');
  await h.kill();
  h.publish(4);
  h.host.finish();
  await h.until('finished', () => h.finished);
  const ticks = h.records.filter((r) => r.type === RecordType.STREAM).map((r) => `tick-${(r.body as { record: { at: number } }).record.at}`);
  // Expected: one tick at the first packet of every new whole second after the first packet.
  const want: string[] = [];
  let next = -1;
  for (let s = 0; s < h.next; s++) {
    for (let i = 0; i < PER_SEGMENT; i++) {
      const t = packetTimeUs(s, i, h.spacingUs);
      if (next < 0) next = (Math.floor(t / 1e6) + 1) * 1e6;
      else if (t >= next) {
        want.push(`tick-${t}`);
        next = (Math.floor(t / 1e6) + 1) * 1e6;
      }
    }
  }
  assert.equal(ticks, want);
});

test('refuses and counts records of a type or shape no analysis may send', () => {
  const refused: number[] = [];
  const passed: OutRecord[] = [];
  const host = new AnalysisHost({
    linkType: 1, outputs: [], policy: null, flows: { maxFlows: 16, idleSeconds: 1, activeSeconds: 1 }, module: null,
    streams: {}, moduleCommand: null, heartbeatMs: 1000, maxRestarts: 0, keys: keys(), readablePaths: [], ring: { oldestRetainedSeq: () => 0, slotPath: () => '' },
  }, {
    addresses: () => {}, records: (r) => passed.push(...r), packets: () => {}, segmentDone: () => {}, restarted: () => {}, quarantined: () => {},
    finished: () => {}, gaveUp: () => {}, refused: (n) => refused.push(n),
  });
  // What the analysis process would deliver; the host never trusts its types.
  const deliver = (records: OutRecord[], pos: number): void => (host as unknown as { onRecords(r: OutRecord[], p: { pos: number; ord: number }): void }).onRecords(records, { pos, ord: 0 });
  deliver([
    { type: RecordType.LOG, body: { msg: 'forged operator line' } },
    { type: RecordType.END, body: { reason: 'forged' } },
    { type: RecordType.FLOW, body: new Uint8Array(20) },
    { type: RecordType.PACKET, body: { not: 'bytes' } },
    { type: RecordType.DNS, body: { qname: 'fine' } },
  ], 10);
  assert.equal(refused, [4]);
  assert.is(host.refusedRecords, 4);
  assert.equal(passed.map((r) => r.type), [RecordType.DNS]);
  // A batch at or before the committed place is a replay: never passed on twice.
  deliver([{ type: RecordType.DNS, body: { qname: 'again' } }], 10);
  deliver([{ type: RecordType.DNS, body: { qname: 'older' } }], 5);
  assert.is(passed.length, 1);
});

test.run();
