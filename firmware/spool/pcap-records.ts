// The body of a segment, and a batch of PACKET records from the analysis: pcap records
// back to back, each a 16-byte header (ts_sec, ts_usec, caplen, origlen; u32 LE) and
// caplen bytes. No imports: the analysis' IPC checks use this too, and it is loaded
// where no native module may be.
export const PCAP_RECORD_HEADER_BYTES = 16;

/** Bytes of the pcap record at buf[off..]: its header and caplen (u32 LE at byte 8). */
export function pcapRecordBytes(buf: Uint8Array, off: number): number {
  return PCAP_RECORD_HEADER_BYTES + ((buf[off + 8] | (buf[off + 9] << 8) | (buf[off + 10] << 16) | (buf[off + 11] << 24)) >>> 0);
}

/**
 * Number of pcap records that exactly tile body, or -1 if a record runs past the end.
 * One pass over the record headers, no allocation.
 */
export function countRecords(body: Buffer): number {
  let off = 0;
  let n = 0;
  const end = body.length;
  while (off < end) {
    if (end - off < PCAP_RECORD_HEADER_BYTES) return -1;
    const caplen = body.readUInt32LE(off + 8);
    off += PCAP_RECORD_HEADER_BYTES + caplen;
    if (off > end) return -1;
    n++;
  }
  return n;
}
