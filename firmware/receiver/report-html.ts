// report.html: the run on one page, for the researcher who opens the results folder
// later. Self-contained (inline CSS and SVG, no script, no external file; a
// Content-Security-Policy that forbids fetching anything), so it opens offline from a
// USB stick. Everything on it is summary.json, the STATUS records (run-timeline.ts) and
// the FLOW/DNS records (result-stats.ts), i.e. only what already left the box; the same
// data is embedded as JSON (<script id="sealtap-report" type="application/json">) for
// whoever wants the numbers behind a chart. Text from the line is escaped twice over:
// control characters made visible (escapeLineText), then HTML (htmlText).
import { escapeLineText } from './escape-text';
import { embedJson, htmlText } from './html-text';
import { barChart, lineChart, PALETTE, Series, TimelineRow, rangeTimeline } from './report-svg';
import { DURATION_BOUNDS, Distributions, LATENCY_BOUNDS, SIZE_BOUNDS } from './result-stats';
import type { Sample } from './run-timeline';
import type { Summary } from './summary';

export const REPORT_FILE = 'report.html';
export const REPORT_FORMAT = 'sealtap-report/1';
/** Nothing may be fetched, no script may run; inline styles and data: images only. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

export interface ReportData {
  format: typeof REPORT_FORMAT;
  /** When the page was written, and whether the session was still being received. */
  writtenAt: string;
  final: boolean;
  /** Host time of the first and last frame received. */
  receivedFrom: string | null;
  receivedTo: string | null;
  summary: Summary;
  series: Sample[];
  distributions: Distributions;
}

const t = (v: unknown): string => htmlText(escapeLineText(v));

const PROTOCOLS: Record<string, string> = { 1: 'ICMP', 2: 'IGMP', 6: 'TCP', 17: 'UDP', 41: 'IPv6', 47: 'GRE', 50: 'ESP', 58: 'ICMPv6', 132: 'SCTP' };
const RCODES: Record<string, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', none: 'no answer' };

export function reportHtml(r: ReportData): string {
  const s = r.summary;
  const title = `sealtap run report: ${s.board === null ? 'board not announced' : t(s.board)}, ${s.firmware ? `${t(s.firmware.name)} ${t(s.firmware.version)}` : 'firmware not announced'}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${CSS}</style></head>
<body>
<h1>${title}</h1>
<p class="state">${r.final ? 'Final report' : 'Report written while the run was being received; it is refreshed until the end'}, written ${htmlText(r.writtenAt)}. ${s.complete ? 'The run\'s END arrived.' : '<b>The run\'s END has not arrived</b> (yet, or it was lost).'}</p>
${identity(r)}
<h2>Over time</h2>
<p>From the box's STATUS records, against the box's own clock (seconds since it booted; a dashed line marks a reboot).</p>
<div class="grid">${timeCharts(r.series)}</div>
<h2>What the results hold</h2>
<p>From the ${s.outputs.flows} records of flows.jsonl and the ${s.outputs.dns} of dns.jsonl: anonymized values, as written to those files.</p>
<div class="grid">${distributionCharts(r.distributions)}</div>
<h2>The line</h2>
${channelHealth(s)}
<script type="application/json" id="sealtap-report">${embedJson(r)}</script>
</body></html>
`;
}

function row(k: string, v: string): string {
  return `<tr><th>${k}</th><td>${v}</td></tr>`;
}

function num(v: number | null): string {
  return v === null ? 'not reported' : String(v);
}

function identity(r: ReportData): string {
  const s = r.summary;
  const last = s.sessions[s.sessions.length - 1];
  const end = last?.end ?? null;
  const fw = s.firmware;
  return `<h2>The run</h2><table class="kv">${[
    row('Board', s.board === null ? 'not announced' : t(s.board)),
    row('Analysis firmware', fw ? `${t(fw.name)} ${t(fw.version)}` : 'not announced'),
    row('Bundle hash', fw ? `<code>${t(fw.hash)}</code>` : '-'),
    row('Policy (privacy statement hash)', s.privacy ? `<code>${s.privacy}</code>` : 'not announced'),
    row('Module', s.module ? `${s.module.bytes} bytes, BLAKE2b-256 <code>${s.module.blake2b}</code>` : 'none (built-in analysis only)'),
    ...(s.sandbox === 'off' ? [row('Sandbox', '<b>OFF</b>: the module ran without its operating-system sandbox')] : []),
    row('Received', `${r.receivedFrom ? htmlText(r.receivedFrom) : '-'} to ${r.receivedTo ? htmlText(r.receivedTo) : '-'} (this workstation's clock)`),
    row('Sessions', `${s.sessions.length}${s.sessions.length > 1 ? ' (the box rebooted)' : ''}`),
    row('Stop reason', end ? t(end.reason) : 'no END record'),
  ].join('')}</table>
