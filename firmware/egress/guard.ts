// The egress guard: the last gate before the results line. It knows every raw address
// and MAC seen during the run, as keyed hashes in libsodium secure memory, and refuses
// any outgoing record that carries one. It stands behind the policy: a correct policy
// never trips it; a faulty policy or a researcher's module that leaks is stopped and
// counted. It fails closed: a PACKET record it cannot check completely — a damaged
// record header, bytes the decoder cannot account for — is refused (packet-record.ts
// says exactly what passes).
//
// An anonymized address or MAC can, by chance, equal a raw one seen in the run; such a
// record is refused too. That costs a counted record, never a leak. The all-zero value
// of every width and the broadcast MAC are never refused (addresses.ts, namesNoHost):
// they name no host, "zero" writes them and the MAC permutation keeps broadcast as it
// is, so refusing them would refuse every zeroed field and every broadcast frame.
import { KeyUser, ValueHasher, namesNoHost } from '../analysis/addresses';
import { someAddressIn } from './address-text';
import { parseIPv4 } from '../anonymize/ip-text';
import { CheckedValues } from './checked-values';
import { KnownHashes } from './known-hashes';
import { someMacIn } from './mac-text';
import { PacketRecordCheck, PacketRefusal, RawValueTest } from './packet-record';
import { addon } from '../capture/addon';

/** Deeper than any record an analysis sends (flow and DNS records are flat). */
const maxJsonDepth = 8;
/** Byte strings in JSON records are at most this long: scanning them costs three hashes a byte. */
const maxJsonBytes = 4096;
/** Texts known to hold no address or MAC, at most (EgressGuard.plainTexts): emptied when full. */
const maxPlainTexts = 4096;
/** Only texts this short are kept there: names and words, not whole messages. */
const maxPlainTextLength = 64;

function isByteValue(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 255;
}

export class EgressGuard implements RawValueTest {
  private readonly known: KnownHashes;
  private readonly hasher: ValueHasher;
  private readonly checked = new CheckedValues();
  private readonly scratch = Buffer.alloc(8);
  /** The first four bytes of scratch: a whole-text dotted quad's bytes. */
  private readonly quad = this.scratch.subarray(0, 4);
  private readonly packet = new PacketRecordCheck();
  /** Why the last PACKET record was refused (PacketRefusal; packetRefusalNames names it), 0 when it passed. */
  lastRefusal = 0;
  /** Records refused so far, JSON and PACKET. */
  refused = 0;
  /** Times a PACKET check had to open the key (a value not in its cache). */
  keyOpens = 0;

  // Hashing needs the key open; opening it costs two mprotect calls, so it is opened
  // once per record, and for a packet only when a value is not in `checked`.
  private keyOpen = false;
  /** Set when rawAt met a value it could not hash because the key was closed. */
  private missed = false;
  private record: Buffer = this.scratch;
  private body: unknown = null;
  private readonly packetWithKey = (): boolean => {
    this.keyOpen = true;
    try {
      return this.packet.carriesRawValue(this.record, this);
    } finally {
      this.keyOpen = false;
    }
  };
  private readonly jsonWithKey = (): boolean => {
    this.keyOpen = true;
    try {
      return this.carriesRaw(this.body, 0);
    } finally {
      this.keyOpen = false;
    }
  };

  constructor(private readonly key: KeyUser, initialSlots = 1 << 12) {
    this.known = new KnownHashes(initialSlots);
    this.hasher = new ValueHasher(key);
  }

