// A flash killed mid-write (kill -9 of the real CLI) leaves the previous bundle active
// and valid; a flash that completes switches slots. SEALTAP_FLASH_CHUNK_DELAY_MS is
// the test-only knob that slows the write down enough to kill it in the middle.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { selectBundle } from '../../firmware/bundle/boot-select';
import { readPublicKeyFile } from '../../firmware/bundle/signing-keys';
import { closeMedium, openMedium, slotOffset } from '../../firmware/bundle/medium';
import { runSealtap, SEALTAP, tempDir, writeFirmwareDir } from '../lib/bundle-fixtures';
import { trustAnyOf } from '../../firmware/bundle/trust';
import { until } from '../lib/until';

const CHUNK = 64 * 1024;

function readRange(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  const b = Buffer.alloc(length);
  fs.readSync(fd, b, 0, length, offset);
  fs.closeSync(fd);
  return b;
}

function mustSucceed(args: string[]): void {
  const r = runSealtap(args);
  assert.is(r.status, 0, `sealtap ${args.join(' ')}: ${r.err}`);
}

test('a flash killed mid-write leaves the previous bundle active and valid; a complete flash switches', async () => {
  const dir = tempDir('flash');
  const prefix = path.join(dir, 'lab');
  const img = path.join(dir, 'medium.img');
  const v1 = path.join(dir, 'v1.sfw');
  const v2 = path.join(dir, 'v2.sfw');
  mustSucceed(['bundle', 'keygen', '--out', prefix]);
  mustSucceed(['bundle', 'medium', 'init', '--device', img]);
  mustSucceed(['bundle', 'build', writeFirmwareDir(), '--key', `${prefix}.key`, '--board', 'qemu-x86_64', '--out', v1, '--version', '1.0.0']);
  // A module large enough for many 64 KiB chunks.
  const big = '// padding\n'.repeat(60000) + "module.exports = { name: 'big' };\n";
  mustSucceed(['bundle', 'build', writeFirmwareDir({ module: big }), '--key', `${prefix}.key`, '--board', 'qemu-x86_64', '--out', v2, '--version', '2.0.0']);
  mustSucceed(['bundle', 'flash', v1, '--device', img]);

  const trusted = [readPublicKeyFile(`${prefix}.pub`)];
  const v2bytes = fs.readFileSync(v2);
  assert.ok(v2bytes.length > 8 * CHUNK, 'the second bundle spans many chunks');
  const m = openMedium(img, false);
  const slotB = slotOffset(m.table, 1);
  closeMedium(m);

  const child = spawn(SEALTAP, ['bundle', 'flash', v2, '--device', img], { env: { ...process.env, SEALTAP_FLASH_CHUNK_DELAY_MS: '400' }, stdio: 'ignore' });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  // Wait until the first chunk of the new bundle is in slot B, then kill -9.
  await until('the flash never started writing slot B', () => readRange(img, slotB, CHUNK).equals(v2bytes.subarray(0, CHUNK)), 20_000, 20);
  child.kill('SIGKILL');
  const how = await exited;
  assert.is(how.signal, 'SIGKILL', 'the flash was killed, not finished');
  const tailAt = v2bytes.length - CHUNK;
  assert.not.equal(readRange(img, slotB + tailAt, CHUNK), v2bytes.subarray(tailAt), 'slot B was left half written');

  const afterKill = selectBundle({ device: img, trust: trustAnyOf(trusted, 'test keys'), board: 'qemu-x86_64' });
  assert.ok(afterKill.ok);
  if (!afterKill.ok) return;
  assert.is(afterKill.slot, 'A');
  assert.is(afterKill.fellBack, false);
  assert.is(afterKill.identity.version, '1.0.0');
  assert.match(runSealtap(['bundle', 'medium', 'status', '--device', img]).out, /active slot: A/);

  mustSucceed(['bundle', 'flash', v2, '--device', img]);
  const afterFlash = selectBundle({ device: img, trust: trustAnyOf(trusted, 'test keys'), board: 'qemu-x86_64' });
  assert.ok(afterFlash.ok);
  if (!afterFlash.ok) return;
  assert.is(afterFlash.slot, 'B');
  assert.is(afterFlash.identity.version, '2.0.0');
  assert.ok(afterFlash.bundle.module.toString().endsWith("module.exports = { name: 'big' };\n"));
});

test('the chunk delay knob refuses a value that is not a number', () => {
  const dir = tempDir('flash');
  const r = runSealtap(['bundle', 'flash', path.join(dir, 'none.sfw'), '--device', path.join(dir, 'none.img')], { SEALTAP_FLASH_CHUNK_DELAY_MS: 'slow' });
  assert.is(r.status, 1);
  assert.match(r.err, /SEALTAP_FLASH_CHUNK_DELAY_MS must be a whole number of milliseconds/);
});

test.run();
