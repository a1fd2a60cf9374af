// report.html: its numbers are summary.json's and the JSONL files', it fetches nothing,
// and text from the line cannot become markup in it. summary.json is there during the
// run, whole at every read.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RecordType, StatusRecord } from '../../firmware/channel/records';
import { receive } from '../../firmware/receiver/receive';
import { prefixOf } from '../../firmware/receiver/result-stats';
import type { ReportData } from '../../firmware/receiver/report-html';
import { makeBoot, makeEnd, newSession, openPtyPair, tmpDir } from '../lib/channel-fixtures';
import { channelOn, sendMix, untilHearing } from '../lib/channel-recording';
import { until } from '../lib/until';
import type { Channel } from '../../firmware/channel/writer';

function status(i: number, over: Partial<StatusRecord> = {}): StatusRecord {
  return {
    uptimeMs: 1000 * (i + 1), state: 'capturing', cpuPercent: 50, memUsedBytes: 1e9, memTotalBytes: 4e9, spoolFill: i / 100,
    captured: 500 * i, kernelDropped: i, spoolDropped: 2 * i, analysed: 450 * i, quarantined: 0, channelBacklogBytes: 100 * i,
    capturedBytes: 500 * i * 300, elapsedMs: 1000 * i, stopSeconds: 60, outboxDropped: 0, egressRefused: 0,
    supervisor: { cpuPercent: 9.5, rssBytes: 8e7 }, analysis: { cpuPercent: 30, rssBytes: 1.2e8 }, ...over,
  };
}

/** A run on the line: STATUS between rounds of results, then END. */
async function sendRun(ch: Channel, rounds: number, pauseMs = 0): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    ch.send(RecordType.STATUS, status(i));
    await sendMix(ch, 1, 15, pauseMs);
    // The outbox sends STATUS first: unless the line takes each round before the next
    // STATUS, a busy machine sends every STATUS before any result (empty charts).
    await until(() => `round ${i}: ${ch.stats().backlogBytes} bytes still waiting for the line`, () => ch.stats().backlogBytes === 0);
  }
}

async function recordRun(boot: Record<string, unknown> = {}, reason = 'duration 60 s reached'): Promise<{ line: string; out: string }> {
  const dir = tmpDir('report');
  const line = path.join(dir, 'line.bin');
  const session = newSession();
  const { ch } = channelOn(line, { session, boot: { ...makeBoot(session), ...boot } });
  await sendRun(ch, 12);
  await ch.close({ ...makeEnd(5500), reason }, 5000);
  return { line, out: path.join(dir, 'out') };
}

function reportData(out: string): { html: string; data: ReportData } {
  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  const m = /<script type="application\/json" id="sealtap-report">([^<]*)<\/script>/.exec(html);
  assert.ok(m, 'the page embeds its data');
  return { html, data: JSON.parse(m![1]) };
}

