// STATUS's own usage: the analysis is measured as its whole process tree (the module's
// sandbox runs under the trusted analysis process), apart from the supervisor.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { ProcessUsageMeter } from '../../firmware/supervisor/process-usage';
import { until } from '../lib/until';


function children(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('measures the CPU and memory of a grandchild under the analysis pid, and none of the supervisor\'s own', async () => {
  // A shell standing for the analysis process, a busy node under it for the module.
  const sh = spawn('sh', ['-c', 'node -e "for(;;){}" & wait'], { stdio: 'ignore' });
  let grandchild = 0;
  try {
    const meter = new ProcessUsageMeter();
    await until('the busy child did not start', () => (grandchild = children(sh.pid!)[0] ?? 0) !== 0);
    meter.sample([sh.pid!]);
    // Until the busy child used 0.5 s of CPU (utime + stime in /proc/PID/stat).
    const ticks = (): number => { const f = fs.readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
    const from = ticks();
    await until('the busy child used no CPU', () => ticks() - from >= 50, 20_000, 50);
    const u = meter.sample([sh.pid!]);
    assert.ok(u.analysis !== null);
    assert.ok(u.analysis!.cpuPercent > 30, `analysis ${u.analysis!.cpuPercent}% (a busy loop under it)`);
    assert.ok(u.analysis!.rssBytes > 20 * 2 ** 20, `analysis rss ${u.analysis!.rssBytes} (a node under it)`);
    assert.ok(u.supervisor.cpuPercent < u.analysis!.cpuPercent, `supervisor ${u.supervisor.cpuPercent}% (this test mostly waits)`);
    assert.is(meter.sample([]).analysis, null, 'no analysis running');
  } finally {
    // The busy child first: once the shell is gone it would be nobody's to find.
    if (grandchild) process.kill(grandchild, 'SIGKILL');
    sh.kill('SIGKILL');
  }
});

test.run();
