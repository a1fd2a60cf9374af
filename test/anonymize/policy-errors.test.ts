// One named test per way a policy file can be wrong. Each checks that the error names
// the path of the offending value, says what would be accepted, and fits on one line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PolicyError, defaultPolicy, validatePolicy, MAX_DISCLOSE } from '../../firmware/anonymize/policy';

function refuses(policy: unknown, path: string, fragment: string | RegExp): void {
  try {
    validatePolicy(policy);
  } catch (err) {
    assert.instance(err, PolicyError);
    const msg = (err as Error).message;
    assert.ok(msg.startsWith(`${path}: `), `expected path ${path} in: ${msg}`);
    assert.match(msg, fragment);
    assert.not.match(msg, '\n');
    return;
  }
  assert.unreachable(`policy was accepted: ${JSON.stringify(policy)}`);
}

const ext = (more: Record<string, unknown>) => ({ extends: 'default', ...more });
const field = (name: string, action: unknown) => ext({ fields: { [name]: action } });

test('refuses a policy that is not a JSON object', () => {
  refuses([], 'policy', 'must be a JSON object');
});

test('refuses an unknown top-level key', () => {
  refuses(ext({ filds: {} }), 'policy.filds', 'unknown key; expected one of version, description, extends, fields');
});

test('refuses an unsupported version', () => {
  refuses(ext({ version: 2 }), 'policy.version', 'reads version 1');
});

test('refuses extends naming an unknown policy', () => {
  refuses({ extends: 'strict' }, 'policy.extends', 'the only one is "default"');
});

test('refuses a policy without fields and without extends', () => {
  refuses({ levels: { a: { outputs: ['flows'] } } }, 'policy.fields', 'add "extends": "default"');
});

test('refuses a policy that omits a field without extends', () => {
  const fields: Record<string, unknown> = { ...defaultPolicy().fields };
  delete fields['ip4.id'];
  refuses({ fields }, 'policy.fields', /no action for "ip4\.id"; .*default-deny.*"extends": "default"/);
});

test('refuses an unknown field name, listing the fields of that header', () => {
  refuses(field('ip4.hoplimit', 'keep'), 'policy.fields["ip4.hoplimit"]', 'unknown field; fields of "ip4" are ip4.src, ip4.dst, ip4.id, ip4.ttl');
});

test('refuses an unknown action, listing the actions of the field', () => {
  refuses(field('ip4.ttl', 'round'), 'policy.fields["ip4.ttl"]', 'unknown action "round"; expected one of keep, zero, bucket');
});

test('refuses an action that does not apply to the field', () => {
  refuses(field('ip4.ttl', 'cryptopan'), 'policy.fields["ip4.ttl"]', 'action "cryptopan" does not apply to IPv4 TTL');
});

test('refuses keep on an address field', () => {
  refuses(field('ip6.dst', 'keep'), 'policy.fields["ip6.dst"]', /"keep" would publish raw addresses.*egress guard/);
});

test('refuses keep on a MAC field', () => {
  refuses(field('eth.src', 'keep'), 'policy.fields["eth.src"]', /"keep" would publish raw MAC addresses.*; expected one of zero, mac$/);
});

test('refuses an action given as a number', () => {
  refuses(field('ip4.ttl', 3), 'policy.fields["ip4.ttl"]', 'must be an action name');
});

test('refuses an action object without "action"', () => {
  refuses(field('ip4.ttl', { edges: [0, 64] }), 'policy.fields["ip4.ttl"]', 'object has no "action"');
});

test('refuses a parameter the action does not take', () => {
  refuses(field('ip4.src', { action: 'cryptopan', prefixLen: 24 }), 'policy.fields["ip4.src"].prefixLen', '"cryptopan" takes no parameters');
});

test('refuses bucket written without its edges', () => {
  refuses(field('ip4.ttl', 'bucket'), 'policy.fields["ip4.ttl"]', '"bucket" needs parameters: write {"action": "bucket", "edges"');
});

test('refuses empty bucket edges', () => {
  refuses(field('ip4.ttl', { action: 'bucket', edges: [] }), 'policy.fields["ip4.ttl"].edges', 'non-empty list');
});

test('refuses bucket edges out of order', () => {
  refuses(field('ip4.ttl', { action: 'bucket', edges: [0, 64, 32] }), 'policy.fields["ip4.ttl"].edges[2]', 'ascending order');
});

test('refuses repeated bucket edges', () => {
  refuses(field('tcp.window', { action: 'bucket', edges: [0, 1024, 1024] }), 'policy.fields["tcp.window"].edges[2]', 'without repeats');
});

test('refuses a bucket edge above the field maximum', () => {
  refuses(field('ip6.hoplimit', { action: 'bucket', edges: [0, 300] }), 'policy.fields["ip6.hoplimit"].edges[1]', 'from 0 to 255');
});

