// What `receive --follow` shows about the run, as lines of text: the operator's view of
// the box (state, time, capture, analysis, drops, records) from its STATUS records, and
// of the line (bytes/s against the baud rate, frames, checkpoints) from here.
//
// Rates come from the last two STATUS samples (box time), so a recording read at disk
// speed shows the rates the box had. Once the session's END arrived the view stops
// counting: it shows END's final counters and the session's averages, and says it
// ended, however long the receiver keeps running. Every value from the line is shown
// escaped (escapeLineText) or as a number.
import type { EndRecord, ProcessUsage, StatusRecord } from '../channel/records';
import { escapeLineText } from './escape-text';
import type { LineDecoder } from './decoder';
import type { RunTimeline, Sample } from './run-timeline';
import type { SessionState } from './session';
import { missingDataFrames } from './summary';

/** Bits on the wire per byte on an 8N1 UART: start, 8 data, stop. */
const BITS_PER_BYTE = 10;

export class LiveView {
  /**
   * The block of a session whose END arrived, as first drawn then, per session id: it
   * is shown as it was from then on (repair frames that follow END change nothing).
   */
  private readonly ended = new Map<string, string[]>();
  private readonly meter: Array<{ ms: number; bytes: number }> = [];

  constructor(
    private readonly d: LineDecoder,
    private readonly timeline: RunTimeline,
    /** The receiver's --baud on a tty (null for a recording: BOOT's link.baud is used). */
    private readonly ttyBaud: number | null,
  ) {}

  /** The session the block is about (the current one), or null before any BOOT. */
  session(): SessionState | null {
    const s = this.d.current;
    return s && s.opened() ? s : null;
  }

  /** The status block of session `s` (by default the current one): a few lines. */
  lines(nowMs: number, s: SessionState | null = this.session()): string[] {
    const lineRate = this.lineRate(nowMs);
    if (!s) return [`sealtap receive: waiting for the box's BOOT | ${this.lineLine(null, lineRate)}`];
    const kept = this.ended.get(s.id);
    if (kept) return kept;
    const end = s.end;
    const [prev, last] = this.timeline.lastTwo(s.id);
    const st = s.status;
    const t = escapeLineText;
    const boot = s.boot!;
    const head = `session ${s.id} | board ${t(boot.board)} | firmware ${t(boot.firmware?.name)} ${t(boot.firmware?.version)}`;
    const out: string[] = [];
    if (end) {
      out.push(`${head} | ENDED: ${t(end.reason)}`);
      out.push(`time     ran ${clock(ranMs(s, end, last))}; the session ended, nothing more is counted`);
      out.push(...this.endedRows(end, s, last));
    } else {
      out.push(`${head} | state ${st ? t(st.state) : '?'}`);
      out.push(st ? `time     elapsed ${clock(elapsedOf(last))}${remaining(st, last)}` : 'time     no STATUS yet');
      if (st) out.push(...this.running(s, st, prev, last));
    }
    out.push(this.lineLine(s, lineRate));
    out.push(this.checkLine());
    if (end) this.ended.set(s.id, out);
    return out;
  }

  private running(s: SessionState, st: StatusRecord, prev: Sample | null, last: Sample | null): string[] {
    const dt = prev && last ? (last.uptimeMs - prev.uptimeMs) / 1000 : 0;
    const per = (f: (x: Sample) => number | null): string => {
      if (!prev || !last || dt <= 0) return '?';
      const a = f(prev);
      const b = f(last);
      return a === null || b === null ? '?' : fmt((b - a) / dt);
    };
    const mbit = per((x) => (x.capturedBytes === null ? null : (x.capturedBytes * 8) / 1e6));
    return [
      `capture  captured ${n(st.captured)} | ${per((x) => x.captured)} pps | ${mbit} Mbit/s | analysed ${n(st.analysed)} | backlog ${last ? fmt(last.analysisLag) : '?'} packets, spool ${pct(st.spoolFill)} full, line backlog ${n(st.channelBacklogBytes)} B`,
      `drops    kernel ${n(st.kernelDropped)} | spool ${n(st.spoolDropped)} | outbox ${opt(st.outboxDropped)} | quarantined ${n(st.quarantined)} | egress refused ${opt(st.egressRefused)}`,
      `records  ${recordRates(s, prev, last, dt)}`,
      `cpu/mem  box ${usage(st.supervisor)} | analysis ${usage(st.analysis)} | host ${n(st.cpuPercent)}% cpu`,
    ];
  }

