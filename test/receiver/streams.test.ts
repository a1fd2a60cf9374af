// Declared streams: STREAM records go to <stream>.jsonl, BOOT.streams to schema.json,
// and a record whose name or fields the receiver will not write is refused, counted,
// and creates no file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RecordType } from '../../firmware/channel/records';
import { receive } from '../../firmware/receiver/receive';
import { OUTPUT_FILES, LINE_FILE } from '../../firmware/receiver/outputs';
import { Summary } from '../../firmware/receiver/summary';
import { makeBoot, makeEnd, newSession, tmpDir } from '../lib/channel-fixtures';
import { channelOn, decodeBytes } from '../lib/channel-recording';
import { until } from '../lib/until';

type Channel = ReturnType<typeof channelOn>['ch'];

const RTT = {
  fields: { client: { type: 'address' }, rttUs: { type: 'duration', max: 10_000_000 }, bins: { type: 'histogram', bins: 4, max: 1000 } },
  maxPerSecond: 100,
  minCount: null,
};
const PORTS = { fields: { port: { type: 'port' }, flows: { type: 'count', max: 1000000, round: 10 } }, maxPerSecond: 10, minCount: { field: 'flows', k: 5 } };

function rtt(i: number): Record<string, unknown> {
  return { client: `10.0.${i}.1`, rttUs: 1000 + i, bins: [i, 0, 2, 3] };
}

/** One session per entry of `boots` on one recording, each sending its records; then receive. */
async function receiveSessions(boots: Array<{ streams?: Record<string, unknown>; send: (ch: Channel) => void }>): Promise<{ out: string; summary: Summary; sessions: string[] }> {
  const dir = tmpDir('streams');
  const parts: Buffer[] = [];
  const sessions: string[] = [];
  for (const [i, b] of boots.entries()) {
    const file = path.join(dir, `line${i}.bin`);
    const session = newSession();
    sessions.push(session.toString('hex'));
    const { ch } = channelOn(file, { session, boot: { ...makeBoot(session), ...(b.streams ? { streams: b.streams } : {}) } });
    b.send(ch);
    const r = await ch.close(makeEnd(), 5000);
    assert.ok(r.drained, 'recording drained');
    parts.push(fs.readFileSync(file));
  }
  const line = path.join(dir, 'line.bin');
  fs.writeFileSync(line, Buffer.concat(parts));
  const out = path.join(dir, 'out');
  const summary = await receive({ input: line, out });
  return { out, summary, sessions };
}

const lines = (file: string): string[] => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

test('STREAM records of a declared stream land in <stream>.jsonl, a line per record as sent; schema.json holds the declarations; summary.json counts per stream', async () => {
  const streams = { rtt: RTT, ports: PORTS };
  const rtts = Array.from({ length: 12 }, (_, i) => rtt(i));
  const ports = [{ port: 443, flows: 120 }, { port: 53, flows: 40 }, { port: 80, flows: 10 }];
  const { out, summary } = await receiveSessions([{
    streams,
    send: (ch) => {
      rtts.forEach((record, i) => {
        ch.send(RecordType.STREAM, { stream: 'rtt', record });
        if (i < ports.length) ch.send(RecordType.STREAM, { stream: 'ports', record: ports[i] });
      });
    },
  }]);
  // Byte for byte: the record object, its keys in the order sent, nothing around it.
  assert.equal(lines(path.join(out, 'rtt.jsonl')), rtts.map((r) => JSON.stringify(r)));
  assert.equal(lines(path.join(out, 'ports.jsonl')), ports.map((r) => JSON.stringify(r)));
  assert.is(fs.readFileSync(path.join(out, 'schema.json'), 'utf8'), JSON.stringify(streams, null, 2) + '\n');
  assert.equal(summary.streams, { rtt: 12, ports: 3 });
  assert.is(summary.records.STREAM, 15, 'STREAM under its type name, as the other types');
  assert.is(summary.recordsMatchEnd, true, 'END.records counts STREAM the same way');
  assert.is(summary.refusedStreamRecords, 0);
  assert.equal(summary.sessions[0].streams, { rtt: 12, ports: 3 });
  const written = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.equal(written.streams, { rtt: 12, ports: 3 });
});

test('a declared stream with no records gets an empty <stream>.jsonl; a BOOT without streams writes no schema.json and no stream file', async () => {
  const a = await receiveSessions([{ streams: { rtt: RTT }, send: () => undefined }]);
  assert.is(fs.readFileSync(path.join(a.out, 'rtt.jsonl'), 'utf8'), '');
  assert.equal(a.summary.streams, {});
  const b = await receiveSessions([{ send: (ch) => ch.send(RecordType.STREAM, { stream: 'rtt', record: rtt(0) }) }]);
  assert.equal(fs.readdirSync(b.out).sort(), [...OUTPUT_FILES, LINE_FILE].sort());
  assert.is(b.summary.refusedStreamRecords, 1, 'undeclared: no BOOT declared any stream');
});

