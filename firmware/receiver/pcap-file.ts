// trace.pcap: PACKET records are already pcap records (16-byte little-endian header and
// the anonymized bytes), so the file is the classic pcap global header plus them.
import * as fs from 'node:fs';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_SNAPLEN = 262144;

export class PcapFileWriter {
  readonly fd: number;
  packets = 0;
  /** PACKET records whose header does not match their length: not written. */
  malformed = 0;

  constructor(readonly path: string, readonly linkType: number) {
    this.fd = fs.openSync(path, 'w');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(PCAP_MAGIC_US, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(PCAP_SNAPLEN, 16);
    h.writeUInt32LE(linkType >>> 0, 20);
    fs.writeSync(this.fd, h);
  }

  write(rec: Buffer): void {
    if (rec.length < 16) return void this.malformed++;
    const caplen = rec.readUInt32LE(8);
    const origlen = rec.readUInt32LE(12);
    if (caplen !== rec.length - 16 || caplen > PCAP_SNAPLEN || origlen < caplen) return void this.malformed++;
    fs.writeSync(this.fd, rec);
    this.packets++;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