const jsonl = (file: string): Array<Record<string, number | string | null>> =>
  fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('report.html: its numbers are summary.json and the JSONL files', async () => {
  const { line, out } = await recordRun();
  await receive({ input: line, out });
  const { html, data } = reportData(out);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.equal(data.summary, summary, 'the embedded summary is summary.json');
  assert.is(data.final, true);
  assert.is(data.series.length, summary.records.STATUS, 'one sample per STATUS record');
  assert.equal(data.series.map((x) => x.captured), Array.from({ length: 12 }, (_, i) => 500 * i));
  assert.equal(data.series.map((x) => x.analysisLag), Array.from({ length: 12 }, (_, i) => 500 * i - 2 * i - 450 * i));
  assert.ok(data.series.every((x, i) => i === 0 || x.lineBytes >= data.series[i - 1].lineBytes), 'line bytes only grow');

  const flows = jsonl(path.join(out, 'flows.jsonl'));
  const dns = jsonl(path.join(out, 'dns.jsonl'));
  const d = data.distributions;
  assert.is(d.flows, flows.length);
  assert.is(d.dnsRecords, dns.length);
  assert.is(d.flowBytes.reduce((a, b) => a + b, 0), flows.length, 'every flow in one size bucket');
  assert.is(d.flowDurations.reduce((a, b) => a + b, 0), flows.length);
  const protocols: Record<string, number> = {};
  for (const f of flows) protocols[String(f.protocol)] = (protocols[String(f.protocol)] ?? 0) + 1;
  assert.equal(d.protocols, protocols);
  const rcodes: Record<string, number> = {};
  for (const r of dns) { const k = r.rcode === null ? 'none' : String(r.rcode); rcodes[k] = (rcodes[k] ?? 0) + 1; }
  assert.equal(d.dnsRcodes, rcodes);
  const ports = new Map<number, number>();
  for (const f of flows) ports.set(f.dstPort as number, (ports.get(f.dstPort as number) ?? 0) + 1);
  assert.equal(d.topPorts.map(([p, n]) => [p, ports.get(p)]), d.topPorts, 'port counts');
  assert.is(d.topPorts[0][1], Math.max(...ports.values()), 'the busiest port first');
  const prefixBytes = new Map<string, number>();
  for (const f of flows) for (const a of [f.srcAddr, f.dstAddr]) {
    const p = prefixOf(a)!;
    prefixBytes.set(p, (prefixBytes.get(p) ?? 0) + (f.bytes as number) + (f.revBytes as number));
  }
  assert.ok(d.topPrefixes.length > 0);
  for (const [p, b] of d.topPrefixes) assert.is(b, prefixBytes.get(p), `bytes of ${p}`);
  assert.is(d.topPrefixes[0][1], Math.max(...prefixBytes.values()), 'the busiest prefix first');

  // The page shows the same numbers: the final counters, and one chart per series.
  assert.ok(html.includes(`<td>${summary.captured}</td>`), 'captured from END on the page');
  assert.ok(html.includes('duration 60 s reached'), 'the stop reason');
  assert.is((html.match(/<svg class="chart /g) ?? []).length, 13, '6 time series, 6 distributions, the frame timeline');
  assert.is((html.match(/<svg class="chart empty"/g) ?? []).length, 0, 'no chart is empty');
});

test('report.html needs nothing from outside: no URL, no script, a policy that fetches nothing', async () => {
  const { line, out } = await recordRun();
  await receive({ input: line, out });
  const { html } = reportData(out);
  assert.not.match(html, /\b(src|href)\s*=/i, 'no src or href attribute');
  assert.not.match(html, /url\(|@import|https?:\/\//i, 'no URL in CSS or markup');
  assert.is((html.match(/<script/g) ?? []).length, 1, 'one script element: the JSON data block, which never runs');
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">/);
});

test('report.html: BOOT and END text holding markup shows as text, and the data block gives it back exactly', async () => {
  const board = 'b</script><img src=x onerror=alert(1)>';
  const fw = { name: '"><svg onload=alert(2)>', version: "1'<b>", hash: '&amp;<!--' };
  const reason = '</td><script>alert(3)</script>\u2028';
  const { line, out } = await recordRun({ board, firmware: fw }, reason);
  await receive({ input: line, out });
  const { html, data } = reportData(out);
  for (const raw of ['<img', '<svg onload', '<b>', '<!--', '<script>alert', '</td><script']) assert.not.ok(html.includes(raw), `${raw} is not markup`);
  assert.ok(html.includes('b&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;'), 'the board, escaped');
  assert.ok(html.includes('&quot;&gt;&lt;svg onload=alert(2)&gt;'), 'the firmware name, escaped');
  assert.is(data.summary.board, board, 'the data block holds the exact text');
  assert.equal(data.summary.firmware, fw);
  assert.is(data.summary.sessions[0].end!.reason, reason);
});

test('summary.json and report.html are written while a tty is read, whole at every read', async () => {
  const pty = await openPtyPair();
  const out = tmpDir('during');
  try {
    const receiving = receive({ input: pty.workstation, out, baud: 921600, follow: true, untilEnd: true, print: () => undefined, resultsEveryMs: 100 });
    await untilHearing(pty.box, path.join(out, 'line.raw'));
    const { ch } = channelOn(pty.box, { baud: 921600, bootEveryMs: 300 });
    let reads = 0;
    let seen: { FLOW?: number } = {};
    const sending = sendRun(ch, 10, 60);
    // Read as often as it can while the writer rewrites: every read is a whole JSON file.
    await until('summary.json with flows did not appear during the run', () => {
      let text = '';
      try { text = fs.readFileSync(path.join(out, 'summary.json'), 'utf8'); } catch { return false; }
      const s = JSON.parse(text);
      reads++;
      assert.is(s.complete, false, 'no END yet');
      seen = s.records;
      return (seen.FLOW ?? 0) > 0 && fs.existsSync(path.join(out, 'report.html'));
    }, 20_000, 5);
    assert.ok(reads > 0);
    await sending;
    await ch.close(makeEnd(777), 5000);
    const summary = await receiving;
    assert.is(summary.captured, 777);
    const { data } = reportData(out);
    assert.is(data.final, true);
    assert.equal(data.summary, JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')));
    assert.not.ok(fs.readdirSync(out).some((f) => f.endsWith('.tmp')), 'no temporary file left');
  } finally {
    await pty.close();
  }
});

test.run();
