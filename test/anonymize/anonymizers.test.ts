// The anonymizers with real keyring subkeys (SecretKey in libsodium secure memory),
// as the analysis process makes them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CryptoPan } from '../../firmware/anonymize/cryptopan';
import { MacPermutation } from '../../firmware/anonymize/mac';
import { KeyedHash } from '../../firmware/anonymize/keyedhash';
import { FlowOffsets, secretTimeShiftUs } from '../../firmware/anonymize/transforms';
import { fixedKeyring } from '../lib/fixed-keyring';

function fromKeyring() {
  const ring = fixedKeyring();
  return {
    ring,
    pan: new CryptoPan(ring.subkey('address', 32)),
    macs: new MacPermutation(ring.subkey('mac', 32)),
    names: new KeyedHash(ring.subkey('ident', 32)),
    flows: new FlowOffsets(ring.subkey('flow', 32)),
    timeShiftUs: secretTimeShiftUs(ring.subkey('time', 32)),
  };
}

test('anonymizers made from the same keyring subkeys agree with each other', () => {
  const a = fromKeyring();
  const b = fromKeyring();
  assert.is(a.pan.anonymizeText('192.0.2.1'), b.pan.anonymizeText('192.0.2.1'));
  assert.is(a.names.hashLabel('example'), b.names.hashLabel('example'));
  assert.is(a.flows.offsetV4(1, 2, 3, 4), b.flows.offsetV4(1, 2, 3, 4));
  assert.is(a.timeShiftUs, b.timeShiftUs);
  const m1 = Buffer.from('001122334455', 'hex');
  const m2 = Buffer.from(m1);
  a.macs.anonymizeMacInto(m1, 0);
  b.macs.anonymizeMacInto(m2, 0);
  assert.ok(m1.equals(m2));
  a.ring.wipe();
  b.ring.wipe();
});

test('anonymizers keep working after the keyring is wiped, and stop after destroy()', () => {
  const a = fromKeyring();
  const before = a.pan.anonymizeText('198.51.100.7');
  a.ring.wipe();
  assert.is(a.pan.anonymizeText('198.51.100.7'), before);
  a.pan.destroy();
  a.names.destroy();
  a.flows.destroy();
  a.macs.destroy();
  assert.throws(() => a.pan.anonymizeText('198.51.100.8'), /destroyed/);
  assert.throws(() => a.names.hashLabel('x'), /destroyed/);
  assert.throws(() => a.flows.offsetV4(1, 2, 3, 4), /destroyed/);
  assert.throws(() => a.macs.anonymizeMacInto(Buffer.from('020000000001', 'hex'), 0), /destroyed/);
});

test.run();
