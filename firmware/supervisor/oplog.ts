// The operator log: one readable line per event, with a monotonic timestamp.
// Lines go to the console and, once the channel is open, as LOG records.
// Never pass a key, a raw address or packet bytes into a log line: the log leaves the box.
import type { Sys } from './sys';

export const Severity = { error: 3, warning: 4, notice: 5, info: 6 } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

const label: Record<number, string> = { 3: 'ERROR', 4: 'WARN ', 5: 'NOTE ', 6: 'INFO ' };

export interface LogSink {
  (uptimeMs: number, severity: Severity, msg: string): void;
}

export class OperatorLog {
  private sinks: LogSink[] = [];
  /** Lines logged before the channel opened: replayed to it, so the line tells the whole boot. */
  private early: Array<[number, Severity, string]> | null = [];
  readonly startMs: number;

  constructor(private readonly sys: Pick<Sys, 'now' | 'console'>) {
    this.startMs = sys.now();
  }

  uptimeMs(): number {
    return Math.round(this.sys.now() - this.startMs);
  }

  /** Adds a destination (the results channel) for every later line. */
  attach(sink: LogSink): void {
    this.sinks.push(sink);
    for (const [up, sev, msg] of this.early ?? []) sink(up, sev, msg);
    this.early = null;
  }

  line(severity: Severity, msg: string): void {
    const up = this.uptimeMs();
    this.sys.console(`[${formatUptime(up)}] ${label[severity]} ${msg}`);
    for (const s of this.sinks) s(up, severity, msg);
    if (this.early && this.early.length < 100) this.early.push([up, severity, msg]);
  }

  info(msg: string): void { this.line(Severity.info, msg); }
  notice(msg: string): void { this.line(Severity.notice, msg); }
  warn(msg: string): void { this.line(Severity.warning, msg); }
  error(msg: string): void { this.line(Severity.error, msg); }
}

/** 12.345 s since boot, padded so columns line up on the operator's terminal. */
export function formatUptime(ms: number): string {
  return (ms / 1000).toFixed(3).padStart(9, ' ');
}

/** 1234567 -> "1,234,567": operators read these on a small terminal. */
export function count(n: number): string {
  // Not toLocaleString('en-US'): that builds an ICU formatter per call, which made the
  // STATUS timer's progress line one of the supervisor's larger idle costs.
  const s = String(Math.abs(Math.round(n)));
  let out = '';
  for (let end = s.length; end > 0; end -= 3) out = (end > 3 ? ',' : '') + s.slice(Math.max(0, end - 3), end) + out;
  return n <= -0.5 ? '-' + out : out;
}