<table class="counters"><tr><th>captured</th><th>analysed</th><th>kernel dropped</th><th>spool dropped</th><th>quarantined</th><th>outbox dropped</th><th>egress refused</th></tr>
<tr><td>${num(s.captured)}</td><td>${num(s.analysed)}</td><td>${num(s.kernelDropped)}</td><td>${num(s.spoolDropped)}</td><td>${num(s.quarantined)}</td><td>${num(s.channel.outboxDropped)}</td><td>${num(s.channel.egressRefused)}</td></tr></table>
<table class="counters"><tr>${Object.keys(s.records).map((k) => `<th>${t(k)}</th>`).join('')}</tr><tr>${Object.values(s.records).map((v) => `<td>${v}</td>`).join('')}</tr></table>`;
}

/** Sessions one after another on one time axis: each session's uptime shifted past the previous one. */
function onOneAxis(samples: Sample[]): { x: number[]; breaks: number[] } {
  const x: number[] = [];
  const breaks: number[] = [];
  let offset = 0;
  let prev: Sample | null = null;
  for (const s of samples) {
    if (prev && s.session !== prev.session) {
      offset = x[x.length - 1] - s.uptimeMs / 1000 + 1;
      breaks.push(s.uptimeMs / 1000 + offset);
    }
    x.push(s.uptimeMs / 1000 + offset);
    prev = s;
  }
  return { x, breaks };
}

function timeCharts(samples: Sample[]): string {
  const { x, breaks } = onOneAxis(samples);
  const level = (name: string, f: (s: Sample) => number | null, color: string): Series => ({
    name, color, points: samples.flatMap((s, i) => { const v = f(s); return v === null ? [] : [[x[i], v] as [number, number]]; }),
  });
  const rate = (name: string, f: (s: Sample) => number | null, color: string): Series => {
    const points: Array<[number, number]> = [];
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1];
      const b = samples[i];
      const va = f(a);
      const vb = f(b);
      const dt = (b.uptimeMs - a.uptimeMs) / 1000;
      if (a.session === b.session && dt > 0 && va !== null && vb !== null) points.push([x[i], Math.max(0, (vb - va) / dt)]);
    }
    return { name, color, points };
  };
  const types = [...new Set(samples.flatMap((s) => Object.keys(s.records)))].filter((k) => !['STATUS', 'CHECKPOINT', 'BOOT', 'END'].includes(k));
  return [
    lineChart({ title: 'Captured packets per second', unit: 'packets/s', series: [rate('captured', (s) => s.captured, PALETTE[0]), rate('analysed', (s) => s.analysed, PALETTE[2])], breaks }),
    lineChart({ title: 'Drops by cause (cumulative)', unit: 'packets / records', breaks, series: [
      level('kernel', (s) => s.kernelDropped, PALETTE[0]), level('spool', (s) => s.spoolDropped, PALETTE[1]),
      level('quarantined', (s) => s.quarantined, PALETTE[2]), level('outbox', (s) => s.outboxDropped, PALETTE[3]),
      level('egress refused', (s) => s.egressRefused, PALETTE[4]),
    ] }),
    lineChart({ title: 'Spool backlog (unanalysed data)', unit: '% of the ring', series: [level('spool fill', (s) => s.spoolFill * 100, PALETTE[1])], breaks }),
    lineChart({ title: 'Analysis lag', unit: 'packets not yet analysed', series: [level('captured − analysed', (s) => s.analysisLag, PALETTE[3])], breaks }),
    lineChart({ title: 'Line throughput', unit: 'bytes/s', series: [rate('line', (s) => s.lineBytes, PALETTE[0]), level('outbox backlog (B)', (s) => s.channelBacklogBytes, PALETTE[4])], breaks }),
    lineChart({ title: 'Records per second, by type', unit: 'records/s', breaks, series: types.map((k, i) => rate(k, (s) => s.records[k] ?? 0, PALETTE[i % PALETTE.length])) }),
  ].join('\n');
}

function sizeLabel(b: number): string {
  for (const [d, u] of [[1073741824, 'G'], [1048576, 'M'], [1024, 'k']] as const) if (b >= d) return `${b / d}${u}`;
  return String(b);
}

function timeLabel(us: number): string {
  return us >= 60_000_000 ? `${us / 60_000_000}min` : us >= 1_000_000 ? `${us / 1_000_000}s` : `${us / 1000}ms`;
}

function distributionCharts(d: Distributions): string {
  const below = (bounds: number[], f: (v: number) => string): string[] => [...bounds.map((b) => `<${f(b)}`), `≥${f(bounds[bounds.length - 1])}`];
  return [
    barChart({ title: 'Flow sizes (bytes, both directions)', unit: 'flows', color: PALETTE[0], labels: [...SIZE_BOUNDS.map((b) => `≤${sizeLabel(b)}`), `>${sizeLabel(SIZE_BOUNDS[SIZE_BOUNDS.length - 1])}`], values: d.flowBytes }),
    barChart({ title: 'Flow durations', unit: 'flows', color: PALETTE[2], labels: below(DURATION_BOUNDS, timeLabel), values: d.flowDurations }),
    barChart({ title: 'Protocols', unit: 'flows', color: PALETTE[3], labels: Object.keys(d.protocols).map((p) => PROTOCOLS[p] ?? p), values: Object.values(d.protocols) }),
    barChart({ title: 'Top destination ports', unit: 'flows', color: PALETTE[4], labels: d.topPorts.map(([p]) => String(p)), values: d.topPorts.map(([, n]) => n) }),
    barChart({ title: 'DNS response codes', unit: 'transactions', color: PALETTE[5], labels: Object.keys(d.dnsRcodes).map((c) => RCODES[c] ?? c), values: Object.values(d.dnsRcodes) }),
    barChart({ title: 'DNS latency', unit: 'responses', color: PALETTE[1], labels: below(LATENCY_BOUNDS, timeLabel), values: d.dnsLatency }),
  ].join('\n') + prefixTable(d);
}

function prefixTable(d: Distributions): string {
  if (d.topPrefixes.length === 0) return '<p>No flow with anonymized addresses.</p>';
  const max = d.topPrefixes[0][1] || 1;
  return `<table class="prefixes"><caption>Top anonymized prefixes by bytes (each flow's bytes count for both its ends)</caption>${d.topPrefixes.map(([p, b]) =>
    `<tr><td><code>${htmlText(p)}</code></td><td class="r">${b}</td><td><svg width="240" height="10" role="img" aria-label="${b} bytes"><rect width="${Math.max(1, (b / max) * 240).toFixed(1)}" height="10" fill="${PALETTE[0]}"/></svg></td></tr>`).join('')}</table>` +
    (d.unreadable ? `<p>${d.unreadable} records had a field that could not be counted (not a number, not an address); they are in the JSONL files as received.</p>` : '');
}

function channelHealth(s: Summary): string {
  const rows: TimelineRow[] = s.sessions.filter((x) => x.firstSeq !== null).map((x, i) => ({
    label: `session ${i + 1}`,
    first: x.firstSeq as number,
    last: x.lastSeq as number,
    spans: [
      ...x.checkpoints.verifiedRanges.map(([from, to]) => ({ from, to, kind: 'verified' as const })),
      ...x.checkpoints.unverifiedRanges.map((u) => ({ from: u.from, to: u.to, kind: 'unverified' as const })),
      ...x.missingRanges.map(([from, to]) => ({ from, to, kind: 'missing' as const })),
    ],
  }));
  const c = s.channel;
  return `<div class="grid">${rangeTimeline('Frames per session: checkpoint-verified, unverified, missing', rows)}</div>
