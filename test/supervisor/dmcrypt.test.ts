import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { openCryptSpool, closeCryptSpool, spoolMapperPath } from '../../firmware/supervisor/dmcrypt';
import { RecordingCommands } from '../lib/recording-commands';

const key = (): Buffer => {
  // A key containing a newline and NULs: a reader that stops at '\n' or treats the key
  // as text would get it wrong, which is why cryptsetup gets --key-file - and --hash plain.
  const k = randomBytes(64);
  k[5] = 0x0a;
  k[6] = 0x00;
  return k;
};

test('opens plain dm-crypt with the key on stdin, formats and mounts, in that order', () => {
  const sys = new RecordingCommands();
  const k = key();
  const mapper = openCryptSpool('/dev/vdb', k, '/var/spool/sealtap', sys);
  assert.is(mapper, spoolMapperPath);
  assert.equal(sys.transcript, [
    'run cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --hash plain --key-file - --keyfile-size 64 /dev/vdb sealtap-spool <stdin 64 bytes>',
    'run mkfs.ext4 -q -F -O ^has_journal -m 0 -E nodiscard -L sealtap-spool /dev/mapper/sealtap-spool',
    'run mount -t ext4 -o nosuid,nodev,noexec,noatime /dev/mapper/sealtap-spool /var/spool/sealtap',
  ]);
});

test('the key goes to cryptsetup stdin byte for byte and nowhere else', () => {
  const sys = new RecordingCommands();
  const k = key();
  openCryptSpool('/dev/vdb', k, '/var/spool/sealtap', sys);
  const withStdin = sys.commands.filter((c) => c.stdin !== null);
  assert.is(withStdin.length, 1);
  assert.is(withStdin[0].cmd, 'cryptsetup');
  assert.ok(withStdin[0].stdin!.equals(k));
  const forms = [k.toString('hex'), k.toString('base64'), k.toString('latin1'), k.subarray(0, 16).toString('hex'), k.subarray(32).toString('hex')];
  const everything = sys.commands.flatMap((c) => [c.cmd, ...c.args]).join('\n') + sys.files.map((f) => f.file + f.data).join('\n');
  for (const f of forms) assert.not.ok(everything.includes(f), 'a form of the key appears in argv or a written file');
  assert.is(sys.files.length, 0, 'nothing is written to a file while opening the spool');
});

test('refuses a key that is not 64 bytes, before running anything', () => {
  const sys = new RecordingCommands();
  assert.throws(() => openCryptSpool('/dev/vdb', Buffer.alloc(32, 1), '/var/spool/sealtap', sys), /must be 64 bytes/);
  assert.is(sys.transcript.length, 0);
});

test('refuses a relative spool device and names the board file', () => {
  const sys = new RecordingCommands();
  assert.throws(() => openCryptSpool('vdb', key(), '/var/spool/sealtap', sys), /absolute path.*board\.json/);
  assert.is(sys.transcript.length, 0);
});

test('a missing spool device gives an error naming the device and the fix, and maps nothing', () => {
  const sys = new RecordingCommands(['cryptsetup open']);
  assert.throws(() => openCryptSpool('/dev/vdb', key(), '/var/spool/sealtap', sys), /\/dev\/vdb.*spoolDevice in board\.json/);
  assert.is(sys.transcript.length, 1);
});

test('a failed mkfs closes the mapping again', () => {
  const sys = new RecordingCommands(['mkfs.ext4']);
  assert.throws(() => openCryptSpool('/dev/vdb', key(), '/var/spool/sealtap', sys), /cannot format or mount/);
  assert.is(sys.transcript[sys.transcript.length - 1], 'run cryptsetup close sealtap-spool');
});

test('a failed mount closes the mapping again', () => {
  const sys = new RecordingCommands(['mount']);
  assert.throws(() => openCryptSpool('/dev/vdb', key(), '/missing', sys), /\/missing exists in the image/);
  assert.is(sys.transcript[sys.transcript.length - 1], 'run cryptsetup close sealtap-spool');
});

test('close unmounts, then removes the mapping', () => {
  const sys = new RecordingCommands();
  closeCryptSpool(sys);
  assert.equal(sys.transcript, ['run umount /dev/mapper/sealtap-spool', 'run cryptsetup close sealtap-spool']);
});

test('close still tries to remove the mapping when unmounting fails, and reports the unmount', () => {
  const sys = new RecordingCommands(['umount']);
  assert.throws(() => closeCryptSpool(sys), /cannot unmount/);
  assert.equal(sys.transcript, ['run umount /dev/mapper/sealtap-spool', 'run cryptsetup close sealtap-spool']);
});

test.run();
