// Core of the test packet builder: the layer interface, build(), addresses and checksums.
export interface CraftLayer {
  name: string;
  /** Value of an ethertype field announcing this layer. */
  ethertype?: number;
  /** Value of an IP protocol / next-header field announcing this layer. */
  ipProto?: number;
  /** Address family in a NULL/LOOP header. */
  family?: number;
  /** For IP layers: the pseudo-header addresses. */
  ip?: { version: 4 | 6; src: Buffer; dst: Buffer };
  encode(inner: Buffer, ctx: CraftContext): Buffer;
}

export interface CraftContext {
  next?: CraftLayer;
  /** Nearest IP layer before this one (for pseudo-header checksums). */
  ipAbove?: CraftLayer;
}

export function build(...layers: CraftLayer[]): Buffer {
  let inner: Buffer = Buffer.alloc(0);
  for (let i = layers.length - 1; i >= 0; i--) {
    let ipAbove: CraftLayer | undefined;
    for (let j = i - 1; j >= 0; j--) if (layers[j].ip) { ipAbove = layers[j]; break; }
    inner = layers[i].encode(inner, { next: layers[i + 1], ipAbove });
  }
  return inner;
}

// ---- addresses and checksums ----

export function ip4(s: string): Buffer {
  const parts = s.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !(n >= 0 && n <= 255))) throw new Error(`bad IPv4 address ${s}`);
  return Buffer.from(parts);
}

export function ip6(s: string): Buffer {
  const out = Buffer.alloc(16);
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  if (tail === undefined && h.length !== 8) throw new Error(`bad IPv6 address ${s}`);
  h.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  t.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 16 - (t.length - i) * 2));
  return out;
}

export function mac(s: string): Buffer {
  return Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
}

export function parseAddr(s: string | Buffer): Buffer {
  if (Buffer.isBuffer(s)) return s;
  return s.includes(':') ? ip6(s) : ip4(s);
}

/** Internet checksum (RFC 1071) of the concatenated buffers. */
export function inetChecksum(...bufs: Buffer[]): number {
  let sum = 0;
  const all = Buffer.concat(bufs);
  for (let i = 0; i + 1 < all.length; i += 2) sum += all.readUInt16BE(i);
  if (all.length & 1) sum += all[all.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function pseudoHeader(ctx: CraftContext, proto: number, len: number): Buffer {
  const ip = ctx.ipAbove?.ip;
  if (!ip) return Buffer.alloc(0);
  if (ip.version === 4) {
    const b = Buffer.alloc(12);
    ip.src.copy(b, 0);
    ip.dst.copy(b, 4);
    b[9] = proto;
    b.writeUInt16BE(len & 0xffff, 10);
    return b;
  }
  const b = Buffer.alloc(40);
  ip.src.copy(b, 0);
  ip.dst.copy(b, 16);
  b.writeUInt32BE(len, 32);
  b[39] = proto;
  return b;
}

