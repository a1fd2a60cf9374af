import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, parsePrefix, formatPrefix, truncateBits } from '../../firmware/anonymize/ip-text';

test('parses and prints dotted quads', () => {
  assert.is(parseIPv4('0.0.0.0'), 0);
  assert.is(parseIPv4('255.255.255.255'), 0xffffffff);
  assert.is(formatIPv4(parseIPv4('192.0.2.10')), '192.0.2.10');
});

test('refuses dotted quads with leading zeros, signs, spaces or out-of-range parts', () => {
  for (const bad of ['010.0.0.1', '1.2.3.-1', '1.2.3. 4', '1.2.3.4 ', '256.0.0.0', '1.2.3', '1..2.3', '0x1.2.3.4']) {
    assert.is(parseIPv4(bad), -1, bad);
  }
});

test('prints IPv6 in RFC 5952 form', () => {
  const cases: Array<[string, string]> = [
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:0DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not "::"
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs wins
    ['::', '::'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ];
  for (const [input, want] of cases) assert.is(formatIPv6(parseIPv6(input)!), want, input);
});

test('refuses malformed IPv6 text', () => {
  for (const bad of [':', ':1::', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::1', '1.2.3.4::', '::1.2.3', 'fe80::1%1']) {
    assert.is(parseIPv6(bad), null, bad);
  }
});

test('parses prefixes and refuses host bits, bad lengths and non-addresses', () => {
  const p = parsePrefix('2001:db8::/32');
  assert.ok(typeof p !== 'string');
  assert.is(formatPrefix(p as Exclude<typeof p, string>), '2001:db8::/32');
  assert.match(parsePrefix('192.0.2.1/24') as string, /did you mean 192.0.2.0\/24/);
  assert.match(parsePrefix('192.0.2.0/33') as string, /from 0 to 32/);
  assert.match(parsePrefix('192.0.2.0') as string, /no prefix length/);
  assert.match(parsePrefix('example/8') as string, /not an IPv4 or IPv6 address/);
});

test('truncateBits zeroes everything after the kept bits, in place', () => {
  const b = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xee]);
  truncateBits(b, 1, 3, 12);
  assert.equal([...b], [0xff, 0xff, 0xf0, 0x00, 0xee]);
});

test.run();
