// run.json's channel.fec: the forms accepted, and a one-line error naming the field for the rest.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validateConfig, ConfigError } from '../../firmware/supervisor/config';

const base = { source: { pcap: 'x.pcap' }, spool: { dir: '/tmp/s', bytes: 1 << 24 }, outputs: ['flows'] };
const withFec = (fec: unknown) => validateConfig({ ...base, channel: { path: '/tmp/line', fec } }, '/tmp');

function refused(fec: unknown, pattern: RegExp): void {
  try {
    withFec(fec);
    assert.unreachable(`accepted ${JSON.stringify(fec)}`);
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.match((e as Error).message, pattern);
    assert.not.match((e as Error).message, /\n/);
  }
}

test('channel.fec left out: null (on for a tty, off for a file, decided when the line opens)', () => {
  assert.is(validateConfig({ ...base, channel: { path: '/tmp/line' } }, '/tmp').channel.fec, null);
});

test('channel.fec {k, m} and false are accepted', () => {
  assert.equal(withFec({ k: 8, m: 3 }).channel.fec, { k: 8, m: 3 });
  assert.is(withFec(false).channel.fec, false);
});

test('refuses channel.fec true', () => refused(true, /^channel\.fec: must be \{"k": N, "m": N\} or false/));
test('refuses channel.fec without m', () => refused({ k: 8 }, /^channel\.fec: needs both "k"/));
test('refuses channel.fec.k of 0', () => refused({ k: 0, m: 2 }, /^channel\.fec\.k: must be between 1 and 128/));
test('refuses channel.fec.m above 16', () => refused({ k: 8, m: 17 }, /^channel\.fec\.m: must be between 1 and 16/));
test('refuses channel.fec.k that is not whole', () => refused({ k: 2.5, m: 1 }, /^channel\.fec\.k: must be a whole number/));
test('refuses unknown keys in channel.fec', () => refused({ k: 8, m: 2, n: 1 }, /^channel\.fec\.n: unknown key/));

test.run();
