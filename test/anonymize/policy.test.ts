import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultPolicy, disclosures, loadPolicy, validatePolicy } from '../../firmware/anonymize/policy';
import { FIELD_NAMES } from '../../firmware/anonymize/policy-fields';
import { CryptoPan } from '../../firmware/anonymize/cryptopan';
import { parseIPv4, parseIPv6, formatIPv6, formatIPv4 } from '../../firmware/anonymize/ip-text';
import { readCryptoPanVectors } from '../lib/anonymize-fixtures';

test('the default policy gives every known field an action', () => {
  const p = defaultPolicy();
  assert.equal(Object.keys(p.fields).sort(), FIELD_NAMES.slice().sort());
});

test('the default policy is what a privacy review signs: addresses, MACs, ids, TTLs, TCP, payload, time', () => {
  const f = defaultPolicy().fields;
  for (const a of ['ip4.src', 'ip4.dst', 'ip6.src', 'ip6.dst', 'arp.spa', 'arp.tpa', 'nd.target', 'icmp.quoted']) assert.is(f[a as keyof typeof f].action, 'cryptopan', a);
  for (const m of ['eth.src', 'eth.dst', 'arp.sha', 'arp.tha', 'nd.lladdr']) assert.is(f[m as keyof typeof f].action, 'mac', m);
  assert.is(f['ip4.id'].action, 'zero');
  assert.equal(f['ip4.ttl'], { action: 'bucket', edges: [0, 32, 64, 128, 255] });
  assert.equal(f['ip6.hoplimit'], { action: 'bucket', edges: [0, 32, 64, 128, 255] });
  for (const s of ['tcp.seq', 'tcp.ack', 'tcp.options.sack']) assert.is(f[s as keyof typeof f].action, 'offset', s);
  assert.is(f['tcp.options.timestamp'].action, 'nop');
  assert.is(f['tcp.options.unknown'].action, 'nop');
  assert.is(f.payload.action, 'drop');
  assert.equal(f.time, { action: 'coarsen', granularityUs: 1000, shift: true });
  for (const port of ['tcp.sport', 'tcp.dport', 'udp.sport', 'udp.dport']) assert.is(f[port as keyof typeof f].action, 'keep', port);
});

test('the default policy has one level, "default", with every output', () => {
  const p = defaultPolicy();
  assert.equal(Object.keys(p.levels), ['default']);
  assert.equal(p.levels.default.outputs, ['flows', 'packets', 'dns']);
  assert.equal(p.levels.default.fields, p.fields);
  assert.is(p.dnsSuffixLabels, 1);
  assert.equal(p.disclose, []);
});

test('extends "default" inherits every field not named and overrides the named ones', () => {
  const p = validatePolicy({ extends: 'default', fields: { 'ip4.ttl': 'keep', 'tcp.dport': { action: 'bucket', edges: [0, 1024] } } });
  const d = defaultPolicy();
  assert.is(p.fields['ip4.ttl'].action, 'keep');
  assert.equal(p.fields['tcp.dport'], { action: 'bucket', edges: [0, 1024] });
  for (const f of FIELD_NAMES) if (f !== 'ip4.ttl' && f !== 'tcp.dport') assert.equal(p.fields[f], d.fields[f], f);
  assert.equal(Object.keys(p.levels), ['default']);
});

test('levels start from the policy fields and apply their own overrides, in order', () => {
  const p = validatePolicy({
    extends: 'default',
    levels: {
      public: { outputs: ['flows'], fields: { 'ip4.src': { action: 'truncate', prefixLen: 24 }, 'ip6.src': { action: 'truncate', prefixLen: 48 } } },
      research: { outputs: ['flows', 'packets', 'dns'] },
    },
  });
  assert.equal(Object.keys(p.levels), ['public', 'research']);
  assert.equal(p.levels.public.fields['ip4.src'], { action: 'truncate', prefixLen: 24 });
  assert.equal(p.levels.public.fields['ip4.dst'], { action: 'cryptopan' });
  assert.equal(p.levels.research.fields, p.fields);
  assert.equal(p.levels.public.outputs, ['flows']);
});

