// make qemu BUNDLE=FILE.sfw and qemu.sh --flash: the arguments are checked before the
// image is looked at or QEMU starts. (The boot itself needs a built image and minutes of
// QEMU: it is not run here.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../lib/run-box';

const qemuSh = path.join(repoRoot, 'scripts', 'image', 'qemu.sh');

function qemu(args: string[]) {
  return spawnSync(qemuSh, args, { encoding: 'utf8', cwd: repoRoot, timeout: 30_000 });
}

/** The qemu.sh command line make would run for the qemu target (make -n runs nothing). */
function makeQemuLine(vars: string[]): string {
  const r = spawnSync('make', ['-n', 'qemu', ...vars], { encoding: 'utf8', cwd: repoRoot });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.split('\n').find((l) => l.includes('scripts/image/qemu.sh')) ?? '';
}

test('make qemu BUNDLE=FILE.sfw passes it to qemu.sh as --flash, and plain make qemu does not', () => {
  assert.match(makeQemuLine(['BUNDLE=lab/flows.sfw']), /scripts\/image\/qemu\.sh --board qemu-x86_64 --receive out\/qemu-results --flash 'lab\/flows\.sfw'$/);
  assert.not.match(makeQemuLine([]), /--flash/);
});

test('qemu.sh --flash with a bundle that does not exist names it and the fix: exit 1, nothing booted', () => {
  const r = qemu(['--flash', '/nonexistent/flows.sfw', '--board', 'no-such-board']);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /qemu\.sh: --flash \/nonexistent\/flows\.sfw: no such file; build one with bin\/sealtap bundle build DIR --key PREFIX\.key --board no-such-board --out FILE\.sfw/);
  assert.not.match(r.stderr, /booting/);
});

test('qemu.sh --flash with --bundle none is a usage error: exit 2', () => {
  const r = qemu(['--flash', '/nonexistent/flows.sfw', '--bundle', 'none']);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /--flash needs a bundle medium to flash into: leave out --bundle none/);
});

test.run();
