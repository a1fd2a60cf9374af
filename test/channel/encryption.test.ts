// Results encrypted to the researcher's X25519 key: a tapper of the wire learns no
// record, the researcher's key reads everything, anything else is counted, never a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { RecordType } from '../../firmware/channel/records';
import { buildFrame, FLAG_ENCRYPTED, FLAG_DEFLATED, compressBody, frameBody, packRecords, unpackRecords } from '../../firmware/channel/frame';
import { ENCRYPTION_ALG, SEALED_KEY_BYTES } from '../../firmware/channel/frame-seal';
import { makeDns, makeEnd, makeFlow, tmpDir } from '../lib/channel-fixtures';
import { channelOn, recordLine } from '../lib/channel-recording';
import { decodeWith, occurring, researcherKey, rewriteFrames, splitFrames } from '../lib/channel-sealed';

const key = researcherKey();
// Strings that the records of sendMix contain: a DNS name, a flow address, a log line, END's reason.
const PLAINTEXT = ['h8.example', 'h40.example', '192.0.2.7', '2001:db8:1::1', 'round 3', 'endOfSource'];

let encrypted: { bytes: Buffer; sent: { flows: number; dns: number; packets: number } } | null = null;
async function encryptedRecording(): Promise<{ bytes: Buffer; sent: { flows: number; dns: number; packets: number } }> {
  if (!encrypted) {
    const { file } = await recordLine({ rounds: 6, perRound: 20, over: { recipient: key.publicKey, checkpointEveryFrames: 8 } });
    encrypted = { bytes: fs.readFileSync(file), sent: { flows: 120, dns: 60, packets: 120 } };
  }
  return encrypted;
}

/** Everything a tapper can read: the raw line, and each frame's payload as is and inflated. */
function tapperView(bytes: Buffer): Buffer {
  const parts: Buffer[] = [bytes];
  for (const { frame } of splitFrames(bytes)) {
    parts.push(frame.payload);
    try { parts.push(inflateRawSync(frame.payload)); } catch { /* not deflate */ }
  }
  return Buffer.concat(parts);
}

test('a clear recording shows the records to a tapper (the check below can fail)', async () => {
  const { file } = await recordLine({ rounds: 6, perRound: 20 });
  assert.equal(occurring(tapperView(fs.readFileSync(file)), PLAINTEXT), PLAINTEXT);
});

test('an encrypted recording holds none of the records\' plaintext', async () => {
  const { bytes } = await encryptedRecording();
  assert.equal(occurring(tapperView(bytes), PLAINTEXT), []);
});

test('every frame but BOOT and CHECKPOINT carries the encrypted flag', async () => {
  const { bytes } = await encryptedRecording();
  const types = new Set<number>();
  for (const { frame } of splitFrames(bytes)) {
    const clear = frame.type === RecordType.BOOT || frame.type === RecordType.CHECKPOINT;
    assert.is(Boolean(frame.flags & FLAG_ENCRYPTED), !clear, `type ${frame.type} seq ${frame.seq}`);
    types.add(frame.type);
  }
  for (const t of [RecordType.FLOW, RecordType.DNS, RecordType.PACKET, RecordType.LOG, RecordType.END]) assert.ok(types.has(t), `type ${t} sent`);
});

test('BOOT stays readable and carries the sealed session key', async () => {
  const { bytes } = await encryptedRecording();
  const { d } = decodeWith(bytes, {});
  const s = [...d.sessions.values()][0];
  assert.is(s.boot?.encryption?.alg, ENCRYPTION_ALG);
  assert.is(Buffer.from(s.boot?.encryption?.sealedKey ?? '', 'hex').length, SEALED_KEY_BYTES);
});

test('the researcher\'s key decodes everything: records, END, checkpoints', async () => {
  const { bytes, sent } = await encryptedRecording();
  const { d, got, notices } = decodeWith(bytes, { resultsKey: key });
  const s = [...d.sessions.values()][0];
  assert.is(got.flows, sent.flows);
  assert.is(got.dns, sent.dns);
  assert.is(got.packets.length, sent.packets);
  assert.is(got.ends.length, 1);
  assert.equal(got.ends[0].records, s.records, 'records equal END');
  assert.is(s.encryptedFrames, 0);
  assert.ok(s.decryptedFrames > 10);
  assert.is(d.badFrames, 0);
  assert.is(s.seq.missing, 0);
  assert.ok(s.checkpoints.verified > 3);
  assert.is(s.checkpoints.failed, 0);
  assert.equal(notices, []);
});

