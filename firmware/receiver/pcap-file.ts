// trace.pcap: PACKET records are already pcap records (16-byte little-endian header and
// the anonymized bytes), so the file is the classic pcap global header plus them.
import { BufferedFile } from './buffered-file';
import { addon } from '../capture/addon';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_SNAPLEN = 262144;

export class PcapFileWriter {
  private readonly file: BufferedFile;
  packets = 0;
  /** PACKET records whose header does not match their length: not written. */
  malformed = 0;
  /** writePacked's answer from the addon: body position, buffer position, copied, skipped. */
  private readonly res = new Int32Array(4);

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

  /**
   * Every PACKET record of a frame's body (records behind u16 lengths, already checked
   * to tile it), each written or counted malformed exactly as writeRange would. The
   * records are copied by the capture addon straight into the file's buffer: one call
   * into C per frame instead of a check and a Buffer copy per record, which were a
   * fifth of the receiver's time on a packets line.
   */
  writePacked(body: Buffer): void {
    const unpack = addon().pcapUnpack;
    const res = this.res;
    let pos = 0;
    while (pos < body.length) {
      this.file.fillWith((buf, used) => {
        unpack(body, pos, buf, used, res);
        return res[1];
      });
      this.packets += res[2];
      this.malformed += res[3];
      if (res[0] > pos) {
        pos = res[0];
        continue;
      }
      // The next record did not fit what is left of the buffer: make room, or, when the
      // buffer was empty already (a record longer than it), write it on its own.
      if (this.file.buffered() > 0) {
        this.file.flush();
        continue;
      }
      const start = pos + 2;
      pos = start + body.readUInt16BE(pos);
      this.writeRange(body, start, pos);
    }
  }

  flush(): void {
    this.file.flush();
  }

  close(): void {
    this.file.close();
  }
}
