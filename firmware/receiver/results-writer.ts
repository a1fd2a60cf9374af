// summary.json and report.html, written while the line is read (every few seconds) and
// at the end. Each write goes to a temporary file in DIR that is then renamed over the
// old one: whoever reads summary.json during a run (a script, a second terminal) sees
// the previous complete file or the new one, never half of one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lineJson } from './escape-text';
import type { LineDecoder } from './decoder';
import type { ForwardReport } from './ipfix-udp';
import type { OutputFiles } from './outputs';
import { REPORT_FILE, REPORT_FORMAT, reportHtml } from './report-html';
import { buildSummary, Summary } from './summary';

export const SUMMARY_FILE = 'summary.json';

export function writeFileAtomic(file: string, data: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

export class ResultsWriter {
  constructor(
    private readonly dir: string,
    private readonly d: LineDecoder,
    private readonly out: OutputFiles,
    private readonly startedMs: number,
  ) {}

  summary(nowMs: number, forwarded: ForwardReport | null): Summary {
    return buildSummary(this.d, this.out, this.startedMs, nowMs, forwarded);
  }

  /** summary.json, and report.html with it when `report` (during --follow and at the end). */
  write(s: Summary, opts: { report: boolean; final: boolean }): void {
    writeFileAtomic(path.join(this.dir, SUMMARY_FILE), lineJson(s, 2) + '\n');
    if (opts.report) writeFileAtomic(path.join(this.dir, REPORT_FILE), this.report(s, opts.final));
  }

  private report(s: Summary, final: boolean): string {
    const seen = [...this.d.sessions.values()].filter((x) => x.opened());
    const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
    return reportHtml({
      format: REPORT_FORMAT,
      writtenAt: new Date().toISOString(),
      final,
      receivedFrom: iso(seen.length ? Math.min(...seen.map((x) => x.firstSeenMs)) : undefined),
      receivedTo: iso(seen.length ? Math.max(...seen.map((x) => x.lastSeenMs)) : undefined),
      summary: s,
      series: this.out.timeline.samples,
      distributions: this.out.stats.snapshot(),
    });
  }
}