<table class="kv">${[
    row('Frames received', `${s.frames} (${c.bytesRead} bytes read, ${c.duplicateFrames} duplicates)`),
    row('Bad frames', `${s.badFrames}${Object.keys(c.badFrameReasons).length ? ` (${Object.entries(c.badFrameReasons).map(([k, v]) => `${t(k)} ${v}`).join(', ')})` : ''}`),
    row('Missing frames', String(s.missingFrames)),
    row('FEC', `${c.repairedFrames} frames rebuilt from ${c.repairFrames} repair frames; ${c.unrepairableGroups} groups beyond repair`),
    row('Records match END', s.recordsMatchEnd === null ? 'no END' : s.recordsMatchEnd ? 'yes' : '<b>no</b>'),
  ].join('')}</table>
<table class="sessions"><tr><th>#</th><th>session</th><th>closed by</th><th>frames</th><th>missing</th><th>checkpoints verified / failed</th><th>FEC rebuilt</th></tr>${s.sessions.map((x, i) =>
    `<tr><td>${i + 1}</td><td><code>${t(x.session)}</code></td><td>${t(x.closedBy ?? 'still open')}</td><td>${x.frames}</td><td>${x.missingFrames}</td><td>${x.checkpoints.verified} / ${x.checkpoints.failed}</td><td>${x.repairedFrames}</td></tr>`).join('')}</table>`;
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1320px;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0}th,td{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}
td.r{text-align:right}code{font-size:12px;word-break:break-all}.state{color:#555}
.grid{display:flex;flex-wrap:wrap;gap:8px}.chart{border:1px solid #ddd;background:#fff;max-width:100%;height:auto}
.chart .t{font-weight:600;font-size:13px}.chart .a{font-size:10px;fill:#555}.chart .l{font-size:10px}
.chart .g{stroke:#e4e4e4}.chart .b{stroke:#999;stroke-dasharray:4 3}.chart .none{fill:#efe6f7}.chart .n{fill:#888;font-size:12px}
caption{text-align:left;font-weight:600}`;
