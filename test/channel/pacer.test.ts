// The pacer on a fake clock: a tty's token bucket lets bytes out at line rate with a
// burst of one tick, a recording file is not paced.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TokenBucket, pacerFor, unpaced } from '../../firmware/channel/pacer';

function bucket(baud: number): { b: TokenBucket; clock: { t: number } } {
  const clock = { t: 1000 };
  return { b: new TokenBucket(baud / 10 / 1000, () => clock.t), clock };
}

test('a fresh bucket is empty: the first byte waits for line time', () => {
  const { b } = bucket(115200); // 11.52 bytes per ms
  assert.is(b.allowance(100), 0);
  assert.is(b.msUntilRoom(), 1);
});

test('tokens refill at line rate and are taken by what is written', () => {
  const { b, clock } = bucket(115200);
  clock.t += 5;
  assert.is(b.allowance(1000), 57); // 5 ms × 11.52 bytes
  b.spent(57);
  assert.is(b.allowance(1000), 0);
  clock.t += 1;
  assert.is(b.allowance(1000), 12); // the 0.6 left over and 11.52 new
  assert.is(b.allowance(4), 4, 'never more than asked');
});

test('the burst is one tick of line time (at least 64 bytes): an idle line saves up no more', () => {
  const fast = bucket(115200);
  fast.clock.t += 60_000;
  assert.is(fast.b.allowance(1 << 20), 115); // 10 ms × 11.52 bytes
  const slow = bucket(9600);
  slow.clock.t += 60_000;
  assert.is(slow.b.allowance(1 << 20), 64);
});

test('after a write larger than the tokens the wait covers the debt', () => {
  const { b, clock } = bucket(9600); // 0.96 bytes per ms
  clock.t += 10;
  b.spent(b.allowance(100)); // 9 bytes
  b.spent(20); // a write the kernel took whole
  assert.is(b.allowance(1), 0);
  assert.is(b.msUntilRoom(), Math.ceil((1 - (9.6 - 9 - 20)) / 0.96));
});

test('line time: a tty needs bytes / rate, an unpaced line none', () => {
  assert.is(bucket(115200).b.lineTimeMs(2400), 2400 / 11.52);
  assert.is(unpaced.lineTimeMs(2400), 0);
});

test('a recording file is not paced: every write as large as asked, batches of up to 1 MiB', () => {
  const p = pacerFor('file', 115200, () => 0);
  assert.is(p, unpaced);
  assert.is(p.allowance(1 << 20), 1 << 20);
  assert.is(p.msUntilRoom(), 0);
  assert.is(p.batchBytes, 1 << 20);
  assert.is(pacerFor('tty', 115200, () => 0).batchBytes, 1, 'a tty takes one frame at a time');
});

test.run();
