// Damages a recording of the results line while tracking where every byte came from,
// so a test can compute exactly which frames survive: a frame survives iff some block
// between two 0x00 bytes of the damaged stream consists of exactly its original bytes.
import { decodeFrame, frameBody, unpackRecords, FLAG_FRAGMENT } from '../../firmware/channel/frame';
import { recordTypeName } from '../../firmware/channel/records';

export class DamagedLine {
  values: number[];
  origin: number[];
  private seed: number;

  constructor(readonly original: Buffer, seed: number) {
    this.values = [...original];
    this.origin = this.values.map((_, i) => i);
    this.seed = seed >>> 0 || 1;
  }

  rand(n: number): number {
    // xorshift32: reproducible damage for a given seed.
    let x = this.seed;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.seed = x;
    return x % n;
  }

  flip(count: number): this {
    for (let k = 0; k < count; k++) {
      const p = this.rand(this.values.length);
      this.values[p] ^= 1 + this.rand(255);
      this.origin[p] = -1;
    }
    return this;
  }

  drop(count: number, maxLen: number): this {
    for (let k = 0; k < count; k++) {
      const a = this.rand(this.values.length);
      const len = 1 + this.rand(maxLen);
      this.values.splice(a, len);
      this.origin.splice(a, len);
    }
    return this;
  }

  duplicate(count: number, maxLen: number): this {
    for (let k = 0; k < count; k++) {
      const a = this.rand(this.values.length);
      const len = 1 + this.rand(maxLen);
      const v = this.values.slice(a, a + len);
      const o = this.origin.slice(a, a + len);
      this.values.splice(a + v.length, 0, ...v);
      this.origin.splice(a + o.length, 0, ...o);
    }
    return this;
  }

  /** Inserts noise: right after a delimiter when `betweenFrames`, else anywhere. */
  garbage(count: number, maxLen: number, betweenFrames: boolean): this {
    for (let k = 0; k < count; k++) {
      let at = this.rand(this.values.length);
      if (betweenFrames) {
        while (at < this.values.length && this.values[at] !== 0) at++;
        at++;
      }
      const len = 1 + this.rand(maxLen);
      const noise = Array.from({ length: len }, () => this.rand(256));
      if (betweenFrames) noise.push(0); // the noise ends where the next frame starts
      this.values.splice(at, 0, ...noise);
      this.origin.splice(at, 0, ...noise.map(() => -1));
    }
    return this;
  }

  bytes(): Buffer {
    return Buffer.from(this.values);
  }

  /** Sequence numbers of the frames that survive, and how often each block appears. */
  expected(): { seqs: Set<number>; occurrences: number; records: Record<string, number> } {
    const frames = originalFrames(this.original);
    const seqs = new Set<number>();
    const records: Record<string, number> = {};
    let occurrences = 0;
    let start = -1; // index of the last delimiter; -1 = not synced yet
    for (let i = 0; i < this.values.length; i++) {
      if (this.values[i] !== 0) continue;
      if (start >= 0 && i - start > 1) {
        const a = this.origin[start + 1];
        let ok = a >= 0;
        for (let j = start + 2; ok && j < i; j++) ok = this.origin[j] === this.origin[j - 1] + 1;
        const f = ok ? frames.get(`${a}:${this.origin[i - 1] + 1}`) : undefined;
        if (f) {
          occurrences++;
          if (!seqs.has(f.seq)) {
            seqs.add(f.seq);
            for (const [k, v] of Object.entries(f.records)) records[k] = (records[k] ?? 0) + v;
          }
        }
      }
      start = i;
    }
    return { seqs, occurrences, records };
  }
}

/** Every frame of an undamaged recording, keyed by "start:end" of its COBS block. */
export function originalFrames(bytes: Buffer): Map<string, { seq: number; records: Record<string, number> }> {
  const m = new Map<string, { seq: number; records: Record<string, number> }>();
  let start = -1;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) continue;
    if (start >= 0 && i - start > 1) {
      const f = decodeFrame(bytes.subarray(start + 1, i));
      if (typeof f === 'string') throw new Error(`original recording has a bad frame (${f}) at ${start + 1}`);
      const records: Record<string, number> = {};
      if (!(f.flags & FLAG_FRAGMENT)) {
        const n = unpackRecords(frameBody(f) as Buffer)?.length ?? 0;
        records[recordTypeName[f.type]] = n;
      }
      m.set(`${start + 1}:${i}`, { seq: f.seq, records });
    }
    start = i;
  }
  return m;
}
