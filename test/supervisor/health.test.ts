// Host health for STATUS: the CPU load from /proc/stat without a child process, and the
// operator log's thousands separators.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostHealthMeter, cpuPercentBetween, parseCpuTicks } from '../../firmware/supervisor/health';
import { count } from '../../firmware/supervisor/oplog';

const STAT_A = 'cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\nintr 1 2 3\n';
const STAT_B = 'cpu  160 5 70 900 60 3 2 0 0 0\ncpu0 80 2 35 450 30 1 1 0 0 0\nintr 1 2 3\n';

test('parses the aggregate cpu line: idle and iowait are idle, the rest busy', () => {
  assert.equal(parseCpuTicks(STAT_A), { busy: 160, total: 1000 });
  assert.equal(parseCpuTicks('cpu0 1 2 3 4\n'), null, 'a per-CPU line alone is not the aggregate');
  assert.equal(parseCpuTicks(''), null);
});

test('the load between two readings: busy ticks over all ticks', () => {
  // 80 busy of 200 ticks between A and B
  assert.is(cpuPercentBetween(parseCpuTicks(STAT_A)!, parseCpuTicks(STAT_B)!), 40);
  assert.is(cpuPercentBetween(parseCpuTicks(STAT_B)!, parseCpuTicks(STAT_B)!), 0, 'no ticks passed');
  assert.is(cpuPercentBetween({ busy: 0, total: 0 }, { busy: 30, total: 10 }), 100, 'clamped');
});

test('the meter reports the load since its previous sample', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-health-'));
  try {
    const stat = path.join(dir, 'stat');
    fs.writeFileSync(stat, STAT_A);
    const meter = new HostHealthMeter(stat);
    const first = await meter.sample();
    assert.is(first.cpuPercent, 16, 'since boot');
    assert.ok(first.memTotalBytes > 0, 'memory from /proc/meminfo');
    fs.writeFileSync(stat, STAT_B);
    assert.is((await meter.sample()).cpuPercent, 40);
    fs.writeFileSync(stat, 'garbage');
    assert.is((await meter.sample()).cpuPercent, 0, 'an unreadable line reports zero, not a throw');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the real /proc/stat gives a load between 0 and 100', async () => {
  const meter = new HostHealthMeter();
  await meter.sample();
  const h = await meter.sample();
  assert.ok(h.cpuPercent >= 0 && h.cpuPercent <= 100, String(h.cpuPercent));
});

test('count groups thousands with commas, rounding first', () => {
  const cases: Array<[number, string]> = [[0, '0'], [7, '7'], [999, '999'], [1000, '1,000'], [1234567, '1,234,567'],
    [999.6, '1,000'], [-1234, '-1,234'], [-0.2, '0'], [12345678901, '12,345,678,901']];
  for (const [n, s] of cases) assert.is(count(n), s, String(n));
  for (let n = 1; n < 1e12; n = n * 7 + 3) assert.is(count(n), n.toLocaleString('en-US'), String(n));
});

test.run();