test('without a key: encrypted frames counted as undecryptable, a notice says --key, checkpoints still verify', async () => {
  const { bytes } = await encryptedRecording();
  const { d, got, notices } = decodeWith(bytes, {});
  const s = [...d.sessions.values()][0];
  assert.is(got.flows + got.dns + got.packets.length + got.logs.length + got.ends.length, 0);
  assert.ok(s.encryptedFrames > 10);
  assert.is(s.encryptedFrames + (s.records.BOOT ?? 0) + (s.records.CHECKPOINT ?? 0) >= s.frames - 1, true);
  assert.is(s.keyProblem, 'no key');
  assert.is(notices.length, 1);
  assert.match(notices[0], /--key/);
  assert.is(s.checkpoints.failed, 0, 'checkpoints cover the frames as sent, ciphertext included');
  assert.ok(s.checkpoints.verified > 3);
  assert.is(d.badFrames, 0);
});

test('a wrong key: the sealed key does not open, frames are undecryptable, the notice says so', async () => {
  const { bytes } = await encryptedRecording();
  const { d, got, notices } = decodeWith(bytes, { resultsKey: researcherKey() });
  const s = [...d.sessions.values()][0];
  assert.is(s.keyProblem, 'wrong key');
  assert.is(got.flows, 0);
  assert.ok(s.encryptedFrames > 10);
  assert.is(s.decryptedFrames, 0);
  assert.match(notices[0], /another researcher key/);
});

test('tampered ciphertext with a valid CRC is a counted bad frame, reported missing', async () => {
  const { bytes, sent } = await encryptedRecording();
  let victim = -1;
  const forged = rewriteFrames(bytes, (f) => {
    if (victim >= 0 || f.type !== RecordType.FLOW) return null;
    victim = f.seq;
    const payload = Buffer.from(f.payload);
    payload[3] ^= 0x40;
    return buildFrame({ ...f, payload });
  });
  const { d, got } = decodeWith(forged, { resultsKey: key });
  const s = [...d.sessions.values()][0];
  assert.is(d.badFrames, 1);
  assert.is(d.badFrameReasons.auth, 1);
  assert.is(s.seq.missing, 1);
  assert.ok(s.seq.isMissing(victim));
  assert.ok(got.flows < sent.flows, 'the tampered frame\'s flows are not delivered');
  assert.ok(s.checkpoints.unverifiedRanges.some((r) => r.from <= victim && r.to >= victim));
});

test('a clear frame injected into an encrypted session is refused', async () => {
  const { bytes, sent } = await encryptedRecording();
  let done = false;
  const forged = rewriteFrames(bytes, (f) => {
    if (done || f.type !== RecordType.DNS) return null;
    done = true;
    const { payload, flags } = compressBody(packRecords([Buffer.from(JSON.stringify(makeDns(999)))]));
    return buildFrame({ ...f, flags: flags & FLAG_DEFLATED, payload });
  });
  const { d, got } = decodeWith(forged, { resultsKey: key });
  assert.is(d.badFrameReasons.auth, 1);
  assert.ok(got.dns < sent.dns);
});

test('the same records in two sessions give different ciphertext (fresh key per boot)', async () => {
  const dir = tmpDir('twice');
  const payloads: Buffer[] = [];
  for (const name of ['a', 'b']) {
    const file = path.join(dir, name);
    const { ch } = channelOn(file, { recipient: key.publicKey });
    ch.send(RecordType.FLOW, makeFlow(1));
    await ch.close(makeEnd(), 1000);
    payloads.push(splitFrames(fs.readFileSync(file)).find((x) => x.frame.type === RecordType.FLOW)!.frame.payload);
  }
  assert.is(payloads[0].length, payloads[1].length);
  assert.not.equal(payloads[0], payloads[1]);
});

test('a BOOT updated by the caller (new link type) still carries the sealed key', async () => {
  const file = path.join(tmpDir('reboot'), 'line');
  const { ch } = channelOn(file, { recipient: key.publicKey });
  ch.updateBoot({ linkType: 105 });
  ch.send(RecordType.FLOW, makeFlow(2));
  await ch.close(makeEnd(), 1000);
  const boots = splitFrames(fs.readFileSync(file)).filter((x) => x.frame.type === RecordType.BOOT)
    .map((x) => JSON.parse(unpackRecords(frameBody(x.frame) as Buffer)![0].toString()));
  assert.is(boots.length, 2);
  assert.is(boots[1].linkType, 105);
  assert.is(boots[1].encryption.sealedKey, boots[0].encryption.sealedKey);
  const { got } = decodeWith(fs.readFileSync(file), { resultsKey: key });
  assert.is(got.flows, 1);
});

test('refuses a recipient key that is not 32 bytes', () => {
  assert.throws(() => channelOn(path.join(tmpDir('badkey'), 'line'), { recipient: Buffer.alloc(16, 1) }), /recipient key must be 32 bytes/);
});

test('refuses an all-zero recipient key', () => {
  assert.throws(() => channelOn(path.join(tmpDir('zerokey'), 'line'), { recipient: Buffer.alloc(32) }), /not a usable X25519 public key/);
});

test.run();
