// Ring bookkeeping for the spool, with no I/O so it can be tested on its own: which
// slot a sequence number lands in, which slots may be reused, what is still readable.
//
// Segment sequence numbers start at 0 and only grow; segment seq lives in slot
// seq % slots. A slot moves free → reserved (being sealed/written) → unanalysed
// (published) → analysed, and an analysed or free slot may be reserved again for
// seq + slots. A reserved or unanalysed slot is never handed out: the ring refuses
// instead of overwriting data the analysis has not seen.

export const SLOT_FREE = 0;
export const SLOT_RESERVED = 1;
export const SLOT_UNANALYSED = 2;
export const SLOT_ANALYSED = 3;

/** The slot that holds segment seq in a ring of `slots` slots. */
export function slotForSeq(seq: number, slots: number): number {
  return seq % slots;
}

/** First sequence number whose slot can still hold it, given the next seq to reserve. */
export function windowStart(nextSeq: number, slots: number): number {
  return nextSeq > slots ? nextSeq - slots : 0;
}

/** True when a slot in this state may take a new segment. */
export function isReusable(state: number): boolean {
  return state === SLOT_FREE || state === SLOT_ANALYSED;
}

export class SlotLedger {
  readonly slots: number;
  private nextSeq = 0;
  private readonly state: Uint8Array;
  // Sequence number held (or being written) in each slot; -1 for none.
  private readonly seqOf: Float64Array;

  constructor(slots: number) {
    if (!Number.isInteger(slots) || slots < 2) throw new RangeError(`a spool ring needs at least 2 slots, got ${slots}`);
    this.slots = slots;
    this.state = new Uint8Array(slots);
    this.seqOf = new Float64Array(slots).fill(-1);
  }

  /** Claims the slot for the next sequence number, or null when it still holds unanalysed data. */
  reserve(): { slot: number; seq: number } | null {
    const seq = this.nextSeq;
    const slot = slotForSeq(seq, this.slots);
    if (!isReusable(this.state[slot])) return null;
    this.state[slot] = SLOT_RESERVED;
    this.seqOf[slot] = seq;
    this.nextSeq = seq + 1;
    return { slot, seq };
  }

  /** The reserved seq of a slot; throws if the slot is not reserved. */
  reservedSeq(slot: number): number {
    this.checkSlot(slot);
    if (this.state[slot] !== SLOT_RESERVED) throw new Error(`spool slot ${slot} is not reserved: call reserve() before publish()`);
    return this.seqOf[slot];
  }

  /** The write of a reserved slot completed: its segment is now readable and unanalysed. */
  published(slot: number): void {
    this.reservedSeq(slot);
    this.state[slot] = SLOT_UNANALYSED;
  }

  /**
   * The write of a reserved slot failed or was abandoned: the slot is free again and
   * its sequence number is a hole the caller must count and report.
   */
  abandoned(slot: number): void {
    this.reservedSeq(slot);
    this.state[slot] = SLOT_FREE;
  }

  /**
   * Marks a published segment analysed so its slot can be reused. Returns false (and
   * changes nothing) for a seq that is not currently an unanalysed segment — e.g. a
   * repeat after an analysis restart, or a seq that was never published.
   */
  markAnalysed(seq: number): boolean {
    if (!Number.isInteger(seq) || seq < 0) return false;
    const slot = slotForSeq(seq, this.slots);
    if (this.seqOf[slot] !== seq || this.state[slot] !== SLOT_UNANALYSED) return false;
    this.state[slot] = SLOT_ANALYSED;
    return true;
  }

  /** True when segment seq is published and still in its slot (analysed or not). */
  isRetained(seq: number): boolean {
    if (!Number.isInteger(seq) || seq < 0) return false;
    const slot = slotForSeq(seq, this.slots);
    const s = this.state[slot];
    return this.seqOf[slot] === seq && (s === SLOT_UNANALYSED || s === SLOT_ANALYSED);
  }

  /**
   * The earliest segment still readable, analysed or not: where a restarted analysis
   * starts re-reading. With nothing readable, the first seq that will become readable
   * (the oldest one being written, else the next to be reserved).
   */
  oldestRetainedSeq(): number {
    let firstReserved = -1;
    for (let seq = windowStart(this.nextSeq, this.slots); seq < this.nextSeq; seq++) {
      if (this.isRetained(seq)) return seq;
      const slot = slotForSeq(seq, this.slots);
      if (firstReserved < 0 && this.seqOf[slot] === seq && this.state[slot] === SLOT_RESERVED) firstReserved = seq;
    }
    return firstReserved >= 0 ? firstReserved : this.nextSeq;
  }

  /** The seq the next reserve() will hand out. */
  nextSequence(): number {
    return this.nextSeq;
  }


  /** Fraction (0..1) of slots holding or about to hold unanalysed data. */
  fill(): number {
    return (this.count(SLOT_UNANALYSED) + this.count(SLOT_RESERVED)) / this.slots;
  }

  private count(state: number): number {
    let n = 0;
    for (let i = 0; i < this.slots; i++) if (this.state[i] === state) n++;
    return n;
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots) {
      throw new RangeError(`spool slot ${slot} does not exist (ring has ${this.slots} slots)`);
    }
  }
}
