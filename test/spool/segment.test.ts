import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  countRecords,
  openSegment,
  sealedSize,
  sealSegment,
  SEGMENT_HEADER_BYTES,
  SEGMENT_NONCE_BYTES,
  SEGMENT_OVERHEAD,
  SEGMENT_AEAD_NAMES,
  SegmentAead,
  SegmentHeader,
  chooseSegmentAead,
} from '../../firmware/spool/segment';
import { SecretKey } from '../../firmware/keys/keyring';
import { fixedKeyring } from '../lib/fixed-keyring';
import { makeBody, makeHeader, sealTestSegment, TEST_RUN_ID } from '../lib/spool-segments';

const ring = fixedKeyring();
const key = ring.subkey('spool');

function openedOk(r: ReturnType<typeof openSegment>): { header: SegmentHeader; body: Buffer } {
  if ('error' in r) throw new Error(`expected an open segment, got error ${r.error}`);
  return r;
}

function errorOf(r: ReturnType<typeof openSegment>): string {
  return 'error' in r ? r.error : 'opened';
}

const AEADS = [SegmentAead.xchacha20poly1305, SegmentAead.aes256gcm];

for (const aead of AEADS) test(`seal/open round trip returns the header and the exact body (${SEGMENT_AEAD_NAMES[aead]})`, () => {
  const body = makeBody(7);
  const out = Buffer.alloc(sealedSize(body.length) + 100);
  const n = sealSegment(key, { ...makeHeader(3, 7), linkType: 113, aead }, body, out);
  assert.is(n, body.length + SEGMENT_OVERHEAD);
  const r = openedOk(openSegment(key, out.subarray(0, n)));
  assert.ok(r.body.equals(body));
  assert.is(r.header.seq, 3);
  assert.is(r.header.linkType, 113);
  assert.is(r.header.packetCount, 7);
  assert.is(r.header.version, 2);
  assert.is(r.header.aead, aead);
  assert.is(r.header.bodyLength, body.length);
  assert.is(r.header.sealedLength, n);
  assert.is(r.header.firstTsSec, 1_700_000_000);
  assert.is(r.header.lastTsSec, 1_700_000_006);
  assert.is(r.header.lastTsUsec, 6000);
  assert.ok(r.header.runId.equals(TEST_RUN_ID));
});

test('keeps a sequence number above 2^32', () => {
  const seq = 2 ** 40 + 12345;
  const r = openedOk(openSegment(key, sealTestSegment(key, seq)));
  assert.is(r.header.seq, seq);
});

test('seals a body that is a subarray of a larger capture buffer', () => {
  const capture = Buffer.alloc(4096, 0xee);
  const body = makeBody(3);
  body.copy(capture, 1000);
  const view = capture.subarray(1000, 1000 + body.length);
  const out = Buffer.alloc(sealedSize(view.length));
  sealSegment(key, makeHeader(0, 3), view, out);
  assert.ok(openedOk(openSegment(key, out)).body.equals(body));
});

test('seals and opens an empty segment', () => {
  const out = Buffer.alloc(SEGMENT_OVERHEAD);
  assert.is(sealSegment(key, makeHeader(9, 0), Buffer.alloc(0), out), SEGMENT_OVERHEAD);
  assert.is(openedOk(openSegment(key, out)).body.length, 0);
});

test('ignores slot bytes after the sealed segment', () => {
  const sealed = sealTestSegment(key, 1);
  const slot = Buffer.concat([sealed, Buffer.alloc(500, 0x41)]);
  assert.is(openedOk(openSegment(key, slot)).header.seq, 1);
});

test('two seals of the same body use different nonces and ciphertexts', () => {
  const a = sealTestSegment(key, 1);
  const b = sealTestSegment(key, 1);
  const nonceA = a.subarray(SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES + SEGMENT_NONCE_BYTES);
  const nonceB = b.subarray(SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES + SEGMENT_NONCE_BYTES);
  assert.not.ok(nonceA.equals(nonceB));
  assert.not.ok(a.subarray(SEGMENT_HEADER_BYTES).equals(b.subarray(SEGMENT_HEADER_BYTES)));
});

function flipEachByte(from: number, to: number, aead: SegmentAead): string[] {
  const sealed = sealTestSegment(key, 4, 5, undefined, aead);
  const results: string[] = [];
  for (let i = from; i < (to < 0 ? sealed.length : to); i++) {
    const tampered = Buffer.from(sealed);
    tampered[i] ^= 0x01;
    results.push(errorOf(openSegment(key, tampered)));
    tampered[i] ^= 0xff; // a second, different change of the same byte
    results.push(errorOf(openSegment(key, tampered)));
  }
  return results;
}

