import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { realCommands } from '../../firmware/supervisor/commands';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-commands-'));

test('stdin bytes reach the child exactly, newlines and NULs included', () => {
  const dir = tmp();
  const out = path.join(dir, 'got');
  const data = Buffer.from([0x0a, 0x00, 0xff, 0x0d, 0x0a, 0x41]);
  realCommands.run('/bin/sh', ['-c', `cat > ${out}`], data);
  assert.ok(fs.readFileSync(out).equals(data));
  fs.rmSync(dir, { recursive: true });
});

test('children see PATH and nothing else of the environment', () => {
  const dir = tmp();
  const out = path.join(dir, 'env');
  process.env.SEALTAP_TEST_SECRET = 'must-not-leak';
  try {
    realCommands.run('/bin/sh', ['-c', `env > ${out}`]);
  } finally {
    delete process.env.SEALTAP_TEST_SECRET;
  }
  const names = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split('=')[0]).filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== '_');
  assert.equal(names, ['PATH']);
  fs.rmSync(dir, { recursive: true });
});

test('a failing command throws with its exit status and stderr', () => {
  assert.throws(() => realCommands.run('/bin/sh', ['-c', 'echo "device busy" >&2; exit 3']), /exit status 3.*device busy/);
});

test('a command that does not exist names the package list to fix', () => {
  assert.throws(() => realCommands.run('sealtap-no-such-command', []), /not installed.*rootfs\/packages\.txt/);
});

test('stdin is closed after the data, so a reader to EOF finishes', () => {
  // cat without arguments reads to EOF: if the pipe stayed open this would hang until the timeout.
  const t0 = Date.now();
  realCommands.run('/bin/sh', ['-c', 'cat >/dev/null'], Buffer.alloc(64, 7));
  assert.ok(Date.now() - t0 < 10_000);
});

test.run();
