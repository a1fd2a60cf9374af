// The run over time, one sample per STATUS record: the box's counters as STATUS carried
// them, and what had arrived on the line by then (bytes, records per type). Time is the
// box's uptime, so a recording read at disk speed draws the same curves as the live
// line did. The live view takes its rates from the last two samples; report.html draws
// every sample. Bounded: past MAX_SAMPLES every other sample is dropped (a week at one
// STATUS a second keeps a point every few minutes).
import type { StatusRecord } from '../channel/records';
import type { SessionState } from './session';

export const MAX_SAMPLES = 4096;

export interface Sample {
  /** Index of the session (order of first frame) the STATUS came from. */
  session: number;
  /** The box's uptime at the STATUS, ms. */
  uptimeMs: number;
  /** Run time since capture started, ms (STATUS elapsedMs; null from a box that does not send it). */
  elapsedMs: number | null;
  state: string;
  captured: number;
  capturedBytes: number | null;
  analysed: number;
  kernelDropped: number;
  spoolDropped: number;
  quarantined: number;
  outboxDropped: number | null;
  egressRefused: number | null;
  spoolFill: number;
  channelBacklogBytes: number;
  /** Packets on the spool not yet analysed: captured − spool dropped − analysed − quarantined. */
  analysisLag: number;
  /** Bytes read from the line when this STATUS arrived. */
  lineBytes: number;
  /** Records received of each type when this STATUS arrived (this session). */
  records: Record<string, number>;
}

export class RunTimeline {
  readonly samples: Sample[] = [];
  private readonly sessionIndex = new Map<string, number>();

  /** Adds the STATUS `st` of session `s`, with `lineBytes` read so far; null if a counter is not a number. */
  add(s: SessionState, st: StatusRecord, lineBytes: number): Sample | null {
    const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : NaN);
    const opt = (v: unknown): number | null => (v === undefined ? null : n(v));
    let idx = this.sessionIndex.get(s.id);
    if (idx === undefined) {
      idx = this.sessionIndex.size;
      this.sessionIndex.set(s.id, idx);
    }
    const sample: Sample = {
      session: idx,
      uptimeMs: n(st.uptimeMs),
      elapsedMs: opt(st.elapsedMs),
      state: typeof st.state === 'string' ? st.state.slice(0, 32) : '?',
      captured: n(st.captured),
      capturedBytes: opt(st.capturedBytes),
      analysed: n(st.analysed),
      kernelDropped: n(st.kernelDropped),
      spoolDropped: n(st.spoolDropped),
      quarantined: n(st.quarantined),
      outboxDropped: opt(st.outboxDropped),
      egressRefused: opt(st.egressRefused),
      spoolFill: n(st.spoolFill),
      channelBacklogBytes: n(st.channelBacklogBytes),
      analysisLag: 0,
      lineBytes,
      records: { ...s.records },
    };
    sample.analysisLag = Math.max(0, sample.captured - sample.spoolDropped - sample.analysed - sample.quarantined);
    // A STATUS whose counters are not numbers is not drawn (the live view says "no STATUS").
    if (Object.values(sample).some((v) => typeof v === 'number' && Number.isNaN(v))) return null;
    if (sample.elapsedMs !== null && Number.isNaN(sample.elapsedMs)) return null;
    this.keep(sample);
    return sample;
  }

  /** The last two samples of session `id`, newest last (either null if there are none). */
  lastTwo(id: string): [Sample | null, Sample | null] {
    const idx = this.sessionIndex.get(id);
    let b: Sample | null = null;
    for (let i = this.samples.length - 1; i >= 0 && idx !== undefined; i--) {
      const x = this.samples[i];
      if (x.session !== idx) continue;
      if (b) return [x, b];
      b = x;
    }
    return [null, b];
  }

  private keep(sample: Sample): void {
    this.samples.push(sample);
    if (this.samples.length <= MAX_SAMPLES) return;
    // Every other sample goes; the newest stays (the live view's rates need it).
    const kept = this.samples.filter((_, i) => i % 2 === 0 || i === this.samples.length - 1);
    this.samples.length = 0;
    this.samples.push(...kept);
  }
}
