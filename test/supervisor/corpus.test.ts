// Every file of tcpdump's test corpus (many deliberately malformed, many link types)
// through the whole pipeline: capture, sealed spool, analysis with all three outputs,
// the line, and the receiver. Nothing may crash; per-file counters must add up; the
// received files must carry no raw address of the input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusFiles } from '../lib/corpusFiles';
import { readCaptureFile } from '../lib/readCaptureFile';
import { runBox } from '../lib/run-box';
import { fixedMaster } from '../lib/fixed-keyring';
import { Keyring } from '../../firmware/keys/keyring';
import { receive } from '../../firmware/receiver/receive';
import { PacketView } from '../../firmware/decode/packetView';
import { decodePacket } from '../../firmware/decode/decode';
import { Layer } from '../../firmware/decode/constants';
import { formatIPv4, formatIPv6 } from '../../firmware/anonymize/ip-text';

// One run at a time: each run's capture thread loads node-pcap, an addon that is not
// context-aware, and two threads loading it at once fail with "did not self-register".
// The box never runs two captures in one process; only an in-process test could.
const CONCURRENCY = 1;

interface FileResult { file: string; problems: string[] }

/** Raw addresses of a capture (IP headers at every depth and ARP), as bytes and text. */
function rawAddresses(file: string): { bytes: Buffer[]; text: Set<string> } {
  const cap = readCaptureFile(file);
  const v = new PacketView();
  const bytes = new Map<string, Buffer>();
  const add = (b: Buffer, off: number, len: number): void => {
    if (off < 0 || off + len > b.length) return;
    const a = Buffer.from(b.subarray(off, off + len));
    if (a.every((x) => x === 0) || a.every((x) => x === 0xff)) return; // unspecified/broadcast say nothing
    bytes.set(a.toString('hex'), a);
  };
  for (const p of cap.packets) {
    decodePacket(p.linkType, p.data, 0, p.data.length, p.origLen, v);
    for (let i = 0; i < v.depth; i++) {
      if (v.kind[i] === Layer.IPV4) { add(p.data, v.off[i] + 12, 4); add(p.data, v.off[i] + 16, 4); }
      if (v.kind[i] === Layer.IPV6) { add(p.data, v.off[i] + 8, 16); add(p.data, v.off[i] + 24, 16); }
    }
    if (v.arpPln === 4) { add(p.data, v.arpSpaOff, 4); add(p.data, v.arpTpaOff, 4); }
  }
  const text = new Set<string>();
  for (const b of bytes.values()) text.add(b.length === 4 ? formatIPv4(b.readUInt32BE(0)) : formatIPv6(b, 0));
  return { bytes: [...bytes.values()], text };
}

async function throughPipeline(file: string): Promise<FileResult> {
  const problems: string[] = [];
  const run = await runBox({
    config: {
      source: { pcap: file },
      spool: { bytes: 2 * 262144, segmentBytes: 262144 },
      outputs: ['flows', 'packets', 'dns'],
      status: { everySeconds: 5 },
    },
    hooks: { keyring: () => Keyring.debugFromBytes(fixedMaster(0x21)) },
  });
  if (run.code !== 0) problems.push(`exit ${run.code}: ${run.console.slice(-3).join(' | ')}`);
  const out = path.join(run.dir, 'out');
  const s = await receive({ input: run.linePath, out, print: () => {} }) as unknown as Record<string, any>;
  const end = s.sessions?.[0]?.end ?? {};
  if (!s.complete) problems.push('no END record');
  if (s.badFrames !== 0 || s.missingFrames !== 0) problems.push(`line damaged: ${s.badFrames} bad, ${s.missingFrames} missing`);
  if (s.spoolDropped !== 0) problems.push(`spool dropped ${s.spoolDropped}`);
  if (end.spoolAuthFailures !== 0) problems.push(`auth failures ${end.spoolAuthFailures}`);
  if (s.analysed + s.quarantined !== s.captured) problems.push(`captured ${s.captured} != analysed ${s.analysed} + quarantined ${s.quarantined}`);
  if (end.analysisRestarts !== 0) problems.push(`analysis restarted ${end.analysisRestarts} times`);
  const cap = readCaptureFile(file);
  if (cap.error === null && s.captured !== cap.packets.length) problems.push(`captured ${s.captured}, the file holds ${cap.packets.length}`);
  if ((s.records.PACKET ?? 0) + (end.egressRefused ?? 0) < s.analysed) problems.push(`only ${s.records.PACKET ?? 0} PACKET records for ${s.analysed} packets`);

  const raw = rawAddresses(file);
  for (const name of ['flows.jsonl', 'dns.jsonl', 'log.txt']) {
    const text = fs.readFileSync(path.join(out, name), 'utf8');
    for (const token of text.match(/[0-9a-f:.]{3,45}/g) ?? []) if (raw.text.has(token)) problems.push(`${name} carries raw address ${token}`);
  }
  const trace = fs.readFileSync(path.join(out, 'trace.pcap'));
  for (const b of raw.bytes) if (trace.indexOf(b, 24) >= 0) problems.push(`trace.pcap carries raw address bytes ${b.toString('hex')}`);
  fs.rmSync(run.dir, { recursive: true, force: true });
  return { file: path.basename(file), problems };
}

test('every corpus file goes through the whole pipeline with sane counters and no raw address out', async () => {
  const files = corpusFiles();
  assert.ok(files.length > 500, `corpus has ${files.length} files`);
  const results: FileResult[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < files.length) {
      const f = files[next++];
      results.push(await throughPipeline(f));
    }
  }));
  const bad = results.filter((r) => r.problems.length > 0);
  assert.is(results.length, files.length);
  assert.equal(bad.map((r) => `${r.file}: ${r.problems.slice(0, 3).join('; ')}`), []);
});

test.run();