/** Each case: what is sent, and the reason it is counted under. */
const refused: Array<{ name: string; body: object | Buffer; reason: string }> = [
  { name: 'a stream its BOOT did not declare', body: { stream: 'latency', record: rtt(1) }, reason: 'undeclared' },
  { name: 'a name with a path in it (../x)', body: { stream: '../x', record: rtt(1) }, reason: 'name' },
  { name: 'the name flows (flows.jsonl is the receiver\'s)', body: { stream: 'flows', record: rtt(1) }, reason: 'reserved' },
  { name: 'the name summary (summary.json)', body: { stream: 'summary', record: rtt(1) }, reason: 'reserved' },
  { name: 'the name log (log.txt)', body: { stream: 'log', record: rtt(1) }, reason: 'reserved' },
  { name: 'the name schema (schema.json)', body: { stream: 'schema', record: rtt(1) }, reason: 'reserved' },
  { name: 'the name line (line.raw)', body: { stream: 'line', record: rtt(1) }, reason: 'reserved' },
  { name: 'an uppercase name', body: { stream: 'RTT', record: rtt(1) }, reason: 'name' },
  { name: 'a name longer than 32 characters', body: { stream: 'r' + 't'.repeat(32), record: rtt(1) }, reason: 'name' },
  { name: 'a field holding a nested object', body: { stream: 'rtt', record: { ...rtt(1), client: { addr: '10.0.0.1' } } }, reason: 'value' },
  { name: 'a field holding a boolean', body: { stream: 'rtt', record: { ...rtt(1), rttUs: true } }, reason: 'value' },
  { name: 'a field holding a non-finite number (1e999)', body: Buffer.from('{"stream":"rtt","record":{"client":"10.0.0.1","rttUs":1e999}}'), reason: 'value' },
  { name: 'a list holding something else than finite numbers', body: { stream: 'rtt', record: { ...rtt(1), bins: [1, '2'] } }, reason: 'value' },
  { name: 'a null field', body: { stream: 'rtt', record: { ...rtt(1), rttUs: null } }, reason: 'value' },
  { name: 'a record that is a list', body: { stream: 'rtt', record: [1, 2] }, reason: 'shape' },
  { name: 'a body with a key besides stream and record', body: { stream: 'rtt', record: rtt(1), level: 'x' }, reason: 'shape' },
  { name: 'a body that is not JSON of an object', body: Buffer.from('"rtt"'), reason: 'bad record' },
];

for (const c of refused) {
  test(`refuses a STREAM record of ${c.name}: no file created, counted`, async () => {
    // Every name is declared: what refuses these is the name itself, not a missing declaration.
    const streams = { rtt: RTT, '../x': RTT, flows: RTT, summary: RTT, log: RTT, schema: RTT, line: RTT, RTT, ['r' + 't'.repeat(32)]: RTT };
    const { out, summary } = await receiveSessions([{
      streams,
      send: (ch) => {
        ch.send(RecordType.STREAM, Buffer.isBuffer(c.body) ? c.body : Buffer.from(JSON.stringify(c.body)));
        ch.send(RecordType.STREAM, { stream: 'rtt', record: rtt(7) });
      },
    }]);
    assert.equal(fs.readdirSync(out).sort(), [...OUTPUT_FILES, LINE_FILE, 'schema.json', 'rtt.jsonl'].sort(), 'no other file');
    assert.not.ok(fs.existsSync(path.join(out, '..', 'x.jsonl')), 'nothing outside the folder');
    assert.equal(lines(path.join(out, 'rtt.jsonl')), [JSON.stringify(rtt(7))], 'the good record still written');
    assert.is(fs.readFileSync(path.join(out, 'flows.jsonl'), 'utf8'), '');
    assert.equal(Object.keys(JSON.parse(fs.readFileSync(path.join(out, 'schema.json'), 'utf8'))), ['rtt'], 'only writable streams in schema.json');
    assert.is(summary.records.STREAM, 2, 'both arrived');
    assert.equal(summary.streams, { rtt: 1 });
    if (c.reason === 'bad record') {
      assert.is(summary.sessions[0].badRecords, 1, 'a body that does not parse is a bad record, as for every type');
    } else {
      assert.is(summary.refusedStreamRecords, 1);
      assert.equal(summary.refusedStreamReasons, { [c.reason]: 1 });
      assert.is(summary.sessions[0].refusedStreamRecords, 1);
      assert.match(fs.readFileSync(path.join(out, 'log.txt'), 'utf8'), /sealtap-receive .* a STREAM record (of stream ".*" )?is refused/);
    }
  });
}

