// Feeds crafted packets through decodePacket into a FlowTable and collects the flows it
// emits as plain records (addresses in clear text: tests have no anonymizer to check).
import { decodePacket, LinkType, PacketView } from '../../firmware/decode';
import { FlowEnd, FlowTable, FlowTableOptions, formatFlow } from '../../firmware/analysis/builtin/flows';
import { FlowRecord } from '../../firmware/channel/records';

export const clearText = {
  addr(buf: Buffer, off: number, len: 4 | 16): string {
    if (len === 4) return Array.from(buf.subarray(off, off + 4)).join('.');
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(off + i).toString(16));
    return groups.join(':');
  },
  time: (us: number) => us,
};

export class FlowHarness {
  readonly out: FlowRecord[] = [];
  readonly raw: FlowEnd[] = [];
  readonly table: FlowTable;
  private readonly v = new PacketView();

  constructor(opts: FlowTableOptions = {}) {
    this.table = new FlowTable(opts, (f) => {
      this.raw.push(f);
      this.out.push(formatFlow(f, clearText));
    });
  }

  feed(tsUs: number, pkt: Buffer, linkType: number = LinkType.EN10MB): void {
    decodePacket(linkType, pkt, 0, pkt.length, pkt.length, this.v);
    this.table.onPacket(this.v, pkt, tsUs);
  }
}