for (const aead of AEADS) {
  const name = SEGMENT_AEAD_NAMES[aead];
  test(`counts an authentication failure for a tampered segment header (every byte, ${name})`, () => {
    const results = flipEachByte(0, SEGMENT_HEADER_BYTES, aead);
    assert.is(results.length, 2 * SEGMENT_HEADER_BYTES);
    for (const [i, r] of results.entries()) assert.is(r, 'auth', `header byte ${i >> 1}`);
  });

  test(`counts an authentication failure for a tampered nonce (every byte, the unused half of a GCM nonce too, ${name})`, () => {
    const results = flipEachByte(SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES + SEGMENT_NONCE_BYTES, aead);
    assert.is(results.length, 2 * SEGMENT_NONCE_BYTES);
    for (const r of results) assert.is(r, 'auth');
  });

  test(`counts an authentication failure for tampered ciphertext or tag (every byte, ${name})`, () => {
    const results = flipEachByte(SEGMENT_HEADER_BYTES + SEGMENT_NONCE_BYTES, -1, aead);
    assert.ok(results.length > 2 * 16);
    for (const r of results) assert.is(r, 'auth');
  });
}

test('a segment sealed with one AEAD and relabelled as the other does not open', () => {
  for (const aead of AEADS) {
    const sealed = Buffer.from(sealTestSegment(key, 4, 5, undefined, aead));
    sealed.writeUInt16LE(aead === SegmentAead.aes256gcm ? SegmentAead.xchacha20poly1305 : SegmentAead.aes256gcm, 6);
    assert.is(errorOf(openSegment(key, sealed)), 'auth');
  }
});

test('chooseSegmentAead measures both AEADs on this CPU and picks the faster', () => {
  const c = chooseSegmentAead();
  const names = Object.keys(c.gbps).sort();
  assert.equal(names, ['AES-256-GCM', 'XChaCha20-Poly1305']);
  for (const n of names) assert.ok(c.gbps[n] > 0.01, `${n}: ${c.gbps[n]} GB/s`);
  assert.is(c.gbps[c.name], Math.max(...Object.values(c.gbps)));
  assert.is(SEGMENT_AEAD_NAMES[c.aead], c.name);
});

test('counts an authentication failure for a segment sealed under another key', () => {
  const other = fixedKeyring(0x11);
  const sealed = sealTestSegment(other.subkey('spool'), 2);
  assert.is(errorOf(openSegment(key, sealed)), 'auth');
  other.wipe();
});

test('counts an authentication failure for a segment sealed under another purpose key', () => {
  const sealed = sealTestSegment(ring.subkey('channel'), 2);
  assert.is(errorOf(openSegment(key, sealed)), 'auth');
});

test('reports a truncated segment as torn', () => {
  const sealed = sealTestSegment(key, 2);
  for (const cut of [1, 16, sealed.length - SEGMENT_HEADER_BYTES, sealed.length - 1]) {
    assert.is(errorOf(openSegment(key, sealed.subarray(0, sealed.length - cut))), 'torn', `cut ${cut}`);
  }
});

test('reports a slot shorter than a header as torn', () => {
  assert.is(errorOf(openSegment(key, Buffer.alloc(10))), 'torn');
});

test('reports a never-written (zero) slot as format', () => {
  assert.is(errorOf(openSegment(key, Buffer.alloc(4096))), 'format');
});

test('reports an authentic segment with another sequence number as torn (stale slot)', () => {
  const sealed = sealTestSegment(key, 5);
  assert.is(errorOf(openSegment(key, sealed, 13)), 'torn');
  assert.is(openedOk(openSegment(key, sealed, 5)).header.seq, 5);
});

test('does not parse the body of a segment that failed authentication', () => {
  const body = makeBody(2);
  body.writeUInt32LE(0xffffffff, 8); // a caplen that would run past the end
  const out = Buffer.alloc(sealedSize(body.length));
  // sealSegment itself refuses such a body, so build a valid one and tamper after.
  assert.throws(() => sealSegment(key, makeHeader(0, 2), body, out), /malformed records/);
  const sealed = sealTestSegment(key, 0, 2);
  sealed[sealed.length - 1] ^= 0x80;
  assert.is(errorOf(openSegment(key, sealed)), 'auth');
});

test('refuses to seal a body whose record count disagrees with packetCount', () => {
  const body = makeBody(3);
  const out = Buffer.alloc(sealedSize(body.length));
  assert.throws(() => sealSegment(key, makeHeader(0, 4), body, out), /3 records but packetCount is 4/);
});

test('refuses to seal into an output buffer that is too small', () => {
  const body = makeBody(3);
  const out = Buffer.alloc(sealedSize(body.length) - 1);
  assert.throws(() => sealSegment(key, makeHeader(0, 3), body, out), /sealedSize/);
});

test('refuses to seal with a run id of the wrong length', () => {
  const body = makeBody(1);
  const out = Buffer.alloc(sealedSize(body.length));
  assert.throws(() => sealSegment(key, { ...makeHeader(0, 1), runId: Buffer.alloc(8) }, body, out), /run id must be 16 bytes/);
});

test('refuses to seal with a key that is not 32 bytes', () => {
  const body = makeBody(1);
  const out = Buffer.alloc(sealedSize(body.length));
  const long = SecretKey.fromBytes(Buffer.alloc(64, 1));
  assert.throws(() => sealSegment(long, makeHeader(0, 1), body, out), /32 bytes/);
  long.wipe();
});

test('countRecords walks the pcap records and refuses a record that runs past the end', () => {
  const body = makeBody(4);
  assert.is(countRecords(body), 4);
  assert.is(countRecords(body.subarray(0, body.length - 1)), -1);
  assert.is(countRecords(Buffer.alloc(0)), 0);
});

test.after(() => ring.wipe());
test.run();
