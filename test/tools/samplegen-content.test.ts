import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_MARKER } from '../../tools/samplegen/generate';
import { readPcap } from '../lib/pcapfile';
import { generated } from '../lib/samplegen-files';
import { tsharkFields } from '../lib/tshark';

/** Bytes after the transport header (TCP, UDP, ICMP, ICMPv6 echo), or 0 for ARP and neighbour discovery. */
function dataBytes(f: Buffer): number {
  let type = f.readUInt16BE(12);
  let p = 14;
  if (type === 0x8100) {
    type = f.readUInt16BE(16);
    p = 18;
  }
  let proto: number;
  let end: number;
  if (type === 0x0800) {
    proto = f[p + 9];
    end = p + f.readUInt16BE(p + 2);
    p += (f[p] & 15) * 4;
  } else if (type === 0x86dd) {
    proto = f[p + 6];
    end = p + 40 + f.readUInt16BE(p + 4);
    p += 40;
  } else return 0;
  if (proto === 6) return end - p - (f[p + 12] >> 4) * 4;
  if (proto === 17) return end - p - 8;
  if (proto === 58 && (f[p] === 135 || f[p] === 136)) return 0;
  return end - p - 8;
}

test('every sample packet that carries data contains the marker', () => {
  const { file } = generated({ packets: 3000, ipv6: true });
  let withData = 0;
  for (const [i, r] of readPcap(file).records.entries()) {
    if (dataBytes(r.data) === 0) continue;
    withData++;
    assert.ok(r.data.includes(DEFAULT_MARKER), `packet ${i + 1} carries data without the marker`);
  }
  assert.ok(withData > 1000, `only ${withData} packets carry data`);
});

test('a custom marker replaces the default in every packet that carries data', () => {
  const marker = 'custom_marker.42';
  const { file } = generated({ packets: 1500, marker });
  for (const [i, r] of readPcap(file).records.entries()) {
    assert.not.ok(r.data.includes(DEFAULT_MARKER), `packet ${i + 1} still has the default marker`);
    if (dataBytes(r.data) > 0) assert.ok(r.data.includes(marker), `packet ${i + 1} lacks the custom marker`);
  }
});

test('imix payloads carry the marker in every frame large enough to hold it', () => {
  const { file } = generated({ kind: 'imix', packets: 1200 });
  for (const r of readPcap(file).records) {
    if (dataBytes(r.data) >= DEFAULT_MARKER.length) assert.ok(r.data.includes(DEFAULT_MARKER));
  }
});

test('addresses come only from documentation and private ranges', () => {
  for (const o of [{ ipv6: true }, { kind: 'imix' as const, packets: 5000, ipv6: true }]) {
    const { truth } = generated(o);
    for (const a of truth.addresses.ipv4) assert.match(a, /^(192\.0\.2|198\.51\.100|203\.0\.113|10)\./, a);
    for (const a of truth.addresses.ipv6) assert.match(a, /^(2001:db8:|fe80::)/, a);
    for (const m of truth.addresses.mac) assert.ok((parseInt(m.slice(0, 2), 16) & 2) === 2, `${m} is not locally administered`);
  }
});

// One tshark pass over the sample; each required item below is its own test.
const { file: sampleFile } = generated({ packets: 2000 });
const FIELDS = [
  'tcp.flags.syn', 'tcp.flags.fin', 'tcp.flags.reset', 'http.request.method', 'http.response.code', 'http.content_length',
  'tls.handshake.type', 'tls.handshake.extensions.supported_version', 'tcp.dstport', 'dns.qry.type', 'dns.flags.response',
  'dns.flags.rcode', 'dns.response_in', 'icmp.type', 'icmp.code', 'icmpv6.type', 'arp.opcode', 'vlan.id', 'ipv6.src', 'tcp.srcport',
];
const rows = tsharkFields(sampleFile, FIELDS);
function has(field: string, pred: (v: string, row: string[]) => boolean): number {
  const i = FIELDS.indexOf(field);
  return rows.filter((r) => r[i] !== '' && r[i].split(',').some((v) => pred(v, r))).length;
}
const col = (row: string[], field: string): string => row[FIELDS.indexOf(field)];

test('the sample has TCP handshakes, FIN teardowns and a reset', () => {
  assert.ok(has('tcp.flags.syn', (v) => v === '1' || v === 'True') > 0);
  assert.ok(has('tcp.flags.fin', (v) => v === '1' || v === 'True') > 0);
  assert.ok(has('tcp.flags.reset', (v) => v === '1' || v === 'True') > 0);
});

test('the sample has HTTP/1.1 GETs and 200 responses with a body', () => {
  assert.ok(has('http.request.method', (v) => v === 'GET') > 0);
  assert.ok(has('http.response.code', (v) => v === '200') > 0);
  assert.ok(has('http.content_length', (v) => Number(v) > 0) > 0);
});

test('the sample has a TLS 1.3 ClientHello and ServerHello on port 443', () => {
  assert.ok(has('tls.handshake.type', (v, r) => v === '1' && col(r, 'tcp.dstport') === '443') > 0);
  assert.ok(has('tls.handshake.type', (v, r) => v === '2' && col(r, 'tcp.srcport') === '443') > 0);
  assert.ok(has('tls.handshake.extensions.supported_version', (v) => v === '0x0304') > 0);
});

test('the sample has DNS A, AAAA and MX queries answered, one NXDOMAIN and unanswered queries', () => {
  for (const type of ['1', '28', '15']) assert.ok(has('dns.qry.type', (v, r) => v === type && col(r, 'dns.flags.response') === '1') > 0, `type ${type}`);
  assert.ok(has('dns.flags.rcode', (v) => v === '3') > 0);
  assert.ok(has('dns.flags.response', (v, r) => v === '0' && col(r, 'dns.response_in') === '') > 0);
});

test('DNS responses use compression pointers', () => {
  const recs = readPcap(sampleFile).records;
  const responses = recs.filter((r) => r.data.readUInt16BE(12) === 0x0800 && r.data[23] === 17 && r.data.readUInt16BE(34) === 53);
  assert.ok(responses.length > 0);
  for (const r of responses) {
    // The first record after the question names its owner with a pointer into the question.
    const dns = 14 + 20 + 8;
    let p = dns + 12;
    while (r.data[p] !== 0) p += r.data[p] + 1;
    p += 5;
    assert.is(r.data[p] & 0xc0, 0xc0, 'first record of a response does not use a compression pointer');
    const target = r.data.readUInt16BE(p) & 0x3fff;
    assert.ok(target >= 12 && target < p - dns, `pointer ${target} does not point into the question`);
  }
});

test('the sample has ICMP echo request and reply, and a port unreachable quoting UDP', () => {
  assert.ok(has('icmp.type', (v) => v === '8') > 0);
  assert.ok(has('icmp.type', (v) => v === '0') > 0);
  assert.ok(has('icmp.type', (v, r) => v === '3' && col(r, 'icmp.code') === '3') > 0);
});

test('the sample has IPv6: TCP, ICMPv6 echo, neighbour solicitation and advertisement', () => {
  assert.ok(has('ipv6.src', (_v, r) => col(r, 'tcp.dstport') !== '') > 0);
  for (const t of ['128', '129', '135', '136']) assert.ok(has('icmpv6.type', (v) => v === t) > 0, `ICMPv6 type ${t}`);
});

test('the sample has an ARP request and reply and an 802.1Q-tagged frame', () => {
  assert.ok(has('arp.opcode', (v) => v === '1') > 0);
  assert.ok(has('arp.opcode', (v) => v === '2') > 0);
  assert.ok(has('vlan.id', () => true) > 0);
});

test.run();