test('an action written as a string or as an object normalizes to the same object', () => {
  const a = validatePolicy({ extends: 'default', fields: { 'ip4.id': 'keep' } });
  const b = validatePolicy({ extends: 'default', fields: { 'ip4.id': { action: 'keep' } } });
  assert.equal(a, b);
  assert.equal(a.fields['ip4.id'], { action: 'keep' });
});

test('coarsen shifts by the secret origin unless shift is false', () => {
  const p = validatePolicy({ extends: 'default', fields: { time: { action: 'coarsen', granularityUs: 1_000_000 } } });
  assert.equal(p.fields.time, { action: 'coarsen', granularityUs: 1_000_000, shift: true });
  const q = validatePolicy({ extends: 'default', fields: { time: { action: 'coarsen', granularityUs: 10, shift: false } } });
  assert.equal(q.fields.time, { action: 'coarsen', granularityUs: 10, shift: false });
});

test('a validated policy survives structured cloning (IPC) and validates to itself', () => {
  const p = validatePolicy({ extends: 'default', disclose: ['192.0.2.0/24'], dnsSuffixLabels: 2, description: 'x', levels: { a: { outputs: ['dns'], description: 'y' } } });
  assert.equal(validatePolicy(structuredClone(p)), p);
});

test('disclose is normalized and dnsSuffixLabels is kept', () => {
  const p = validatePolicy({ extends: 'default', disclose: ['2001:0DB8::/32', '192.0.2.0/24'], dnsSuffixLabels: 2 });
  assert.equal(p.disclose, ['2001:db8::/32', '192.0.2.0/24']);
  assert.is(p.dnsSuffixLabels, 2);
});

test('disclosures report the anonymized prefix that every address inside it maps into', () => {
  const v = readCryptoPanVectors();
  const pan = new CryptoPan(v.key);
  const p = validatePolicy({ extends: 'default', disclose: ['24.5.0.0/16', '2001:db8::/32'] });
  const d = disclosures(p, pan);
  assert.equal(d.map((x) => x.prefix), ['24.5.0.0/16', '2001:db8::/32']);
  // From the reference vectors: 24.5.0.80 -> 100.9.15.210, 2001:db8::1 -> 4401:2bc:603f:...
  assert.is(d[0].anonymized, '100.9.0.0/16');
  assert.is(d[1].anonymized, '4401:2bc::/32');
  for (const host of ['24.5.0.80', '24.5.255.1', '24.5.17.3']) {
    const a = pan.anonymizeV4(parseIPv4(host));
    assert.is(formatIPv4((a & 0xffff0000) >>> 0), '100.9.0.0', host);
  }
  const h6 = parseIPv6('2001:db8:ffff::9')!;
  pan.anonymizeV6Into(h6, 0);
  assert.ok(formatIPv6(h6).startsWith('4401:2bc:'));
});

function tempFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-policy-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

test('loadPolicy reads and validates a policy file', () => {
  const file = tempFile('policy.json', JSON.stringify({ extends: 'default', fields: { 'ip4.id': 'keep' } }));
  assert.is(loadPolicy(file).fields['ip4.id'].action, 'keep');
});

test('loadPolicy refuses a missing file, naming it and run.json', () => {
  assert.throws(() => loadPolicy('/nonexistent/policy.json'), (e: Error) => e.message === 'policy file /nonexistent/policy.json: not found; check the "policy" path in run.json');
});

test('loadPolicy refuses a file that is not JSON, in one line', () => {
  const file = tempFile('bad.json', '{ "extends": "default", }');
  assert.throws(() => loadPolicy(file), (e: Error) => e.message.startsWith(`policy file ${file}: not valid JSON (`) && !e.message.includes('\n'));
});

test('loadPolicy refuses an invalid policy with the file name and the field path', () => {
  const file = tempFile('p.json', JSON.stringify({ extends: 'default', fields: { 'ip4.ttl': 'round' } }));
  assert.throws(() => loadPolicy(file), (e: Error) => e.message === `policy file ${file}: policy.fields["ip4.ttl"]: unknown action "round"; expected one of keep, zero, bucket`);
});

test.run();
