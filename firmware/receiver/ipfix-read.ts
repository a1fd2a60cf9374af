// Reads IPFIX messages (a file of concatenated messages, RFC 5655 style, or one UDP
// datagram) back into records keyed by information element name. Used to check what
// the receiver exports, and by anyone who wants flows.ipfix without a collector.
import { IE } from './ipfix';

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(IE).map(([k, v]) => [v, k]));

export interface IpfixContents {
  messages: number;
  records: Array<Record<string, number | string>>;
}

export function readIpfix(buf: Buffer): IpfixContents {
  const templates = new Map<string, Array<[number, number]>>();
  const out: IpfixContents = { messages: 0, records: [] };
  let o = 0;
  while (o < buf.length) {
    if (o + 16 > buf.length) throw new Error(`IPFIX message header cut at byte ${o}`);
    if (buf.readUInt16BE(o) !== 10) throw new Error(`IPFIX version ${buf.readUInt16BE(o)} at byte ${o}: not an IPFIX file`);
    const len = buf.readUInt16BE(o + 2);
    if (len < 16 || o + len > buf.length) throw new Error(`IPFIX message length ${len} at byte ${o} runs past the end`);
    const domain = buf.readUInt32BE(o + 12);
    let p = o + 16;
    while (p + 4 <= o + len) {
      const setId = buf.readUInt16BE(p);
      const setLen = buf.readUInt16BE(p + 2);
      if (setLen < 4 || p + setLen > o + len) throw new Error(`IPFIX set length ${setLen} at byte ${p} is wrong`);
      const end = p + setLen;
      if (setId === 2) {
        let q = p + 4;
        while (q + 4 <= end) {
          const id = buf.readUInt16BE(q);
          const n = buf.readUInt16BE(q + 2);
          q += 4;
          const fields: Array<[number, number]> = [];
          for (let i = 0; i < n; i++) {
            let ie = buf.readUInt16BE(q);
            const fl = buf.readUInt16BE(q + 2);
            q += 4;
            if (ie & 0x8000) { ie = 0x10000 | (ie & 0x7fff); q += 4; } // enterprise-specific: kept apart by the high bit
            fields.push([ie, fl]);
          }
          templates.set(`${domain}/${id}`, fields);
        }
      } else if (setId >= 256) {
        const fields = templates.get(`${domain}/${setId}`);
        if (!fields) throw new Error(`IPFIX data set ${setId} before its template`);
        const size = fields.reduce((n, [, l]) => n + l, 0);
        for (let q = p + 4; q + size <= end; q += size) out.records.push(decodeRecord(buf, q, fields));
      }
      p = end;
    }
    out.messages++;
    o += len;
  }
  return out;
}

function decodeRecord(buf: Buffer, at: number, fields: Array<[number, number]>): Record<string, number | string> {
  const r: Record<string, number | string> = {};
  let q = at;
  for (const [ie, len] of fields) {
    const name = NAMES[ie] ?? `ie${ie}`;
    const v = buf.subarray(q, q + len);
    if (ie === IE.sourceIPv4Address || ie === IE.destinationIPv4Address) r[name] = [...v].join('.');
    else if (ie === IE.sourceIPv6Address || ie === IE.destinationIPv6Address) r[name] = ipv6(v);
    else if (ie === IE.flowStartMicroseconds || ie === IE.flowEndMicroseconds) {
      const sec = v.readUInt32BE(0) - 2208988800;
      r[name] = sec * 1e6 + Math.round((v.readUInt32BE(4) * 1e6) / 2 ** 32);
    } else {
      let n = 0;
      for (const b of v) n = n * 256 + b;
      r[name] = n;
    }
    q += len;
  }
  return r;
}

function ipv6(v: Buffer): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(v.readUInt16BE(i).toString(16));
  return g.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}
