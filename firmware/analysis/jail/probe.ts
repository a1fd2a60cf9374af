// `node probe.js HELPER`: the trial run behind jailProblem(). Starts probe-echo.js in the
// full jail (the same startJail as every analysis), sends it a line and exits 0 once the
// line came back and the jailed node exited 0. Otherwise it prints one line saying why
// (usually bwrap's or node's last line) and exits 1. A separate process because
// jailProblem() is synchronous and the jail needs its filter written into a pipe.
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { startJail } from './jail';
import { seccompFilter } from './seccomp-filter';

const DEADLINE_MS = 15_000;
const line = 'sealtap jail probe\n';

function fail(why: string): never {
  process.stderr.write(why.trim().split('\n').pop() + '\n');
  process.exit(1);
}

function main(): void {
  const echo = path.join(__dirname, 'probe-echo.js');
  let child: ChildProcess;
  try {
    child = startJail({ script: echo, readOnly: [echo], memoryBytes: 256 * 2 ** 20 }, seccompFilter(process.argv[2]));
  } catch (e) {
    fail((e as Error).message);
  }
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin!.on('error', () => {});
  child.stdin!.end(line);
  const deadline = setTimeout(() => {
    child.kill('SIGKILL');
    fail(`no answer from node in the jail within ${DEADLINE_MS / 1000} s`);
  }, DEADLINE_MS);
  child.on('close', (code, signal) => {
    clearTimeout(deadline);
    if (code === 0 && out === line) process.exit(0);
    fail(err.trim() !== '' ? err : `node in the jail exited ${code ?? signal} and echoed ${JSON.stringify(out)}`);
  });
}

main();
