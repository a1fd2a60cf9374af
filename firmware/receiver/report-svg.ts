// The charts of report.html, drawn as SVG when the page is written: no script runs in
// the page and nothing is fetched, so it opens the same from a USB stick on an offline
// workstation as on the receiver's machine (docs/report.md says why not a library).
// Every label is escaped with htmlText: some (ports, prefixes) are values from the line.
import { htmlText } from './html-text';

export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

const W = 640;
const H = 210;
const M = { left: 64, right: 14, top: 30, bottom: 30 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

/** Colours that stay apart for the common colour-vision deficiencies (Okabe–Ito). */
export const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#f0e442'];

/** Round tick steps (1, 2, 5 × 10^k) giving at most about five ticks up to `max`. */
export function ticks(max: number): number[] {
  if (!(max > 0)) return [0];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1] < max) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

/** 1234567 → "1.23M": axis labels stay short. */
export function short(v: number): string {
  const a = Math.abs(v);
  for (const [d, s] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) if (a >= d) return `${Number((v / d).toPrecision(3))}${s}`;
  return String(Number(v.toPrecision(3)));
}

function frame(title: string, body: string, cls: string): string {
  return `<svg class="chart ${cls}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${htmlText(title)}"><title>${htmlText(title)}</title>` +
    `<text x="${M.left}" y="18" class="t">${htmlText(title)}</text>${body}</svg>`;
}

function empty(title: string, why: string): string {
  return frame(title, `<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" class="none"/><text x="${M.left + PW / 2}" y="${M.top + PH / 2}" text-anchor="middle" class="n">${htmlText(why)}</text>`, 'empty');
}

function yAxis(ys: number[], yMax: number, unit: string): string {
  let s = '';
  for (const v of ys) {
    const y = M.top + PH - (v / yMax) * PH;
    s += `<line x1="${M.left}" x2="${M.left + PW}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="g"/><text x="${M.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" class="a">${short(v)}</text>`;
  }
  return s + `<text x="12" y="${M.top + PH / 2}" transform="rotate(-90 12 ${M.top + PH / 2})" text-anchor="middle" class="a">${htmlText(unit)}</text>`;
}

/** Lines over time; `breaks` are x values where a new session (a reboot) began. */
export function lineChart(o: { title: string; unit: string; series: Series[]; breaks?: number[] }): string {
  const pts = o.series.flatMap((s) => s.points);
  if (pts.length < 2) return empty(o.title, 'not enough STATUS records to draw');
  const xMin = Math.min(...pts.map((p) => p[0]));
  const xMaxRaw = Math.max(...pts.map((p) => p[0]));
  const xMax = xMaxRaw > xMin ? xMaxRaw : xMin + 1;
  const ys = ticks(Math.max(...pts.map((p) => p[1])));
  const yMax = ys[ys.length - 1] || 1;
  const X = (x: number): string => (M.left + ((x - xMin) / (xMax - xMin)) * PW).toFixed(1);
  const Y = (y: number): string => (M.top + PH - (y / yMax) * PH).toFixed(1);
  let body = yAxis(ys, yMax, o.unit);
  const step = ticks(xMax - xMin)[1] ?? 1;
  for (let x = Math.ceil(xMin / step) * step; x <= xMax; x = Number((x + step).toPrecision(12))) {
    body += `<text x="${X(x)}" y="${H - 12}" text-anchor="middle" class="a">${short(x)} s</text>`;
  }
  for (const b of o.breaks ?? []) body += `<line x1="${X(b)}" x2="${X(b)}" y1="${M.top}" y2="${M.top + PH}" class="b"><title>the box rebooted: a new session</title></line>`;
  o.series.forEach((s, i) => {
    if (s.points.length === 0) return;
    body += `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map((p) => `${X(p[0])},${Y(p[1])}`).join(' ')}"><title>${htmlText(s.name)}</title></polyline>`;
    body += `<rect x="${W - M.right - 150}" y="${6 + i * 13}" width="10" height="3" fill="${s.color}"/><text x="${W - M.right - 136}" y="${11 + i * 13}" class="l">${htmlText(s.name)}</text>`;
  });
  return frame(o.title, body, 'line');
}

/** One bar per label. */
export function barChart(o: { title: string; unit: string; labels: string[]; values: number[]; color: string }): string {
  if (o.values.every((v) => v === 0)) return empty(o.title, 'none in the results');
  const ys = ticks(Math.max(...o.values));
  const yMax = ys[ys.length - 1] || 1;
  const slot = PW / o.values.length;
  let body = yAxis(ys, yMax, o.unit);
  o.values.forEach((v, i) => {
    const h = (v / yMax) * PH;
    const x = M.left + i * slot + slot * 0.15;
    body += `<rect x="${x.toFixed(1)}" y="${(M.top + PH - h).toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${o.color}"><title>${htmlText(o.labels[i])}: ${v}</title></rect>`;
    body += `<text x="${(M.left + (i + 0.5) * slot).toFixed(1)}" y="${H - 12}" text-anchor="middle" class="a">${htmlText(o.labels[i])}</text>`;
  });
  return frame(o.title, body, 'bar');
}

export interface TimelineRow {
  label: string;
  first: number;
  last: number;
  spans: Array<{ from: number; to: number; kind: 'verified' | 'missing' | 'unverified' }>;
}

const SPAN_COLOR = { verified: '#009e73', missing: '#d55e00', unverified: '#e69f00' };

/** Frame sequence numbers per session: what arrived, what a checkpoint proved, what is missing. */
export function rangeTimeline(title: string, rows: TimelineRow[]): string {
  if (rows.length === 0) return empty(title, 'no session');
  const rowH = Math.min(36, PH / rows.length);
  let body = '';
  rows.forEach((r, i) => {
    const y = M.top + i * rowH;
    const span = Math.max(1, r.last - r.first + 1);
    const X = (seq: number): number => M.left + ((seq - r.first) / span) * PW;
    body += `<text x="${M.left - 6}" y="${(y + rowH / 2 + 4).toFixed(1)}" text-anchor="end" class="a">${htmlText(r.label)}</text>`;
    body += `<rect x="${M.left}" y="${(y + 4).toFixed(1)}" width="${PW}" height="${(rowH - 8).toFixed(1)}" fill="#c8c8c8"><title>frames ${r.first}-${r.last} received</title></rect>`;
    for (const s of r.spans) {
      const w = Math.max(1.5, X(s.to + 1) - X(s.from));
      body += `<rect x="${X(s.from).toFixed(1)}" y="${(y + 4).toFixed(1)}" width="${w.toFixed(1)}" height="${(rowH - 8).toFixed(1)}" fill="${SPAN_COLOR[s.kind]}"><title>frames ${s.from}-${s.to} ${s.kind}</title></rect>`;
    }
  });
  const legend = (['verified', 'unverified', 'missing'] as const).map((k, i) => `<rect x="${W - M.right - 250 + i * 85}" y="${H - 20}" width="10" height="10" fill="${SPAN_COLOR[k]}"/><text x="${W - M.right - 236 + i * 85}" y="${H - 11}" class="l">${k}</text>`).join('');
  return frame(title, body + legend + `<text x="${M.left}" y="${H - 12}" class="a">frame sequence numbers; grey: received, not covered by a checkpoint</text>`, 'timeline');
}
