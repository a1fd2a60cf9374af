/**
 * Where a segment's sealing and writing go, and which AEAD keeps up: `make bench-capture`
 * runs it before the capture runs.
 *   node dist/bench/capture/seal.js --dir DIR [--segment-bytes N] [--rounds N]
 * For a 64-byte-frame body and an IMIX body of one segment each (records as the capture
 * addon writes them), it times on this thread, best of --rounds:
 *   - counting the records (sealSegment checks the count before it seals);
 *   - each candidate AEAD over the body: libsodium's XChaCha20-Poly1305 (sodium-native),
 *     the system OpenSSL's AES-256-GCM through the project's addon, and node:crypto's
 *     AES-256-GCM and ChaCha20-Poly1305 (Node's bundled OpenSSL);
 *   - sealSegment itself with the AEAD the box picks at boot (chooseSegmentAead);
 *   - writing the sealed segment into a preallocated slot file in DIR the way the ring
 *     does (body, then header, at the same offsets).
 * Prints one table: microseconds per segment and CPU-seconds per million packets.
 * (sodium-native 5 has no AES-256-GCM binding.)
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sodium from 'sodium-native';
import { chooseSegmentAead, countRecords, maxBodyBytes, sealSegment, sealedSize, SEGMENT_HEADER_BYTES } from '../../firmware/spool/segment';
import { batchBinding } from '../../firmware/capture/batch-binding';
import { Keyring } from '../../firmware/keys/keyring';

interface Args { dir: string; segmentBytes: number; rounds: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { dir: '', segmentBytes: 4 * 1024 * 1024, rounds: 20 };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (argv[i] === '--dir') a.dir = v;
    else if (argv[i] === '--segment-bytes') a.segmentBytes = Number(v);
    else if (argv[i] === '--rounds') a.rounds = Number(v);
    else { console.error('usage: seal.js --dir DIR [--segment-bytes N] [--rounds N]'); process.exit(2); }
  }
  if (!a.dir) { console.error('seal.js: --dir is required'); process.exit(2); }
  return a;
}

/** A body of pcap records filling `room` bytes, frame sizes cycling through `sizes`. */
function body(room: number, sizes: number[]): { bytes: Buffer; packets: number } {
  const buf = Buffer.alloc(room);
  crypto.randomFillSync(buf);
  let at = 0;
  let n = 0;
  for (;;) {
    const caplen = sizes[n % sizes.length];
    if (at + 16 + caplen > room) break;
    buf.writeUInt32LE(1_700_000_000, at);
    buf.writeUInt32LE(n % 1_000_000, at + 4);
    buf.writeUInt32LE(caplen, at + 8);
    buf.writeUInt32LE(caplen, at + 12);
    at += 16 + caplen;
    n++;
  }
  return { bytes: buf.subarray(0, at), packets: n };
}

/** Best of `rounds` CPU time (user + system) of one call, in microseconds. */
async function best(rounds: number, fn: () => void | Promise<void>): Promise<number> {
  await fn();
  let min = Infinity;
  for (let i = 0; i < rounds; i++) {
    const t0 = process.cpuUsage();
    await fn();
    const d = process.cpuUsage(t0);
    min = Math.min(min, d.user + d.system);
  }
  return min;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.dir, { recursive: true });
  // The spool's own key path for sealSegment; plain random keys for the bare AEAD rows.
  const keyring = Keyring.generate();
  const key = keyring.subkey('spool');
  const keyBytes = crypto.randomBytes(32);
  const rawKey = crypto.randomBytes(32);
  const bodies = { small64: body(maxBodyBytes(args.segmentBytes), [64]), imix: body(maxBodyBytes(args.segmentBytes), [60, 590, 60, 60, 590, 60, 60, 1514, 60, 590, 60, 590]) };
  const slotFile = path.join(args.dir, 'seal-bench.slot');
  fs.writeFileSync(slotFile, Buffer.alloc(args.segmentBytes));
  const out = Buffer.alloc(args.segmentBytes);
  const choice = chooseSegmentAead();
  const nonce = Buffer.alloc(24);
  console.log(`seal: one ${(args.segmentBytes / 1048576).toFixed(1)} MiB segment, best of ${args.rounds}; us/segment and CPU-s per million packets`);
  console.log(`${'step'.padEnd(50)} ${'small64 us'.padStart(11)} ${'s/Mpkt'.padStart(7)} ${'imix us'.padStart(9)} ${'s/Mpkt'.padStart(7)} ${'GB/s'.padStart(6)}`);
  const rows: Array<[string, (b: Buffer, packets: number) => void | Promise<void>]> = [
    ['count records (JavaScript walk)', (b) => { countRecords(b); }],
    ['XChaCha20-Poly1305, libsodium (sodium-native)', (b) => {
      sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(0, b.length + 16), b, null, null, nonce, keyBytes);
    }],
    ['AES-256-GCM, system OpenSSL (the addon)', (b) => {
      batchBinding.gcmSeal(rawKey, nonce.subarray(0, 12), out.subarray(0, 64), b, out.subarray(64, 64 + b.length + 16));
    }],
    ['AES-256-GCM, node:crypto (bundled OpenSSL)', (b) => {
      const c = crypto.createCipheriv('aes-256-gcm', rawKey, nonce.subarray(0, 12));
      c.update(b); c.final(); c.getAuthTag();
    }],
    ['ChaCha20-Poly1305, node:crypto (bundled)', (b) => {
      const c = crypto.createCipheriv('chacha20-poly1305', rawKey, nonce.subarray(0, 12), { authTagLength: 16 });
      c.update(b); c.final(); c.getAuthTag();
    }],
    [`sealSegment with the box's choice (${choice.name})`, (b, packets) => {
      sealSegment(key, { aead: choice.aead, linkType: 1, runId: Buffer.alloc(16), seq: 1, firstTsSec: 0, firstTsUsec: 0, lastTsSec: 0, lastTsUsec: 0, packetCount: packets }, b, out);
    }],
    ['write a sealed segment into its slot file', async (b) => {
      const fh = await fs.promises.open(slotFile, 'r+');
      const size = sealedSize(b.length);
      await fh.write(out, SEGMENT_HEADER_BYTES, size - SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES);
      await fh.write(out, 0, SEGMENT_HEADER_BYTES, 0);
      await fh.close();
    }],
  ];
  for (const [name, fn] of rows) {
    const cells: string[] = [];
    let gbs = 0;
    for (const kind of ['small64', 'imix'] as const) {
      const { bytes, packets } = bodies[kind];
      const us = await best(args.rounds, () => fn(bytes, packets));
      cells.push(us.toFixed(0).padStart(kind === 'small64' ? 11 : 9), (us / packets).toFixed(3).padStart(7));
      gbs = bytes.length / (us * 1000);
    }
    console.log(`${name.padEnd(50)} ${cells.join(' ')} ${gbs.toFixed(2).padStart(6)}`);
  }
  fs.rmSync(slotFile, { force: true });
  keyring.wipe();
}

main().catch((e) => { console.error(`seal: ${(e as Error).message}`); process.exit(1); });