  /** Adds keyed hashes (8 bytes each) of raw addresses and MACs reported by the analysis. */
  learn(hashes: Uint8Array): void {
    this.known.addAll(Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength));
  }

  knownCount(): number {
    return this.known.count;
  }

  /** True when the address (4 or 16 bytes) was seen raw in this run. */
  isRaw(addr: Buffer): boolean {
    return this.key.use(() => this.withKeyOpen(addr, addr.length as 4 | 16));
  }

  /** True when the MAC (6 bytes) was seen raw in this run. */
  isRawMac(mac: Buffer): boolean {
    return this.key.use(() => this.withKeyOpen(mac, 6));
  }

  private withKeyOpen(b: Buffer, len: 4 | 6 | 16): boolean {
    const wasOpen = this.keyOpen;
    this.keyOpen = true;
    try {
      return this.rawAt(b, 0, len);
    } finally {
      this.keyOpen = wasOpen;
    }
  }

  /**
   * RawValueTest: the address (4, 16) or MAC (6) at buf[off..off+len) was seen raw.
   * With the key closed, a value not in `checked` sets `missed` and counts as not raw:
   * the caller checks again with the key open.
   */
  rawAt(buf: Buffer, off: number, len: 4 | 6 | 16): boolean {
    if (this.known.count === 0 || namesNoHost(buf, off, len)) return false;
    const slot = this.checked.find(buf, off, len);
    if (slot >= 0) {
      const size = this.known.count;
      if (this.checked.cleanAt(slot) === size) return false;
      if (this.known.has(this.checked.bytes, this.checked.hashAt(slot))) return true;
      this.checked.setCleanAt(slot, size);
      return false;
    }
    if (!this.keyOpen) {
      this.missed = true;
      return false;
    }
    const h = this.hasher.hash(buf, off, len);
    if (this.known.has(h, 0)) return true;
    // Not raw in the table as it is now: that verdict is cached with the value.
    this.checked.store(buf, off, len, h, this.known.count);
    return false;
  }

  /** Any 4-, 6- or 16-byte window of buf[from, to) was seen raw. */
  private rawInWindows(buf: Buffer, from: number, to: number): boolean {
    for (let i = from; i + 4 <= to; i++) {
      if (this.rawAt(buf, i, 4)) return true;
      if (i + 6 <= to && this.rawAt(buf, i, 6)) return true;
      if (i + 16 <= to && this.rawAt(buf, i, 16)) return true;
    }
    return false;
  }

  /**
   * True when a JSON record carries no raw address or MAC: not as a string or inside
   * one (address-text.ts, mac-text.ts), not as an object key, not as a list of byte
   * values (how a Buffer looks as JSON), and not as a number (an IPv4 address as 32
   * bits, a MAC as 48). Nested objects and lists are searched too; a record nested
   * deeper than any analysis record is refused.
   */
  passesJson(body: Record<string, unknown>): boolean {
    this.body = body;
    const carries = this.key.use(this.jsonWithKey);
    this.body = null;
    if (carries) this.refused++;
    return !carries;
  }

  private carriesRaw(v: unknown, depth: number): boolean {
    if (typeof v === 'string') return this.textCarriesRaw(v);
    if (typeof v === 'number') return Number.isInteger(v) && v >= 2 ** 24 && v < 2 ** 48 && this.numberIsRaw(v);
    if (typeof v !== 'object' || v === null) return false;
    if (depth >= maxJsonDepth) return true;
    if (v instanceof Uint8Array) return this.bytesCarryRaw(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    if (Array.isArray(v)) {
      if (v.length >= 4 && v.every(isByteValue)) return this.bytesCarryRaw(Buffer.from(v as number[]));
      return v.some((x) => this.carriesRaw(x, depth + 1));
    }
    for (const [k, x] of Object.entries(v)) {
      if (this.textCarriesRaw(k) || this.carriesRaw(x, depth + 1)) return true;
    }
    return false;
  }

  private textCarriesRaw(text: string): boolean {
    if (this.plainTexts.has(text)) return false;
    // Most texts of flow records are one address: a dotted quad and nothing else holds
    // exactly one candidate, itself, and no MAC (no ':' or '-', no 4-digit group, no
    // 12-digit run), so it is checked without the scans' parsing and regular expressions
    // (1,024 flow records at the end of a run took the guard 44 ms, in code run too few
    // times to be optimized).
    const v4 = parseIPv4(text);
    if (v4 >= 0) {
      this.quad.writeUInt32BE(v4, 0);
      return this.rawAddressTest(this.quad);
    }
    this.candidates = 0;
    if (someAddressIn(text, this.rawAddressTest) || someMacIn(text, this.rawMacTest)) return true;
    if (this.candidates === 0 && text.length <= maxPlainTextLength) {
      if (this.plainTexts.size >= maxPlainTexts) this.plainTexts.clear();
      this.plainTexts.add(text);
    }
    return false;
  }

  /**
   * Texts in which nothing could be read as an address or a MAC: the field names of
   * every record, "runEnd", "udp"... Whether a text holds a candidate at all is a matter
   * of its characters, not of what the guard has learned, so such a text stays clean
   * for the whole run and is not scanned again (five regular expressions each; the
   * names of 1,024 flow records were a quarter of the guard's time at the end of a run).
   * Texts with a candidate (an address, clean or not) are never kept here.
   */
  private readonly plainTexts = new Set<string>();
  /** Values the scans of the current text tried (rawAt calls). */
  private candidates = 0;
  private readonly rawAddressTest = (addr: Buffer): boolean => {
    this.candidates++;
    return this.rawAt(addr, 0, addr.length as 4 | 16);
  };
  private readonly rawMacTest = (mac: Buffer): boolean => {
    this.candidates++;
    return this.rawAt(mac, 0, 6);
  };

  /** An integer as an IPv4 address (when it fits 32 bits) and as a MAC. */
  private numberIsRaw(n: number): boolean {
    const s = this.scratch;
    if (n < 2 ** 32) {
      s.writeUInt32BE(n, 0);
      if (this.rawAt(s, 0, 4)) return true;
    }
    s.writeUIntBE(n, 0, 6);
    return this.rawAt(s, 0, 6);
  }

  /** Every 4-, 6- and 16-byte window of a byte string. */
  private bytesCarryRaw(b: Buffer): boolean {
    if (b.length > maxJsonBytes) return true;
    return this.rawInWindows(b, 0, b.length);
  }

  /**
   * True when an anonymized packet (a pcap record: 16-byte header, then caplen bytes)
   * can be checked completely and carries no raw address or MAC in its headers. See
   * packet-record.ts for what "completely" means; lastRefusal says why it failed.
   * Allocates nothing.
   */
  passesPacket(record: Buffer, linkType: number): boolean {
    return this.passesPacketAt(record, 0, record.length, linkType);
  }

  /** passesPacket() of the record in buf[start, end), among others in buf (a run as the analysis sent it). */
  passesPacketAt(buf: Buffer, start: number, end: number, linkType: number): boolean {
    let why = this.packet.decodeAt(buf, start, end, linkType);
    if (why === PacketRefusal.none && this.known.count > 0) {
      // First from the cache alone; with the key open only when a value was not in it.
      // The views hold offsets into buf, so the whole of buf goes with them.
      this.missed = false;
      let raw = this.packet.carriesRawValue(buf, this);
      if (!raw && this.missed) {
        this.keyOpens++;
        this.record = buf;
        raw = this.key.use(this.packetWithKey);
        this.record = this.scratch;
      }
      if (raw) why = PacketRefusal.rawValue;
    }
    this.lastRefusal = why;
    if (why !== PacketRefusal.none) this.refused++;
    return why === PacketRefusal.none;
  }

  /** Where the run checked by the last passesRunAt() stopped. */
  runEnd = 0;
  private readonly runResult = new Int32Array(2);

  /**
   * Passes up to `count` records of a run from buf[off] in one call into C (the capture
   * addon's guardRun), as long as each is the common record of the packets output: an
   * Ethernet frame of IPv4 or IPv6 (no extension header) carrying TCP or UDP, nothing
   * but zeros after that header, and MACs and addresses that each name no host or are
   * in the cache of checked values with a verdict for the table as it is now. Returns how
   * many it passed (runEnd: where they end); it stops at the first record that is not
   * all that, which the caller checks with passesPacketAt. It passes only what
   * passesPacketAt passes (test/egress/guard-run.test.ts), never refuses, opens no key.
   * In JavaScript, the decode and the four lookups of such a record were a fifth of the
   * supervisor's main thread on the packets output (docs/benchmarks.md).
   */
  passesRunAt(buf: Buffer, off: number, count: number, linkType: number): number {
    const r = this.runResult;
    addon().guardRun(buf, off, count, linkType, this.checked.entries, this.checked.shift, this.known.count, r);
    if (r[0] > 0) this.lastRefusal = PacketRefusal.none;
    this.runEnd = r[1];
    return r[0];
  }

  /** Wipes the table (at stop). */
  wipe(): void {
    this.known.wipe();
    this.checked.clear();
    this.plainTexts.clear();
  }
}
