// Every capture of tcpdump's test suite through the packets output: no exception on
// any of its malformed, truncated and exotic packets, and no raw address the decoder
// located survives in the rewritten record. "Survives" means the address's bytes were
// copied through: found at the same place in the output as somewhere in the input.
// A plain byte search also finds chance spellings of short addresses in rewritten
// bytes (127.0.0.1 as a checksum's low byte, urgent pointer 0 and a NOP), which are
// not leaks; neither policy below moves bytes, so places line up.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePacket, Layer, PacketView } from '../../firmware/decode';
import { PacketRewriter } from '../../firmware/analysis/builtin/packets/rewriter';
import { corpusFiles } from '../lib/corpusFiles';
import { fieldsWith, testPrimitives } from '../lib/packets-rewrite';
import { readCaptureFile } from '../lib/readCaptureFile';

/** Addresses made of one repeated byte (0.0.0.0, 1.1.1.1, ::) also spell padding and NOP runs. */
function distinctive(buf: Buffer, off: number, len: number): boolean {
  for (let i = 1; i < len; i++) if (buf[off + i] !== buf[off]) return true;
  return false;
}

/** Whether `addr` sits in `out` at a place where the input (starting at inOff) holds it too. */
function copiedThrough(out: Buffer, input: Buffer, inOff: number, addr: Buffer): boolean {
  for (let k = out.indexOf(addr); k >= 0; k = out.indexOf(addr, k + 1)) {
    if (input.compare(addr, 0, addr.length, inOff + k, inOff + k + addr.length) === 0) return true;
  }
  return false;
}

function rawAddresses(v: PacketView, buf: Buffer): Buffer[] {
  const found: Buffer[] = [];
  const add = (off: number, len: number): void => {
    if (off >= 0 && off + len <= v.end && distinctive(buf, off, len)) found.push(buf.subarray(off, off + len));
  };
  for (let i = 0; i < v.depth; i++) {
    if (v.kind[i] === Layer.IPV4 && v.off[i] + 20 <= v.end) { add(v.off[i] + 12, 4); add(v.off[i] + 16, 4); }
    if (v.kind[i] === Layer.IPV6 && v.off[i] + 40 <= v.end) { add(v.off[i] + 8, 16); add(v.off[i] + 24, 16); }
  }
  if (v.arpPln === 4) { add(v.arpSpaOff, 4); add(v.arpTpaOff, 4); }
  add(v.ndTargetOff, 16);
  add(v.ndRedirectDstOff, 16);
  return found;
}

for (const [name, overrides] of [
  ['default policy', {}],
  ['payload zeroed, options kept', { payload: 'zero', 'ip4.options': 'keep', 'ip6.options': 'keep', 'tcp.options.unknown': 'keep' }],
] as const) {
  test(`rewrites every corpus packet without an exception and without a located raw address (${name})`, () => {
    const rw = new PacketRewriter(testPrimitives(), fieldsWith(overrides as Record<string, unknown>));
    const v = new PacketView();
    let packets = 0;
    let checked = 0;
    const leaks: string[] = [];
    for (const file of corpusFiles()) {
      const cap = readCaptureFile(file);
      for (let i = 0; i < cap.packets.length; i++) {
        const p = cap.packets[i];
        decodePacket(p.linkType, p.data, p.off, p.caplen, p.origLen, v);
        const n = rw.rewrite(v, p.data, p.tsUs);
        packets++;
        const out = rw.out.subarray(16, n);
        assert.is(rw.out.readUInt32LE(8), n - 16);
        for (const a of rawAddresses(v, p.data)) {
          checked++;
          if (copiedThrough(out, p.data, p.off, a)) leaks.push(`${file.split('/').pop()} packet ${i + 1}`);
        }
      }
    }
    assert.ok(packets > 5000, `only ${packets} packets`);
    assert.ok(checked > 3000, `only ${checked} addresses checked`);
    assert.equal(leaks.slice(0, 10), [], `${leaks.length} packets keep a raw address`);
  });
}

test.run();
