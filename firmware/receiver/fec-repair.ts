// The receiver's side of FEC (channel/fec.ts): collects each group's data and repair
// frames, rebuilds up to m lost or damaged data frames per group, and hands frames on
// strictly in sequence order.
//
// Why in order: a rebuilt frame can only be made once its group's repair frames have
// arrived, i.e. after the later frames of the group. Fragments of a long record must be
// reassembled in order, and a CHECKPOINT must be checked only once the frames it covers
// had their chance to be rebuilt. So a frame after a gap is held until the gap's group is
// rebuilt or can no longer be (a frame past the group's end arrived, or the input ended).
// Without losses nothing waits. At most about one group (k+m frames) is held.
import { DecodedFrame, FLAG_FRAGMENT, frameBody } from '../channel/frame';
import { RecordType } from '../channel/records';
import { FecParams, frameOfSymbol, parseRepairBody } from '../channel/fec';
import { recoverData } from '../channel/reed-solomon';

/** A frame accepted by the session (not a duplicate), with its payload as decrypted. */
export interface ArrivedFrame {
  f: DecodedFrame;
  /** The payload to decode (after decryption), or null if it cannot be read (no key). */
  payload: Buffer | null;
}

interface Group {
  /** Raw frames (header ‖ payload ‖ crc) by index in the group. */
  data: Array<Buffer | undefined>;
  /** Data frames in the group, from a repair frame (k, or fewer for the session's last group). */
  n: number | null;
  parity: Map<number, Buffer>;
  rebuilt: boolean;
}

export interface FecHooks {
  /** Hands a frame on, in sequence order. */
  deliver(a: ArrivedFrame): void;
  /** A rebuilt raw frame that should have had sequence number `seq`: parse it and feed it as if it had arrived. */
  rebuilt(raw: Buffer, seq: number): void;
  /** First and last sequence numbers the session has seen. */
  firstSeen(): number;
  lastSeen(): number;
}

export class FecRepair {
  private readonly span: number;
  private readonly groups = new Map<number, Group>();
  private readonly held = new Map<number, ArrivedFrame>();
  private next = -1;
  private pumping = false;
  private lastGivenUp = -1;
  /** Groups that had lost data frames and could not be rebuilt. */
  unrepairableGroups = 0;
  /** Repair frames that never arrived (not counted as missing data). */
  missingRepairFrames = 0;
  /** Repair frames whose body does not fit this session's geometry. */
  badRepairFrames = 0;

  constructor(readonly params: FecParams, private readonly hooks: FecHooks) {
    this.span = params.k + params.m;
  }

  arrive(a: ArrivedFrame): void {
    const q = a.f.seq;
    if (this.next < 0) this.next = q;
    // A frame the in-order delivery already gave up on (a spliced recording): hand it on as is.
    if (q < this.next) return this.hooks.deliver(a);
    this.held.set(q, a);
    const g = a.f.type === RecordType.FEC ? this.addRepair(a) : this.addData(q, a.f.raw);
    if (g >= 0) this.tryRebuild(g);
    this.pump(false);
  }

  /** End of input: hand on everything held; gaps left are final. */
  finish(): void {
    this.pump(true);
  }

  private group(g: number): Group {
    let grp = this.groups.get(g);
    if (!grp) {
      grp = { data: [], n: null, parity: new Map(), rebuilt: false };
      this.groups.set(g, grp);
    }
    return grp;
  }

  private addData(q: number, raw: Buffer): number {
    const i = q % this.span;
    if (i >= this.params.k) return -1; // a data frame where a repair frame belongs: not protected
    const g = q - i;
    const grp = this.group(g);
    if (!grp.data[i]) grp.data[i] = raw;
    return g;
  }

  private addRepair(a: ArrivedFrame): number {
    const body = a.payload && !(a.f.flags & FLAG_FRAGMENT) ? frameBody({ ...a.f, payload: a.payload }) : null;
    const r = body ? parseRepairBody(body) : null;
    const { k, m } = this.params;
    if (!r || r.m !== m || r.n > k || r.firstSeq % this.span !== 0 || a.f.seq !== r.firstSeq + r.n + r.index) {
      this.badRepairFrames++;
      return -1;
    }
    const grp = this.group(r.firstSeq);
    if (grp.n !== null && grp.n !== r.n) {
      this.badRepairFrames++;
      return -1;
    }
    grp.n = r.n;
    grp.parity.set(r.index, r.parity);
    return r.firstSeq;
  }

  private tryRebuild(g: number): void {
    const grp = this.groups.get(g);
    if (!grp || grp.n === null || grp.rebuilt) return;
    const n = grp.n;
    let lost = 0;
    for (let i = 0; i < n; i++) if (!grp.data[i]) lost++;
    if (lost === 0 || grp.parity.size < lost) return;
    const size = grp.parity.values().next().value!.length;
    const symbols: Array<Buffer | null> = [];
    for (let i = 0; i < n; i++) {
      const raw = grp.data[i];
      if (!raw) { symbols.push(null); continue; }
      if (raw.length + 2 > size) return; // cannot be this group's frame: the parity is not ours
      const sym = Buffer.alloc(size);
      sym.writeUInt16BE(raw.length, 0);
      raw.copy(sym, 2);
      symbols.push(sym);
    }
    const got = recoverData(symbols, grp.parity, this.params.m);
    if (!got) return;
    grp.rebuilt = true;
    const first = this.hooks.firstSeen();
    const fed: Array<[Buffer, number]> = [];
    for (const [i, sym] of got) {
      const raw = frameOfSymbol(sym);
      if (!raw) continue; // garbage parity: the frame stays missing
      grp.data[i] = raw; // before feeding, so the frames fed do not start another rebuild
      if (g + i >= first) fed.push([Buffer.from(raw), g + i]);
    }
    for (const [raw, seq] of fed) this.hooks.rebuilt(raw, seq);
  }

  /** Hands on held frames in order; gives up on a gap once its group can no longer be rebuilt. */
  private pump(finishing: boolean): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const last = this.hooks.lastSeen();
      const { k, m } = this.params;
      while (this.next >= 0 && this.next <= last) {
        const q = this.next;
        const a = this.held.get(q);
        if (a) {
          this.held.delete(q);
          this.next = q + 1;
          this.hooks.deliver(a);
          continue;
        }
        const i = q % this.span;
        const g = q - i;
        const grp = this.groups.get(g);
        if (!grp && i === 0) {
          // Whole groups never seen at all (a long outage, or a corrupted sequence
          // number): skip them in one step instead of frame by frame.
          const whole = Math.floor((this.nextHeld(q) - g) / this.span);
          if (whole > 0 && Number.isFinite(whole)) {
            this.unrepairableGroups += whole;
            this.missingRepairFrames += whole * m;
            this.lastGivenUp = g + (whole - 1) * this.span;
            this.next = g + whole * this.span;
            continue;
          }
        }
        const n = grp?.n ?? k;
        if (i >= n) {
          this.missingRepairFrames++;
          this.next = q + 1;
          continue;
        }
        // A lost data frame: wait while the group's repair frames may still come.
        if (!finishing && last < g + n + m) break;
        if (this.lastGivenUp !== g) {
          this.lastGivenUp = g;
          this.unrepairableGroups++;
        }
        this.next = q + 1;
      }
      for (const g of this.groups.keys()) if (g + this.span <= this.next) this.groups.delete(g);
    } finally {
      this.pumping = false;
    }
  }

  private nextHeld(after: number): number {
    let best = Infinity;
    for (const q of this.held.keys()) if (q > after && q < best) best = q;
    return best;
  }
}
