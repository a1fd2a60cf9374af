import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validateConfig } from '../../firmware/supervisor/config';
import { loadBoard } from '../../firmware/supervisor/board';
import { prepareAppliance, closeAppliance } from '../../firmware/supervisor/appliance';
import { fixedKeyring } from '../lib/fixed-keyring';
import { RecordingCommands } from '../lib/recording-commands';

const boxConfig = (device: string | undefined, iface = 'eth0') => validateConfig({
  source: { interface: iface },
  spool: { dir: '/var/spool/sealtap', bytes: 32 * 1048576, ...(device ? { device } : {}) },
  channel: { path: '/dev/ttyS1' },
}, '/');

test('on the qemu board: opens the encrypted spool with a 64-byte key on stdin, then locks the NIC', () => {
  const sys = new RecordingCommands();
  const keyring = fixedKeyring();
  const notes: string[] = [];
  const steps = prepareAppliance(boxConfig('/dev/vdb'), loadBoard('qemu-x86_64'), keyring, sys, (l) => notes.push(l));
  assert.equal(steps, { cryptSpool: true, lockedNic: 'eth0' });
  assert.match(sys.transcript[0], /^run cryptsetup open --type plain .* \/dev\/vdb sealtap-spool <stdin 64 bytes>$/);
  assert.ok(sys.transcript.some((l) => l.startsWith('run mount ')));
  assert.is(sys.transcript[sys.transcript.length - 1], 'run ip link set dev eth0 up');
  // The key sent is the keyring's dm-crypt key, not something made up on the side.
  const expected = keyring.subkey('dmcrypt', 64).use((k) => Buffer.from(k));
  assert.ok(sys.commands[0].stdin!.equals(expected));
  assert.is(notes.length, 2);
  for (const n of notes) assert.not.ok(n.includes(expected.toString('hex').slice(0, 16)), 'a note shows key bytes');
  keyring.wipe();
});

test('closes the mapping at stop only when it opened one', () => {
  const sys = new RecordingCommands();
  assert.is(closeAppliance({ cryptSpool: false, lockedNic: null }, sys), null);
  assert.is(sys.transcript.length, 0);
  assert.is(closeAppliance({ cryptSpool: true, lockedNic: 'eth0' }, sys), null);
  assert.equal(sys.transcript, ['run umount /dev/mapper/sealtap-spool', 'run cryptsetup close sealtap-spool']);
});

test('on a development host nothing is run: no spool device, and the interface is not the board\'s', () => {
  const sys = new RecordingCommands();
  const keyring = fixedKeyring();
  const steps = prepareAppliance(boxConfig(undefined, 'veth0'), loadBoard('dev'), keyring, sys, () => undefined);
  assert.equal(steps, { cryptSpool: false, lockedNic: null });
  assert.is(sys.transcript.length, 0);
  keyring.wipe();
});

test('refuses to go on when the spool disk cannot be opened, naming the device', () => {
  const sys = new RecordingCommands(['cryptsetup open']);
  const keyring = fixedKeyring();
  assert.throws(() => prepareAppliance(boxConfig('/dev/vdb'), loadBoard('qemu-x86_64'), keyring, sys, () => undefined), /encrypted spool on \/dev\/vdb/);
  assert.not.ok(sys.transcript.some((l) => l.startsWith('run ip ')), 'the NIC was touched after the spool failed');
  keyring.wipe();
});

test('a NIC that cannot be locked closes the spool mapping again and names the interface', () => {
  const sys = new RecordingCommands(['nft ']);
  const keyring = fixedKeyring();
  assert.throws(() => prepareAppliance(boxConfig('/dev/vdb'), loadBoard('qemu-x86_64'), keyring, sys, () => undefined), /capture interface eth0/);
  assert.is(sys.transcript[sys.transcript.length - 1], 'run cryptsetup close sealtap-spool');
  assert.not.ok(sys.transcript.includes('run ip link set dev eth0 up'), 'the link came up unlocked');
  keyring.wipe();
});

test.run();
