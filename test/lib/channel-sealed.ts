// Helpers for tests of the encrypted and FEC-protected line: researcher key pairs,
// decoding with decoder options, and frame-level surgery on recordings (split a
// recording into frames, drop or alter chosen ones, join it back).
import sodium from 'sodium-native';
import { decodeFrame, DecodedFrame, frameToWire } from '../../firmware/channel/frame';
import { LineDecoder, DecoderOptions } from '../../firmware/receiver/decoder';
import { ResultsKey } from '../../firmware/channel/frame-seal';
import { collectingSink, Collected } from './channel-recording';

/** A researcher key pair in memory (the secret half in secure memory, like `--key` reads it). */
export function researcherKey(): ResultsKey {
  const publicKey = Buffer.alloc(sodium.crypto_box_PUBLICKEYBYTES);
  const secretKey = sodium.sodium_malloc(sodium.crypto_box_SECRETKEYBYTES);
  sodium.crypto_box_keypair(publicKey, secretKey);
  return { publicKey, secretKey };
}

export function decodeWith(bytes: Buffer, opts: DecoderOptions, chunk = 4096): { d: LineDecoder; got: Collected; notices: string[] } {
  const sink = collectingSink();
  const notices: string[] = [];
  const d = new LineDecoder({ ...sink, notice: (_s, _sev, msg) => void notices.push(msg) }, opts);
  for (let o = 0; o < bytes.length; o += chunk) d.push(bytes.subarray(o, o + chunk));
  d.finish();
  return { d, got: sink.got, notices };
}

/** The COBS blocks of a recording (between 0x00 delimiters), each decoded. */
export function splitFrames(bytes: Buffer): Array<{ block: Buffer; frame: DecodedFrame }> {
  const out: Array<{ block: Buffer; frame: DecodedFrame }> = [];
  let start = -1;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) continue;
    if (start >= 0 && i - start > 1) {
      const block = bytes.subarray(start + 1, i);
      const frame = decodeFrame(block);
      if (typeof frame === 'string') throw new Error(`recording has a bad frame (${frame}) at byte ${start + 1}`);
      out.push({ block, frame });
    }
    start = i;
  }
  return out;
}

/** A line again: leading delimiter, then each block and its delimiter. */
export function joinBlocks(blocks: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0])];
  for (const b of blocks) parts.push(b, Buffer.from([0]));
  return Buffer.concat(parts);
}

/**
 * Rewrites a recording frame by frame: `pick` returns 'drop' (the frame never arrives),
 * 'corrupt' (one byte flipped: its CRC fails), a new raw frame (header ‖ payload ‖ crc,
 * sent instead), or null (unchanged).
 */
export function rewriteFrames(bytes: Buffer, pick: (f: DecodedFrame, index: number) => 'drop' | 'corrupt' | Buffer | null): Buffer {
  const blocks: Buffer[] = [];
  splitFrames(bytes).forEach(({ block, frame }, i) => {
    const what = pick(frame, i);
    if (what === 'drop') return;
    if (what === 'corrupt') {
      const b = Buffer.from(block);
      const at = Math.floor(b.length / 2);
      b[at] = b[at] === 0x55 ? 0x56 : 0x55; // never 0x00: the frame stays one block
      blocks.push(b);
      return;
    }
    blocks.push(what ? frameToWire(what).subarray(0, -1) : block);
  });
  return joinBlocks(blocks);
}

/** Every string in `needles` that occurs in `hay`. */
export function occurring(hay: Buffer, needles: string[]): string[] {
  return needles.filter((n) => hay.includes(Buffer.from(n)));
}
