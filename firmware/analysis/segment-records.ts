// Walks the pcap records of an opened segment body (16-byte little-endian header:
// ts_sec, ts_usec, caplen, origlen, then caplen bytes), one at a time and without
// allocating: the trusted analysis and the module's runtime read segments the same
// way, so a packet has the same index, and so the same position, in both.
export class SegmentRecords {
  /** Offset of the next record's header. */
  off = 0;
  /** Index of the current record in the segment (-1 before the first). */
  index = -1;
  tsUs = 0;
  origLen = 0;
  /** The current packet's bytes: body[start..end). */
  start = 0;
  end = 0;

  /**
   * The header fields are read through a DataView: TurboFan compiles its reads in place,
   * where Buffer.readUInt32LE stayed a call from the analysis' packet loop (four a
   * packet, 4% of the analysis process on a packets run: docs/benchmarks.md).
   */
  private readonly view: DataView;

  constructor(readonly body: Buffer) {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  /** Steps to the next record; false when there is none. */
  next(): boolean {
    const b = this.body;
    const v = this.view;
    const o = this.off;
    if (o + 16 > b.length) return false;
    this.tsUs = v.getUint32(o, true) * 1e6 + v.getUint32(o + 4, true);
    this.origLen = v.getUint32(o + 12, true);
    this.start = o + 16;
    // A torn last record keeps what is there: its caplen is cut to the body.
    this.end = Math.min(this.start + v.getUint32(o + 8, true), b.length);
    this.off = this.end;
    this.index++;
    return true;
  }

  /**
   * Steps over k records that ended at `off` (read elsewhere: the packets output's loop
   * in C). The current record's fields are then not read.
   */
  skip(off: number, k: number): void {
    this.off = off;
    this.index += k;
  }

  /** True when every record has been read. */
  done(): boolean {
    return this.off + 16 > this.body.length;
  }
}

/** Start offset of each record's header in a segment body. */
export function recordOffsets(body: Buffer): number[] {
  const out: number[] = [];
  const r = new SegmentRecords(body);
  while (r.next()) out.push(r.start - 16);
  return out;
}