test('refuses a fractional bucket edge', () => {
  refuses(field('tcp.dport', { action: 'bucket', edges: [0, 1.5] }), 'policy.fields["tcp.dport"].edges[1]', 'not a whole number');
});

test('refuses a truncate prefix longer than the address', () => {
  refuses(field('ip4.src', { action: 'truncate', prefixLen: 33 }), 'policy.fields["ip4.src"].prefixLen', 'from 0 to 32');
});

test('refuses truncate without a prefix length', () => {
  refuses(field('ip6.src', { action: 'truncate' }), 'policy.fields["ip6.src"].prefixLen', 'from 0 to 128');
});

test('refuses coarsen with a zero granularity', () => {
  refuses(field('time', { action: 'coarsen', granularityUs: 0 }), 'policy.fields["time"].granularityUs', '1000 = 1 ms');
});

test('refuses coarsen with a shift that is not true or false', () => {
  refuses(field('time', { action: 'coarsen', granularityUs: 1000, shift: 'yes' }), 'policy.fields["time"].shift', 'must be true');
});

test('refuses keeping SACK edges while sequence numbers are offset', () => {
  refuses(field('tcp.options.sack', 'keep'), 'policy.fields["tcp.options.sack"]', 'raw sequence numbers that tcp.seq and tcp.ack offset');
});

test('refuses a level that keeps acks while its sequence numbers are offset', () => {
  refuses(ext({ levels: { a: { outputs: ['packets'], fields: { 'tcp.ack': 'keep' } } } }), 'policy.levels["a"].fields["tcp.ack"]', 'raw sequence numbers');
});

test('refuses disclose that is not a list', () => {
  refuses(ext({ disclose: '192.0.2.0/24' }), 'policy.disclose', 'must be a list of prefixes');
});

test('refuses a disclosed prefix with host bits set', () => {
  refuses(ext({ disclose: ['2001:db8::/32', '192.0.2.1/24'] }), 'policy.disclose[1]', 'did you mean 192.0.2.0/24?');
});

test('refuses a disclosed address without a prefix length', () => {
  refuses(ext({ disclose: ['192.0.2.0'] }), 'policy.disclose[0]', 'no prefix length');
});

test('refuses a disclosed prefix that is not an address', () => {
  refuses(ext({ disclose: ['example.com/24'] }), 'policy.disclose[0]', 'not an IPv4 or IPv6 address');
});

test('refuses a disclosed prefix length out of range', () => {
  refuses(ext({ disclose: ['2001:db8::/129'] }), 'policy.disclose[0]', 'from 0 to 128');
});

test('refuses disclosing /0', () => {
  refuses(ext({ disclose: ['0.0.0.0/0'] }), 'policy.disclose[0]', 'covers every address');
});

test('refuses a prefix disclosed twice', () => {
  refuses(ext({ disclose: ['2001:db8::/32', '2001:0db8::/32'] }), 'policy.disclose[1]', 'listed twice');
});

test('refuses more disclosed prefixes than the limit', () => {
  const many = Array.from({ length: MAX_DISCLOSE + 1 }, (_, i) => `10.${i}.0.0/16`);
  refuses(ext({ disclose: many }), 'policy.disclose', `at most ${MAX_DISCLOSE}`);
});

test('refuses dnsSuffixLabels out of range', () => {
  refuses(ext({ dnsSuffixLabels: 9 }), 'policy.dnsSuffixLabels', 'from 0 to 4');
});

test('refuses empty levels', () => {
  refuses(ext({ levels: {} }), 'policy.levels', 'at least one level');
});

test('refuses a badly named level', () => {
  refuses(ext({ levels: { 'Public Release': { outputs: ['flows'] } } }), 'policy.levels["Public Release"]', 'level names');
});

test('refuses an unknown key in a level', () => {
  refuses(ext({ levels: { public: { outputs: ['flows'], output: ['dns'] } } }), 'policy.levels["public"].output', 'expected one of description, fields, outputs');
});

test('refuses a level without outputs', () => {
  refuses(ext({ levels: { public: {} } }), 'policy.levels["public"].outputs', 'non-empty list drawn from flows, packets, dns');
});

test('refuses a level with an unknown output', () => {
  refuses(ext({ levels: { public: { outputs: ['flows', 'pcap'] } } }), 'policy.levels["public"].outputs[1]', 'unknown output "pcap"');
});

test('refuses a level listing an output twice', () => {
  refuses(ext({ levels: { public: { outputs: ['dns', 'dns'] } } }), 'policy.levels["public"].outputs[1]', 'listed twice');
});

test('refuses a bad action inside a level, naming the level', () => {
  refuses(ext({ levels: { public: { outputs: ['flows'], fields: { 'ip4.src': 'round' } } } }), 'policy.levels["public"].fields["ip4.src"]', 'unknown action "round"');
});

test.run();
