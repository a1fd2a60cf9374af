// The --ipfix forwarder on its own: the token bucket's decisions on a fake clock, the
// pace on a real socket by the forwarder's own clock, the templates sent again after
// the interval (read back with the project's IPFIX reader), and the bounded queue.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { IpfixEncoder, messageContents } from '../../firmware/receiver/ipfix';
import { readIpfix } from '../../firmware/receiver/ipfix-read';
import { IpfixForwarder, TokenBucket } from '../../firmware/receiver/ipfix-udp';
import { makeFlow } from '../lib/channel-fixtures';

/** The messages an encoder makes of `n` flows; templateEvery 0: the templates only in the first. */
function messages(n: number, templateEvery = 0): Buffer[] {
  const e = new IpfixEncoder(1, templateEvery);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(...e.add(makeFlow(i)));
  out.push(...e.flush());
  return out;
}

/** A UDP socket on loopback standing for the collector: every datagram, in order of arrival. */
async function listener(): Promise<{ url: string; got: Buffer[]; until(n: number): Promise<void>; close(): void }> {
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const got: Buffer[] = [];
  let want = Infinity;
  let reached: () => void = () => undefined;
  sock.on('message', (m) => {
    got.push(m);
    if (got.length >= want) reached();
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return {
    url: `udp://127.0.0.1:${sock.address().port}`,
    got,
    until: (n) => new Promise<void>((resolve, reject) => {
      if (got.length >= n) return resolve();
      const deadline = setTimeout(() => reject(new Error(`${got.length} of ${n} datagrams arrived within 10 s`)), 10_000);
      want = n;
      reached = () => {
        clearTimeout(deadline);
        resolve();
      };
    }),
    close: () => sock.close(),
  };
}

const recordsIn = (ms: Buffer[]): number => ms.reduce((n, m) => n + messageContents(m).records, 0);

test('token bucket: N messages need at least (records - burst) / rate on its clock, and not a message more', () => {
  let t = 0;
  const rate = 1000;
  const burst = 20;
  const b = new TokenBucket(rate, burst, () => t);
  const sizes = Array.from({ length: 200 }, (_, i) => 5 + (i % 17));
  for (const n of sizes) {
    for (let wait = b.take(n); wait > 0; wait = b.take(n)) t += wait;
  }
  const total = sizes.reduce((a, n) => a + n, 0);
  assert.ok(t >= ((total - burst) * 1000) / rate, `${total} records in ${t} ms at ${rate}/s`);
  assert.ok(t <= ((total - burst) * 1000) / rate + sizes.length, `no more than 1 ms of rounding per message: ${t} ms`);
});

test('token bucket: a message larger than the bucket goes when it is full, and the debt is waited for after it', () => {
  let t = 0;
  const b = new TokenBucket(10, 1, () => t);
  assert.is(b.take(20), 0, 'full bucket: it goes');
  const wait = b.take(20);
  assert.ok(wait >= 1900, `19 tokens of debt and 1 to take at 10/s: ${wait} ms`);
  t += wait;
  assert.is(b.take(20), 0);
});

test('the forwarder paces a real socket: the records need at least the time the rate allows on its clock, none is lost, the event loop runs', async () => {
  const l = await listener();
  let first = -1;
  const clock = (): number => {
    const t = performance.now();
    if (first < 0) first = t;
    return t;
  };
  const rate = 4000;
  const f = await IpfixForwarder.open(l.url, { rate, templateSeconds: 60, now: clock });
  const ms = messages(1200);
  const records = recordsIn(ms);
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 10);
  ms.forEach((m) => f.send(m));
  const report = await f.close();
  const elapsed = performance.now() - first;
  clearInterval(ticker);
  await l.until(ms.length);
  l.close();
  const burst = rate / 50;
  assert.ok(elapsed >= ((records - burst) * 1000) / rate, `${records} records in ${elapsed.toFixed(0)} ms at ${rate}/s`);
  assert.is(report.records, records);
  assert.is(report.messages, ms.length);
  assert.is(report.droppedRecords + report.failedRecords, 0);
  assert.equal(l.got, ms, 'every message, in order, unchanged');
  assert.ok(ticks >= elapsed / 10 / 4, `a 10 ms timer ran ${ticks} times in ${elapsed.toFixed(0)} ms: no busy wait`);
});

test('templates are sent again after the interval: a collector that missed the first message reads everything after the re-send', async () => {
  const l = await listener();
  let t = 0;
  const f = await IpfixForwarder.open(l.url, { rate: 1e9, templateSeconds: 30, now: () => t });
  const ms = messages(300); // templates in the first message only
  assert.ok(ms.length >= 8);
  f.send(ms[0]);
  t = 10_000;
  for (const m of ms.slice(1, 4)) f.send(m);
  t = 29_999;
  f.send(ms[4]);
  t = 30_000;
  for (const m of ms.slice(5, 7)) f.send(m);
  t = 59_000;
  f.send(ms[7]);
  t = 60_000;
  f.send(ms[8]);
  const report = await f.close();
  await l.until(11);
  l.close();
  const kinds = l.got.map((m) => (messageContents(m).records === 0 ? 'T' : messageContents(m).templates ? 'TD' : 'D'));
  assert.equal(kinds, ['TD', 'D', 'D', 'D', 'D', 'T', 'D', 'D', 'D', 'T', 'D']);
  assert.is(report.templateMessages, 2);
  assert.is(report.messages, 11);
  // Without the first message, the data before the re-send cannot be read; from it on, all is.
  assert.throws(() => readIpfix(Buffer.concat(l.got.slice(1, 5))), /before its template/);
  const late = readIpfix(Buffer.concat(l.got.slice(5)));
  assert.is(late.records.length, recordsIn(ms.slice(5, 9)));
  const header = (m: Buffer): number[] => [m.readUInt32BE(8), m.readUInt32BE(12)];
  assert.equal(header(l.got[5]), header(l.got[6]), 'the template-only message has the sequence number and domain of the data after it');
});

test('a message that carries the templates restarts the interval: no template-only message while they come often enough', async () => {
  const l = await listener();
  let t = 0;
  const f = await IpfixForwarder.open(l.url, { rate: 1e9, templateSeconds: 30, now: () => t });
  const ms = messages(600, 10); // templates in the first and every 10th message, as flows.ipfix
  for (const m of ms) {
    f.send(m);
    t += 5_000; // 10 messages in 50 s: more than 30 s between the encoder's templates
  }
  const report = await f.close();
  await l.until(ms.length + report.templateMessages);
  l.close();
  const gaps: number[] = [];
  let since = 0;
  for (const m of l.got) {
    if (messageContents(m).templates) {
      gaps.push(since);
      since = 0;
    } else since += 5_000;
  }
  assert.ok(Math.max(...gaps) <= 30_000, `at most 30 s of messages without templates: ${gaps.join(' ')}`);
  assert.ok(report.templateMessages > 0 && report.templateMessages < ms.length / 5, `some re-sends, not one per message: ${report.templateMessages}`);
  assert.is(readIpfix(Buffer.concat(l.got)).records.length, recordsIn(ms));
});

test('the queue is bounded: a file input is told to wait at HIGH_WATER, and beyond MAX_QUEUED messages records are dropped and counted', async () => {
  const l = await listener();
  let t = 0;
  const f = await IpfixForwarder.open(l.url, { rate: 1e6, templateSeconds: 60, now: () => t });
  const [m] = messages(30);
  const per = messageContents(m).records;
  // The clock stands still: what the full bucket allows goes at once, the rest waits.
  let sent = 0;
  for (; !f.isFull() && sent < 100_000; sent++) f.send(m);
  assert.ok(f.isFull(), `full after ${sent} messages`);
  let room = false;
  f.whenRoom(() => (room = true));
  for (let i = IpfixForwarder.HIGH_WATER; i < IpfixForwarder.MAX_QUEUED + 5; i++) f.send(m);
  assert.not.ok(room);
  const clock = setInterval(() => (t += 1_000), 1); // time runs: the bucket refills, the queue drains
  const report = await f.close();
  clearInterval(clock);
  l.close();
  assert.ok(room, 'told when there is room again');
  assert.is(report.droppedRecords, 5 * per, 'the 5 messages beyond the bound, counted');
  assert.is(report.records, (sent - IpfixForwarder.HIGH_WATER + IpfixForwarder.MAX_QUEUED) * per);
});

test.run();
