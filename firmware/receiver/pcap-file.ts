// trace.pcap: PACKET records are already pcap records (16-byte little-endian header and
// the anonymized bytes), so the file is the classic pcap global header plus them.
import { BufferedFile } from './buffered-file';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_SNAPLEN = 262144;

export class PcapFileWriter {
  private readonly file: BufferedFile;
  packets = 0;
  /** PACKET records whose header does not match their length: not written. */
  malformed = 0;

  constructor(readonly path: string, readonly linkType: number) {
    this.file = new BufferedFile(path);
    const h = Buffer.alloc(24);
    h.writeUInt32LE(PCAP_MAGIC_US, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(PCAP_SNAPLEN, 16);
    h.writeUInt32LE(linkType >>> 0, 20);
    this.file.write(h);
  }

  write(rec: Buffer): void {
    this.writeRange(rec, 0, rec.length);
  }

  /** The record in rec[start, end) (a PACKET record inside its frame's body), if its header matches its length. */
  writeRange(rec: Buffer, start: number, end: number): void {
    const len = end - start;
    if (len < 16) return void this.malformed++;
    const caplen = rec.readUInt32LE(start + 8);
    const origlen = rec.readUInt32LE(start + 12);
    if (caplen !== len - 16 || caplen > PCAP_SNAPLEN || origlen < caplen) return void this.malformed++;
    this.file.writeRange(rec, start, end);
    this.packets++;
  }

  flush(): void {
    this.file.flush();
  }

  close(): void {
    this.file.close();
  }
}