  private endedRows(end: EndRecord, s: SessionState, last: Sample | null): string[] {
    const secs = ranMs(s, end, last) / 1000;
    const avg = (v: unknown): string => (typeof v === 'number' && secs > 0 ? fmt(v / secs) : '?');
    const mbit = last && last.capturedBytes !== null && secs > 0 ? fmt((last.capturedBytes * 8) / 1e6 / secs) : '?';
    const recs = Object.entries(s.records).map(([k, v]) => `${k} ${v}`).join(' | ') || 'none';
    return [
      `capture  captured ${n(end.captured)} | average ${avg(end.captured)} pps, ${mbit} Mbit/s | analysed ${n(end.analysed)}`,
      `drops    kernel ${n(end.kernelDropped)} | spool ${n(end.spoolDropped)} | outbox ${n(end.outboxDropped)} | quarantined ${n(end.quarantined)} | egress refused ${n(end.egressRefused)}`,
      `records  ${recs}`,
    ];
  }

  private lineLine(s: SessionState | null, rate: number): string {
    let frames = 0;
    let missing = 0;
    let repaired = 0;
    for (const x of this.d.sessions.values()) {
      frames += x.frames;
      missing += missingDataFrames(x);
      repaired += x.repairedFrames;
    }
    const baud = this.ttyBaud ?? (typeof s?.boot?.link?.baud === 'number' ? s.boot.link.baud : null);
    const share = baud ? ` = ${pct((rate * BITS_PER_BYTE) / baud)} of ${baud} baud` : '';
    return `line     ${fmt(rate)} B/s${share} | frames ${frames} bad ${this.d.totalBadFrames()} missing ${missing} repaired ${repaired}`;
  }

  private checkLine(): string {
    let verified = 0;
    let failed = 0;
    for (const x of this.d.sessions.values()) {
      verified += x.checkpoints.verified;
      failed += x.checkpoints.failed;
    }
    const sessions = [...this.d.sessions.values()].filter((x) => x.opened()).length;
    return `checks   checkpoints ${verified} verified, ${failed} failed${failed ? ' (see summary.json)' : ''} | sessions ${sessions}${sessions > 1 ? ' (the box rebooted)' : ''}`;
  }

  /** Bytes/s read over the last 5 s of host time. */
  private lineRate(nowMs: number): number {
    this.meter.push({ ms: nowMs, bytes: this.d.bytesRead });
    while (this.meter.length > 2 && nowMs - this.meter[1].ms >= 5000) this.meter.shift();
    const a = this.meter[0];
    const dt = (nowMs - a.ms) / 1000;
    return dt > 0 ? (this.d.bytesRead - a.bytes) / dt : 0;
  }
}

/** Records per type received and per second (between the last two STATUS, box time). */
function recordRates(s: SessionState, prev: Sample | null, last: Sample | null, dt: number): string {
  const parts = Object.entries(s.records).map(([k, v]) => {
    const rate = prev && last && dt > 0 ? ` (${fmt(((last.records[k] ?? 0) - (prev.records[k] ?? 0)) / dt)}/s)` : '';
    return `${k} ${v}${rate}`;
  });
  return parts.join(' | ') || 'none yet';
}

/** One line for logs that are not a terminal: the block's lines joined. */
export function plainStatus(lines: string[]): string {
  return `status: ${lines.map((l) => l.replace(/^(\w+\/?\w*) +/, '$1 ')).join(' | ')}`;
}

function elapsedOf(x: Sample | null): number {
  return x?.elapsedMs ?? x?.uptimeMs ?? 0;
}

/** How long a session that ended ran: its last STATUS's elapsed time, else uptime from BOOT to END. */
function ranMs(s: SessionState, end: EndRecord, last: Sample | null): number {
  if (last && last.elapsedMs !== null) return last.elapsedMs;
  const from = s.boot?.uptimeMs;
  return typeof end.uptimeMs === 'number' && typeof from === 'number' ? Math.max(0, end.uptimeMs - from) : 0;
}

function remaining(st: StatusRecord, last: Sample | null): string {
  const stop = st.stopSeconds;
  if (typeof stop !== 'number' || !last || last.elapsedMs === null) return '';
  return `, remaining ${clock(Math.max(0, stop * 1000 - last.elapsedMs))} of ${clock(stop * 1000)}`;
}

/** m:ss or h:mm:ss. */
export function clock(ms: number): string {
  const t = Math.floor(ms / 1000);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A number for the eye: integers as they are, fractions to 3 significant digits. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '?';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? String(Math.round(v)) : v.toPrecision(3).replace(/\.?0+$/, '');
}

/** A STATUS counter: the number, or whatever came on the line, escaped. */
function n(v: unknown): string {
  return typeof v === 'number' ? fmt(v) : escapeLineText(v);
}

function opt(v: unknown): string {
  return v === undefined ? '?' : n(v);
}

function pct(share: unknown): string {
  return typeof share === 'number' && Number.isFinite(share) ? `${fmt(Math.round(share * 1000) / 10)}%` : '?';
}

function usage(u: ProcessUsage | null | undefined): string {
  if (!u || typeof u !== 'object') return u === null ? 'not running' : '?';
  const mb = typeof u.rssBytes === 'number' ? `${fmt(Math.round(u.rssBytes / 1e5) / 10)} MB` : '?';
  return `${n(u.cpuPercent)}% cpu ${mb}`;
}
