import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAnonymizers } from '../../firmware/anonymize/anonymizers';
import { fixedKeyring } from '../lib/fixed-keyring';

function fromKeyring() {
  const ring = fixedKeyring();
  const keys = {
    address: ring.subkey('address', 32),
    mac: ring.subkey('mac', 32),
    ident: ring.subkey('ident', 32),
    flow: ring.subkey('flow', 32),
    time: ring.subkey('time', 32),
  };
  return { ring, anon: createAnonymizers(keys) };
}

test('anonymizers made from one keyring agree with each other', () => {
  const a = fromKeyring();
  const b = fromKeyring();
  assert.is(a.anon.addresses.anonymizeText('192.0.2.1'), b.anon.addresses.anonymizeText('192.0.2.1'));
  assert.is(a.anon.names.hashLabel('example'), b.anon.names.hashLabel('example'));
  assert.is(a.anon.flows.offsetV4(1, 2, 3, 4), b.anon.flows.offsetV4(1, 2, 3, 4));
  assert.is(a.anon.timeShiftUs, b.anon.timeShiftUs);
  const m1 = Buffer.from('001122334455', 'hex');
  const m2 = Buffer.from(m1);
  a.anon.macs.anonymizeMacInto(m1, 0);
  b.anon.macs.anonymizeMacInto(m2, 0);
  assert.ok(m1.equals(m2));
  a.ring.wipe();
  b.ring.wipe();
});

test('the anonymizers keep working after the keyring is wiped, and stop after destroy()', () => {
  const { ring, anon } = fromKeyring();
  const before = anon.addresses.anonymizeText('198.51.100.7');
  ring.wipe();
  assert.is(anon.addresses.anonymizeText('198.51.100.7'), before);
  anon.destroy();
  assert.throws(() => anon.addresses.anonymizeText('198.51.100.8'), /destroyed/);
  assert.throws(() => anon.names.hashLabel('x'), /destroyed/);
  assert.throws(() => anon.flows.offsetV4(1, 2, 3, 4), /destroyed/);
  assert.throws(() => anon.macs.anonymizeMacInto(Buffer.from('020000000001', 'hex'), 0), /destroyed/);
});

test.run();
