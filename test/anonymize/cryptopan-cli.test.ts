import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { REPO_ROOT, readCryptoPanVectors } from '../lib/anonymize-fixtures';

const vectors = readCryptoPanVectors();
const SEALTAP = path.join(REPO_ROOT, 'bin/sealtap');

function cryptopan(args: string[], stdin: string) {
  const r = spawnSync(SEALTAP, ['cryptopan', ...args], { input: stdin, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('sealtap cryptopan matches all 100 IPv4 and 5 IPv6 reference vectors, in order', () => {
  const pairs = [...vectors.v4, ...vectors.v6];
  const r = cryptopan(['--key', vectors.keyHex], pairs.map(([raw]) => raw).join('\n') + '\n');
  assert.is(r.err, '');
  assert.is(r.code, 0);
  assert.equal(r.out.split('\n'), [...pairs.map(([, anon]) => anon), '']);
});

test('passes blank lines through and ignores spaces and CRLF around addresses', () => {
  const r = cryptopan(['--key', vectors.keyHex], '24.5.0.80\n\n  2001:db8::1 \r\n');
  assert.is(r.code, 0);
  assert.is(r.out, '100.9.15.210\n\n4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e\n');
});

test('reports a bad line with its number, keeps going and exits 1', () => {
  const r = cryptopan(['--key', vectors.keyHex], '24.5.0.80\nnot-an-address\n2001:db8::2\n');
  assert.is(r.code, 1);
  assert.is(r.out, '100.9.15.210\n\n4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c\n');
  assert.match(r.err, 'line 2: "not-an-address" is not an IPv4 or IPv6 address');
});

test('refuses a missing key with a usage error and exit 2', () => {
  const r = cryptopan([], '24.5.0.80\n');
  assert.is(r.code, 2);
  assert.match(r.err, /missing --key/);
  assert.is(r.out, '');
});

test('refuses a short key with exit 2 without echoing it', () => {
  const short = vectors.keyHex.slice(0, 40);
  const r = cryptopan(['--key', short], '24.5.0.80\n');
  assert.is(r.code, 2);
  assert.match(r.err, /64 hex digits/);
  assert.not.match(r.err, short.slice(0, 8));
  assert.is(r.err.trim().split('\n').length, 1);
});

test('refuses a non-hex key with exit 2 without echoing it', () => {
  const bad = 'zz' + vectors.keyHex.slice(2);
  const r = cryptopan(['--key', bad], '24.5.0.80\n');
  assert.is(r.code, 2);
  assert.match(r.err, /not a hex digit/);
  assert.not.match(r.err, bad.slice(0, 8));
  assert.not.match(r.err, vectors.keyHex.slice(2, 10));
});

test('refuses positional arguments (addresses come on stdin)', () => {
  const r = cryptopan(['--key', vectors.keyHex, '24.5.0.80'], '');
  assert.is(r.code, 2);
  assert.match(r.err, /stdin/);
});

test('stops quietly when the reader of its output goes away', () => {
  const script = `yes 24.5.0.80 | head -n 100000 | "${SEALTAP}" cryptopan --key ${vectors.keyHex} | head -n 1`;
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  assert.is(r.stdout, '100.9.15.210\n');
  assert.is(r.stderr, '');
});

test('refuses a directory on stdin: exit 1, one line saying so, nothing on stdout', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-cp-'));
  const fd = fs.openSync(dir, 'r');
  try {
    const r = spawnSync(SEALTAP, ['cryptopan', '--key', vectors.keyHex], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8' });
    assert.is(r.status, 1, r.stderr);
    assert.is(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, r.stderr);
    assert.match(lines[0], /^sealtap: stdin is a directory, not a file of addresses: give a file/);
  } finally {
    fs.closeSync(fd);
  }
});

test('--help describes the key, blank lines, bad lines and exit codes', () => {
  const r = cryptopan(['--help'], '');
  assert.is(r.code, 0);
  for (const s of ['--key', '64 hex', 'Blank lines', 'line N', 'Exit status', 'RFC 5952']) assert.match(r.out, s);
});

test.run();
