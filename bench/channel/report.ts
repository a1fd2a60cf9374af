// The table and verdicts of the channel benchmark, from the JSON each step saved in DIR:
// paced.json, writer-<i>.json, check-<i>.json, peer-<i>.json.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { flowPool, FlowPool, ndjsonBytes } from './feed';
import { flowLineBytesWithoutDeflate } from './reframe';
import { encodeFlow } from '../../firmware/channel/result-codec';
import type { PacedRun } from './paced-run';
import type { PeerRun, WriterRun } from './pipe-run';
import type { LineCheck } from './check-line';

const EFFICIENCY_TARGET = 0.95;
const WRITER_TARGET_MBS = 50;

function load<T>(dir: string, name: string): T | null {
  const f = path.join(dir, name);
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as T) : null;
}

const f2 = (x: number): string => x.toFixed(2);
const f3 = (x: number): string => x.toFixed(3);
const mbs = (bytes: number, s: number): number => bytes / s / 1e6;

/** Bytes of the compact bodies (result-codec.ts) of records 0..count-1, JSON where the form does not apply. */
function compactBytes(pool: FlowPool, count: number): number {
  const n = pool.flows.length;
  const sizes = pool.flows.map((f, i) => encodeFlow(f)?.length ?? pool.bytes[i]);
  let total = 0;
  for (let k = 0; k < count; k++) total += sizes[k % n];
  return total;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Prints the report of each mode ("clear", "encrypted"); returns 0 measured, 3 a line did not arrive intact. */
export function report(dir: string, modes: string[], poolSize: number, seed: number): number {
  const pool = flowPool(poolSize, seed);
  let status = 0;
  for (const mode of modes) {
    console.log(`== ${MODE_TITLES[mode] ?? mode} ==`);
    status = Math.max(status, reportMode(dir, mode, pool));
  }
  if (repairFramesSeen > 0) console.log('FEC: only the fec mode has repair frames; clear and encrypted are without FEC.');
  else if (repairFramesSeen === 0) console.log('FEC: the writer sent no repair frames on the tty in the fec mode: every figure is without FEC.');
  else if (repairFramesSeen < 0) console.log('Every figure is without FEC (BENCH_MODES had no fec mode).');
  return status;
}

const MODE_TITLES: Record<string, string> = {
  clear: 'clear, without FEC',
  encrypted: 'encrypted to a researcher key (XChaCha20-Poly1305 per frame, BOOT and CHECKPOINT clear), without FEC',
  fec: 'clear, FEC as the writer does it on a tty by default (framing only)',
};

/** Repair frames that arrived in the fec mode's framing run; -1 if it did not run. */
let repairFramesSeen = -1;

/** A line that should be encrypted but had no frame to open was not measured as asked. */
function encryptionWrong(mode: string, c: LineCheck): string | null {
  if (mode === 'encrypted' && c.decrypted === 0) return 'no frame was encrypted';
  if (mode !== 'encrypted' && c.decrypted > 0) return 'frames were encrypted';
  return null;
}

function reportMode(dir: string, mode: string, pool: FlowPool): number {
  let status = 0;
  const paced = load<PacedRun>(dir, `${mode}-paced.json`);
  if (paced) {
    const perRecord = paced.lineBytes / paced.records;
    const nd = ndjsonBytes(pool, paced.records);
    const ndPerRecord = nd / paced.records;
    const eff = paced.payloadBytes / paced.lineBytes;
    const lineRate = paced.baud / 10;
    const rec = paced.received;
    if (rec === null) throw new Error(`${mode}-paced.json has no reading of its line: the framing step reads its pty`);
    // Counted on the wire: repair frames carry no records for the decoder to count.
    const repair = rec.wireFrames?.FEC ?? 0;
    if (mode === 'fec') repairFramesSeen = repair;
    const withFec = repair > 0;
    const wrong = encryptionWrong(mode, rec);
    if (wrong) rec.why.push(wrong), (rec.ok = false);
    console.log(`framing: ${paced.records} flows on a paced ${paced.baud}-baud pty line for ${f2(paced.seconds)} s (${paced.frames} frames: ${JSON.stringify(paced.recordsSent)})`);
    console.log(`  payload (flow JSON)       ${paced.payloadBytes} bytes, ${f2(paced.payloadBytes / paced.records)} per flow`);
    console.log(`  sealtap line bytes        ${paced.lineBytes} bytes, ${f2(perRecord)} per flow (frames, BOOT, CHECKPOINT, END included)`);
    console.log(`  peer: newline JSON        ${nd} bytes, ${f2(ndPerRecord)} per flow`);
    const compact = compactBytes(pool, paced.records);
    console.log(`  flow JSON per line byte: sealtap ${f3(eff)}${withFec ? ` (with ${repair} repair frames)` : ''}, newline JSON ${f3(paced.payloadBytes / nd)} (encoding and deflate included: not the framing target, which is below)`);
    console.log(`  compact flow bodies (${f2(compact / paced.records)} bytes per flow) per line byte: ${f3(compact / paced.lineBytes)} (deflate included)`);
    const wire = rec.wireBytes ?? {};
    console.log(`  line bytes by frame type: ${Object.entries(wire).map(([k, v]) => `${k} ${v} (${f2((100 * v) / paced.lineBytes)}%)`).join(', ')}`);
    if (wire.FLOW !== undefined && mode === 'clear') {
      const plain = flowLineBytesWithoutDeflate(pool, paced.records);
      const plainLine = paced.lineBytes - wire.FLOW + plain.bytes;
      console.log(`  framing efficiency, the frame format alone (same flows as JSON bodies, framed by frame.ts without the compact form or deflate: ${plain.frames} frames, same BOOT/CHECKPOINT/END bytes): line ${plainLine} bytes, payload/line ${f3(paced.payloadBytes / plainLine)} (target >= ${EFFICIENCY_TARGET} without FEC: ${paced.payloadBytes / plainLine >= EFFICIENCY_TARGET ? 'ok' : 'MISSED'})`);
    }
    console.log(`  line bytes per flow sealtap/newline-JSON ${f3(perRecord / ndPerRecord)}x`);
    console.log(`  flows/s at ${paced.baud} baud (${lineRate} bytes/s / line bytes per flow): sealtap ${Math.floor(lineRate / perRecord)}, newline JSON ${Math.floor(lineRate / ndPerRecord)}; measured on the paced line ${Math.floor(paced.records / paced.seconds)} flows/s, ${Math.floor(paced.lineBytes / paced.seconds)} bytes/s`);
    console.log(`  received: ${rec.flows} flows, ${rec.decrypted} frames decrypted, ${rec.mismatched} differing, ${rec.badFrames} bad frames, ${rec.missingFrames} missing frames, ${rec.checkpointsVerified} checkpoints verified, ${rec.checkpointsFailed} failed: ${rec.ok ? 'intact' : 'WRONG: ' + rec.why.join('; ')}`);
    if (!rec.ok) status = 3;
  }
  const rows: Array<{ w: WriterRun; p: PeerRun | null; c: LineCheck | null }> = [];
  for (let i = 1; ; i++) {
    const w = load<WriterRun>(dir, `${mode}-writer-${i}.json`);
    if (!w) break;
    const c = load<LineCheck>(dir, `${mode}-check-${i}.json`);
    const wrong = c && encryptionWrong(mode, c);
    if (c && wrong) c.why.push(wrong), (c.ok = false);
    rows.push({ w, p: load<PeerRun>(dir, `${mode}-peer-${i}.json`), c });
  }
  if (rows.length > 0) {
    const w0 = rows[0].w;
    console.log(`writer into a pipe: ${w0.records} flows per run, ${rows.length} run(s), compact flow bodies, frames not deflated (the writer's default off a tty); MB = 10^6 bytes; peer = the same line bytes written from memory in 64 KiB writes into the same kind of FIFO, same reader (cat)`);
    console.log('  line MB/s: line bytes / wall time from open to close; MB/cpu-s: line bytes per CPU-second of the writer process (all threads), which a busy machine moves less');
    console.log(`  ${'run'.padEnd(4)} ${'line MB'.padStart(8)} ${'seconds'.padStart(8)} ${'line MB/s'.padStart(10)} ${'JSON MB/s'.padStart(10)} ${'flows/s'.padStart(9)} ${'cpu-s'.padStart(6)} ${'MB/cpu-s'.padStart(9)} ${'peer MB/s'.padStart(10)} ${'sealtap/peer'.padStart(13)}  received`);
    const line: number[] = [];
    const json: number[] = [];
    const ratio: number[] = [];
    const perCpu: number[] = [];
    rows.forEach(({ w, p, c }, i) => {
      const l = mbs(w.lineBytes, w.seconds);
      const j = mbs(w.payloadBytes, w.seconds);
      const pm = p ? mbs(p.lineBytes, p.seconds) : NaN;
      line.push(l);
      json.push(j);
      perCpu.push(w.lineBytes / 1e6 / w.cpuSeconds);
      if (p) ratio.push(l / pm);
      const ok = c ? (c.ok ? `intact (${c.flows} flows, ${c.frames} frames${c.decrypted ? `, ${c.decrypted} decrypted` : ''}, ${c.checkpointsVerified} checkpoints verified)` : 'WRONG: ' + c.why.join('; ')) : 'not checked';
      if (!c || !c.ok) status = 3;
      if (w.dropped && Object.keys(w.dropped).length > 0) status = 3;
      console.log(`  ${String(i + 1).padEnd(4)} ${f2(w.lineBytes / 1e6).padStart(8)} ${f2(w.seconds).padStart(8)} ${f2(l).padStart(10)} ${f2(j).padStart(10)} ${String(Math.floor(w.records / w.seconds)).padStart(9)} ${f2(w.cpuSeconds).padStart(6)} ${f2(w.lineBytes / 1e6 / w.cpuSeconds).padStart(9)} ${(p ? f2(pm) : '-').padStart(10)} ${(p ? f3(l / pm) : '-').padStart(13)}  ${ok}`);
    });
    const ml = median(line);
    console.log(`  median: line ${f2(ml)} MB/s (target >= ${WRITER_TARGET_MBS}: ${ml >= WRITER_TARGET_MBS ? 'ok' : 'MISSED'}), flow JSON ${f2(median(json))} MB/s, line ${f2(median(perCpu))} MB per writer CPU-second, sealtap/peer ${ratio.length ? f3(median(ratio)) : '-'}x; line bytes per flow ${f2(w0.lineBytes / w0.records)}`);
  }
  return status;
}
