// Cross-check with Wireshark's dissectors: on a selection of corpus captures (tunnels,
// ERSPAN, Geneve, VXLAN, MPLS, IPv6 AH, SLL, NULL, pcapng, nanosecond
// pcap), the innermost IP addresses and ports the decoder finds per packet equal what
// `tshark -T fields` prints for the same packet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { decodePacket, PacketView } from '../../firmware/decode';
import { corpusFile } from '../lib/corpusFiles';
import { readCaptureFile } from '../lib/readCaptureFile';

const files = [
  'OSPFv3_with_AH.pcap', 'bfd-multihop.pcap', 'bgp-lu-multiple-labels.pcap',
  'erspan-type-ii-3.pcap', 'erspan-type-iii-ft-7.pcap', 'erspan-type-i-1.pcap', 'geneve.pcap',
  'gso-ipv4-vxlan-ipv6.pcap', 'icmpv6.pcap', 'mptcp-v0.pcap', 'nhrp.pcapng', 'quic_vn.pcap',
  'resp_1_benchmark.pcap', 'tcp-handshake-nano.pcap',
];

const fields = ['frame.protocols', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport'];

/** Innermost "src>dst sport>dport" by tshark, ignoring what an ICMP error quotes. */
function tsharkInnermost(line: string): string {
  const [protos, ips, ipd, i6s, i6d, ts, td, us, ud] = line.split('|');
  const chain = protos.split(':');
  const quote = chain.findIndex((p) => p === 'icmp' || p === 'icmpv6');
  const own = quote < 0 ? chain : chain.slice(0, quote + 1);
  let last = -1;
  for (let k = own.length - 1; k >= 0; k--) if (own[k] === 'ip' || own[k] === 'ipv6') { last = k; break; }
  if (last < 0) return 'none';
  const nth = own.slice(0, last + 1).filter((p) => p === own[last]).length - 1;
  const pick = (s: string) => s.split(',')[nth];
  let out = own[last] === 'ip' ? `${pick(ips)}>${pick(ipd)}` : `${norm6(pick(i6s))}>${norm6(pick(i6d))}`;
  const upper = own[last + 1];
  // Ports of the innermost transport: tshark lists occurrences outermost first.
  if (upper === 'tcp' && ts) out += ` ${ts.split(',').at(-1)}>${td.split(',').at(-1)}`;
  if (upper === 'udp' && us) out += ` ${us.split(',').at(-1)}>${ud.split(',').at(-1)}`;
  return out;
}

function norm6(s: string): string {
  const [h, t] = s.includes('::') ? s.split('::') : [s, undefined];
  const head = h ? h.split(':') : [];
  const tail = t ? t.split(':') : [];
  const fill = t === undefined ? [] : Array(8 - head.length - tail.length).fill('0');
  return [...head, ...fill, ...tail].map((g) => parseInt(g, 16).toString(16)).join(':');
}

function addrText(buf: Buffer, off: number, len: number): string {
  if (len === 4) return Array.from(buf.subarray(off, off + 4)).join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(buf.readUInt16BE(off + i).toString(16));
  return g.join(':');
}

function ours(v: PacketView, buf: Buffer): string {
  if (v.ipOff < 0) return 'none';
  let out = `${addrText(buf, v.ipSrcOff, v.ipAddrLen)}>${addrText(buf, v.ipDstOff, v.ipAddrLen)}`;
  if ((v.ipProto === 6 || v.ipProto === 17) && v.srcPort >= 0) out += ` ${v.srcPort}>${v.dstPort}`;
  return out;
}

for (const name of files) {
  test(`innermost addresses and ports match tshark on ${name}`, () => {
    const file = corpusFile(name);
    const cap = readCaptureFile(file);
    assert.is(cap.error, null);
    const out = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const lines = out.split('\n').filter((l) => l.length > 0);
    assert.is(lines.length, cap.packets.length, 'tshark and the reader disagree on the packet count');
    const v = new PacketView();
    let withIp = 0;
    cap.packets.forEach((p, i) => {
      decodePacket(p.linkType, p.data, p.off, p.caplen, p.origLen, v);
      const got = ours(v, p.data);
      if (got !== 'none') withIp++;
      assert.is(got, tsharkInnermost(lines[i]), `${name} packet ${i + 1}`);
    });
    assert.ok(withIp > 0, `${name}: no IP packet compared`);
  });
}

test.run();
