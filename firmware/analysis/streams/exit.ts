// The trusted exit for declared streams: every value a module emitted, checked against
// its declaration by wire.ts, is made safe here by its type before the record may
// leave: addresses through the policy's address action (Crypto-PAn, truncation),
// MACs through the keyed permutation, names keyed-hashed label by label, times shifted
// and coarsened, durations coarsened, counts rounded. Then the stream's limits: at
// most maxPerSecond records per second of packet time, and aggregates below k
// suppressed. A refused record is counted by stream and reason, never shown.
//
// This runs in the trusted analysis process (it holds the keys); the module never does.
import { formatIPv4, formatIPv6 } from '../../anonymize/ip-text';
import { coarsenMicros } from '../../anonymize/transforms';
import type { FieldActions, Policy } from '../../anonymize/policy';
import type { StreamRecord } from '../../channel/records';
import { AnonPrimitives, applyAddressAction } from '../anonymizer';
import type { FieldDecl, StreamDecl, Streams } from './schema';
import { ReadValue, Refusal, refusalNames } from './wire';

/** Place of end-of-run records (Runtime's end position): they share one extra second. */
const END_SECOND = -1;

interface StreamState {
  name: string;
  decl: StreamDecl;
  fieldNames: string[];
  second: number;
  inSecond: number;
  accepted: number;
  refused: Record<string, number>;
}

export class StreamExit {
  private readonly streams: StreamState[];
  private readonly scratch = Buffer.alloc(16);
  private readonly granularityUs: number;
  private readonly shiftUs: number;

  constructor(streams: Streams, private readonly prim: AnonPrimitives, private readonly policy: Policy, private readonly fields: FieldActions) {
    this.streams = Object.entries(streams).map(([name, decl]) => ({
      name, decl, fieldNames: Object.keys(decl.fields), second: Number.NaN, inSecond: 0, accepted: 0, refused: {},
    }));
    const t = fields.time;
    this.granularityUs = t.action === 'coarsen' ? t.granularityUs : 1;
    this.shiftUs = t.action === 'coarsen' && t.shift ? prim.timeShiftUs : 0;
  }

  /** The declaration of stream number i, or null: the module named a stream that does not exist. */
  decl(i: number): StreamDecl | null {
    return this.streams[i]?.decl ?? null;
  }

  /** Counts a refusal found before build() (shape, range, position) against stream i (or none). */
  refuse(i: number, reason: number): void {
    const s = this.streams[i];
    const why = refusalNames[reason] ?? 'shape';
    if (s) s.refused[why] = (s.refused[why] ?? 0) + 1;
    else this.unknown++;
  }

  /** Records naming no declared stream. */
  unknown = 0;

  /**
   * The record to send for stream i's checked values, or null when the stream's limits
   * refuse it (counted). `tsUs` is the packet time of the record's place (null at the end).
   */
  build(i: number, values: ReadValue[], tsUs: number | null): StreamRecord | null {
    const s = this.streams[i];
    const second = tsUs === null ? END_SECOND : Math.floor(tsUs / 1e6);
    if (second !== s.second) { s.second = second; s.inSecond = 0; }
    // The limit counts every record offered, so a replay after a restart meets the
    // same budget on the same packets.
    if (++s.inSecond > s.decl.maxPerSecond) { this.refuse(i, Refusal.rate); return null; }
    const m = s.decl.minCount;
    if (m && (values[s.fieldNames.indexOf(m.field)] as number) < m.k) { this.refuse(i, Refusal.belowK); return null; }
    const record: StreamRecord['record'] = {};
    for (let f = 0; f < s.fieldNames.length; f++) {
      record[s.fieldNames[f]] = this.safeValue(s.decl.fields[s.fieldNames[f]], values[f]);
    }
    s.accepted++;
    return { stream: s.name, record };
  }

  private safeValue(f: FieldDecl, v: ReadValue): string | number | number[] {
    switch (f.type) {
      case 'address': {
        const b = v as Buffer;
        const len = b.length as 4 | 16;
        b.copy(this.scratch, 0, 0, len);
        applyAddressAction(this.prim, this.fields[len === 4 ? 'ip4.src' : 'ip6.src'], this.scratch, 0, len);
        return len === 4 ? formatIPv4(this.scratch.readUInt32BE(0)) : formatIPv6(this.scratch, 0);
      }
      case 'mac': {
        const b = Buffer.from(v as Buffer);
        if (this.fields['eth.src'].action === 'mac') this.prim.mac.anonymizeMacInto(b, 0);
        else b.fill(0);
        return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
      }
      case 'name': return this.hashName(f, v as Buffer);
      case 'enum': return f.values[v as number];
      case 'time': return coarsenMicros((v as number) + this.shiftUs, this.granularityUs);
      case 'duration': return coarsenMicros(v as number, this.granularityUs);
      case 'count': return Math.floor((v as number) / f.round) * f.round;
      case 'histogram': return v as number[];
      default: return v as number;
    }
  }

  /**
   * Every label keyed-hashed. The policy's readable suffix is kept only when it is one
   * the stream declared: the module picks the name, so a free suffix would be free text.
   */
  private hashName(f: Extract<FieldDecl, { type: 'name' }>, raw: Buffer): string {
    let labels = raw.toString('latin1').toLowerCase().split('.');
    if (labels.length > 1 && labels[labels.length - 1] === '') labels = labels.slice(0, -1);
    labels = labels.slice(-f.maxLabels);
    let keep = 0;
    for (let n = Math.min(this.policy.dnsSuffixLabels, labels.length - 1); n > 0; n--) {
      if (f.suffixes.includes(labels.slice(-n).join('.'))) { keep = n; break; }
    }
    return this.prim.hash.hashLabels(labels, keep);
  }

  /** Per stream: records accepted and refused by reason, for the run's counters. */
  counts(): Record<string, { accepted: number; refused: Record<string, number> }> {
    const out: Record<string, { accepted: number; refused: Record<string, number> }> = {};
    for (const s of this.streams) out[s.name] = { accepted: s.accepted, refused: { ...s.refused } };
    return out;
  }

  /** Records refused so far, all streams and reasons. */
  refusedTotal(): number {
    let n = this.unknown;
    for (const s of this.streams) for (const c of Object.values(s.refused)) n += c;
    return n;
  }
}
