// The few lines `sealtap receive` prints when it stops (end of a recording, END with
// --until-end, Ctrl-C or SIGTERM on a tty): what arrived, the box's final counters, and
// where the results are. Numbers only (summary.json makes END's counters numbers or null).
import * as path from 'node:path';
import type { Summary } from './summary';
import { REPORT_FILE } from './report-html';

export function summaryText(s: Summary, out: string): string {
  const recs = Object.entries(s.records).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return `received ${s.frames} frames (${s.badFrames} bad, ${s.missingFrames} missing), records: ${recs}\n` +
    (s.complete ? `box: captured ${s.captured}, analysed ${s.analysed}, kernel dropped ${s.kernelDropped}, spool dropped ${s.spoolDropped}, quarantined ${s.quarantined}\n`
      : 'no END record: the run did not finish on this line (or its end was lost)\n') +
    (s.channel.repairFrames > 0 ? `FEC: ${s.channel.repairedFrames} frames rebuilt, ${s.channel.unrepairableGroups} groups beyond repair\n` : '') +
    `files in ${out}; the run report: ${path.join(out, REPORT_FILE)}\n`;
}
