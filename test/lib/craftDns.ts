// DNS messages for the test packet builder (RFC 1035 wire format, no compression unless
// a test writes the pointers itself).

/** A name in wire format: length-prefixed labels and the root label. */
export function dnsName(name: string): Buffer {
  const labels = name.split('.').filter((l) => l.length > 0);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

export interface DnsMessageOptions {
  id: number;
  response?: boolean;
  opcode?: number;
  rcode?: number;
  rd?: boolean;
  /** Questions; `rawName` replaces the encoded name (for crafted malformed names). */
  questions?: { name?: string; rawName?: Buffer; type?: number; class?: number }[];
  /** Answer records; each answers with its name written as a pointer to the first question. */
  answers?: { type?: number; ttl?: number; data: Buffer }[];
}

export function dnsMessage(o: DnsMessageOptions): Buffer {
  const questions = o.questions ?? [];
  const answers = o.answers ?? [];
  const h = Buffer.alloc(12);
  h.writeUInt16BE(o.id, 0);
  h[2] = (o.response ? 0x80 : 0) | ((o.opcode ?? 0) << 3) | (o.rd === false ? 0 : 1);
  h[3] = o.rcode ?? 0;
  h.writeUInt16BE(questions.length, 4);
  h.writeUInt16BE(answers.length, 6);
  const parts: Buffer[] = [h];
  for (const q of questions) {
    const tail = Buffer.alloc(4);
    tail.writeUInt16BE(q.type ?? 1, 0);
    tail.writeUInt16BE(q.class ?? 1, 2);
    parts.push(q.rawName ?? dnsName(q.name ?? ''), tail);
  }
  for (const a of answers) {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(a.type ?? 1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(a.ttl ?? 60, 6);
    rr.writeUInt16BE(a.data.length, 10);
    parts.push(rr, a.data);
  }
  return Buffer.concat(parts);
}

/** DNS over TCP: the message behind its 2-byte length. */
export function dnsOverTcp(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length, 0);
  return Buffer.concat([len, msg]);
}