test('a reboot with the same declarations appends to the same <stream>.jsonl; a session declaring a name differently gets <stream>-<session>.jsonl', async () => {
  const other = { ...RTT, maxPerSecond: 5 };
  const { out, summary, sessions } = await receiveSessions([
    { streams: { rtt: RTT }, send: (ch) => ch.send(RecordType.STREAM, { stream: 'rtt', record: rtt(1) }) },
    { streams: { rtt: RTT }, send: (ch) => ch.send(RecordType.STREAM, { stream: 'rtt', record: rtt(2) }) },
    { streams: { rtt: other, ports: PORTS }, send: (ch) => {
      ch.send(RecordType.STREAM, { stream: 'rtt', record: rtt(3) });
      ch.send(RecordType.STREAM, { stream: 'ports', record: { port: 22, flows: 50 } });
    } },
  ]);
  assert.is(summary.sessions.length, 3);
  assert.equal(lines(path.join(out, 'rtt.jsonl')), [rtt(1), rtt(2)].map((r) => JSON.stringify(r)));
  assert.equal(lines(path.join(out, `rtt-${sessions[2]}.jsonl`)), [JSON.stringify(rtt(3))]);
  assert.equal(lines(path.join(out, 'ports.jsonl')), [JSON.stringify({ port: 22, flows: 50 })]);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'schema.json'), 'utf8')), { rtt: RTT, [`rtt-${sessions[2]}`]: other, ports: PORTS });
  assert.equal(summary.streams, { rtt: 3, ports: 1 });
  assert.equal(summary.sessions.map((s) => s.streams), [{ rtt: 1 }, { rtt: 1 }, { rtt: 1, ports: 1 }]);
});

test('a BOOT too long for one frame (many declarations) comes in pieces: the receiver syncs on it, with repair frames between the pieces and after a late attach', async () => {
  const wide = { fields: Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`field${i}`, { type: 'count', max: 1000, round: 1 }])), maxPerSecond: 100, minCount: null };
  const streams = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`s${i}`, wide]));
  assert.ok(JSON.stringify(streams).length > 4 * 1024, 'BOOT takes several frames');
  const dir = tmpDir('bigboot');
  const file = path.join(dir, 'line.bin');
  const session = newSession();
  const { ch } = channelOn(file, { session, boot: { ...makeBoot(session), streams }, fec: { k: 4, m: 2 }, bootEveryMs: 40 });
  for (let i = 0; i < 40; i++) {
    ch.send(RecordType.STREAM, { stream: 's0', record: { field0: i } });
    // Every eighth record, the next repeated BOOT: its pieces fall between results.
    if (i % 8 === 7) {
      const boots = ch.stats().recordsSent.BOOT ?? 0;
      await until('the channel repeated BOOT', () => (ch.stats().recordsSent.BOOT ?? 0) > boots);
    }
  }
  await ch.close(makeEnd(), 5000);
  const summary = await receive({ input: file, out: path.join(dir, 'out') });
  assert.is(summary.sessions.length, 1);
  assert.is(summary.sessions[0].framesBeforeBootLost, 0);
  assert.is(summary.sessions[0].badRecords, 0);
  assert.is(summary.streams.s0, 40);
  assert.is(summary.complete, true);
  assert.equal(Object.keys(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'schema.json'), 'utf8'))), Object.keys(streams));
  // Joining half way: the first whole BOOT copy after the cut opens the session.
  const bytes = fs.readFileSync(file);
  const { d } = decodeBytes(bytes.subarray(Math.floor(bytes.length / 2)));
  const late = [...d.sessions.values()][0];
  assert.ok(late.opened(), 'synced on a BOOT in pieces');
  assert.is(late.lostBeforeBoot, 0);
  assert.is(late.badRecords, 0);
  assert.ok(late.records.BOOT > 0 && late.records.STREAM > 0);
});

test('BOOT sandbox "off" is in summary.json and warned about in log.txt', async () => {
  const dir = tmpDir('sandbox');
  const line = path.join(dir, 'line.bin');
  const session = newSession();
  const { ch } = channelOn(line, { session, boot: { ...makeBoot(session), sandbox: 'off' } });
  await ch.close(makeEnd(), 5000);
  const summary = await receive({ input: line, out: path.join(dir, 'out') });
  assert.is(summary.sandbox, 'off');
  assert.is(summary.sessions[0].sandbox, 'off');
  assert.match(fs.readFileSync(path.join(dir, 'out', 'log.txt'), 'utf8'), /runs without its operating-system sandbox/);
});

test.run();
