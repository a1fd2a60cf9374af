// Decodes what reached the far end of the line with the real receiver decoder and checks
// that every flow arrived intact and in order: a fast writer whose output is wrong
// measures nothing.
import * as fs from 'node:fs';
import { LineDecoder, RecordSink } from '../../firmware/receiver/decoder';
import { ResultsKey } from '../../firmware/channel/frame-seal';
import { BlockSplitter } from '../../firmware/receiver/splitter';
import { decodeFrame } from '../../firmware/channel/frame';
import { RecordType, recordTypeName } from '../../firmware/channel/records';
import { FlowPool } from './feed';

export interface LineCheck {
  flows: number;
  /** Flows whose JSON differs from what was sent at that position. */
  mismatched: number;
  sessions: number;
  frames: number;
  badFrames: number;
  missingFrames: number;
  badRecords: number;
  checkpointsVerified: number;
  checkpointsFailed: number;
  /** Frames carried encrypted that this checker could not open (no key, or failed authentication). */
  encryptedUnread: number;
  /** Encrypted frames opened with the session key (0 on a line sent in the clear). */
  decrypted: number;
  /** Records per type the box's END says it sent. */
  endRecords: Record<string, number> | null;
  records: Record<string, number>;
  /** Line bytes per frame type (each frame with its delimiter), when counted. */
  wireBytes: Record<string, number> | null;
  /** Frames on the line per frame type, when counted. */
  wireFrames: Record<string, number> | null;
  ok: boolean;
  why: string[];
}

export class LineChecker {
  private readonly decoder: LineDecoder;
  private flows = 0;
  private mismatched = 0;
  /** A second splitter that only measures frames: the decoder does not expose its blocks. */
  private readonly measure: BlockSplitter | null;
  private readonly wireBytes: Record<string, number> = {};
  private readonly wireFrames: Record<string, number> = {};

  constructor(private readonly pool: FlowPool, o: { countWireBytes?: boolean; resultsKey?: ResultsKey | null } = {}) {
    this.measure = o.countWireBytes
      ? new BlockSplitter((b) => {
        const f = decodeFrame(b);
        const name = typeof f === 'string' ? 'bad' : recordTypeName[f.type];
        this.wireBytes[name] = (this.wireBytes[name] ?? 0) + b.length + 1;
        this.wireFrames[name] = (this.wireFrames[name] ?? 0) + 1;
      })
      : null;
    const n = pool.json.length;
    const ignore = (): void => undefined;
    const sink: RecordSink = {
      boot: ignore, status: ignore, log: ignore, packet: ignore, end: ignore, sessionClosed: ignore,
      result: (_s, type, body) => {
        if (type !== RecordType.FLOW) return;
        // JSON.parse keeps key order, so the re-encoded text equals the sent text if intact.
        if (JSON.stringify(body) !== this.pool.json[this.flows % n]) this.mismatched++;
        this.flows++;
      },
    };
    this.decoder = new LineDecoder(sink, { resultsKey: o.resultsKey ?? null });
  }

  push(chunk: Uint8Array): void {
    this.decoder.push(chunk);
    this.measure?.push(chunk);
  }

  pushFile(file: string): void {
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.allocUnsafe(1 << 20);
    try {
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        this.push(buf.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Ends the input and compares what arrived with `sent` flows. */
  finish(sent: number): LineCheck {
    const d = this.decoder;
    d.finish();
    const sessions = [...d.sessions.values()];
    const s = sessions[0];
    const why: string[] = [];
    const r: LineCheck = {
      flows: this.flows,
      mismatched: this.mismatched,
      sessions: sessions.length,
      frames: s?.frames ?? 0,
      badFrames: d.totalBadFrames(),
      missingFrames: s?.seq.missing ?? 0,
      badRecords: s?.badRecords ?? 0,
      checkpointsVerified: s?.checkpoints.verified ?? 0,
      checkpointsFailed: s?.checkpoints.failed ?? 0,
      encryptedUnread: s?.encryptedFrames ?? 0,
      decrypted: s?.decryptedFrames ?? 0,
      endRecords: s?.end?.records ?? null,
      records: { ...(s?.records ?? {}) },
      wireBytes: null,
      wireFrames: null,
      ok: false,
      why,
    };
    if (sessions.length !== 1) why.push(`${sessions.length} sessions on the line, expected 1`);
    if (r.flows !== sent) why.push(`${r.flows} flows decoded, ${sent} sent`);
    if (r.mismatched) why.push(`${r.mismatched} flows differ from what was sent`);
    if (r.badFrames) why.push(`${r.badFrames} bad frames`);
    if (r.missingFrames) why.push(`${r.missingFrames} missing frames`);
    if (r.badRecords) why.push(`${r.badRecords} bad records`);
    if (r.encryptedUnread) why.push(`${r.encryptedUnread} encrypted frames could not be opened`);
    if (r.checkpointsFailed) why.push(`${r.checkpointsFailed} checkpoints failed`);
    if (!s?.end) why.push('no END record');
    else if (JSON.stringify(sortKeys(r.endRecords ?? {})) !== JSON.stringify(sortKeys(r.records))) {
      why.push(`records per type ${JSON.stringify(r.records)} differ from END ${JSON.stringify(r.endRecords)}`);
    }
    if (this.measure) {
      let framed = 0;
      for (const v of Object.values(this.wireBytes)) framed += v;
      // The leading delimiter (and anything before the first one) belongs to no frame.
      r.wireBytes = { ...this.wireBytes, other: d.bytesRead - framed };
      r.wireFrames = { ...this.wireFrames };
    }
    r.ok = why.length === 0;
    return r;
  }
}

/** Counts per type in a stable order, FEC left out: repair frames carry no records, and what they count is the FEC tests' business. */
function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'FEC').sort(([a], [b]) => a.localeCompare(b)));
}
