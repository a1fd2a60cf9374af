// Sequence-number bookkeeping of one session: which frames arrived, which are missing,
// which were duplicates. Serial lines do not reorder, but recordings can be spliced
// (and a duplicated span must not count twice), so a late frame that fills a hole is
// accepted and taken off the missing list.

export class SeqTracker {
  private next = -1;
  /** First sequence number seen (a late receiver starts mid-session), or -1. */
  first = -1;
  /** Missing ranges [from, to] inclusive, in order. */
  readonly holes: Array<[number, number]> = [];
  missing = 0;
  duplicates = 0;
  received = 0;

  /** True if the frame is new (process it), false if it is a duplicate. */
  accept(seq: number): boolean {
    if (this.next < 0 || seq === this.next) {
      if (this.next < 0) this.first = seq;
      this.next = seq + 1;
      this.received++;
      return true;
    }
    if (seq > this.next) {
      this.holes.push([this.next, seq - 1]);
      this.missing += seq - this.next;
      this.next = seq + 1;
      this.received++;
      return true;
    }
    for (let i = this.holes.length - 1; i >= 0; i--) {
      const [a, b] = this.holes[i];
      if (seq < a || seq > b) continue;
      const parts: Array<[number, number]> = [];
      if (a < seq) parts.push([a, seq - 1]);
      if (seq < b) parts.push([seq + 1, b]);
      this.holes.splice(i, 1, ...parts);
      this.missing--;
      this.received++;
      return true;
    }
    this.duplicates++;
    return false;
  }

  /** Highest sequence number seen, or -1. */
  last(): number {
    return this.next - 1;
  }

  isMissing(seq: number): boolean {
    for (const [a, b] of this.holes) if (seq >= a && seq <= b) return true;
    return false;
  }
}
