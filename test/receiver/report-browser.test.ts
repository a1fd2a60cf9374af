// report.html in a real browser: Debian's chromium, headless, in a network namespace of
// its own (no network at all, as on an offline workstation), loading the page from a
// folder that holds nothing else (as on a USB stick). The page must log nothing to the
// console (a blocked fetch or a script error would) and its screenshot must show the
// charts drawn.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { RecordType } from '../../firmware/channel/records';
import { receive } from '../../firmware/receiver/receive';
import { PALETTE } from '../../firmware/receiver/report-svg';
import { REPORT_CSP } from '../../firmware/receiver/report-html';
import { makeBoot, makeEnd, newSession, tmpDir } from '../lib/channel-fixtures';
import { channelOn, sendMix } from '../lib/channel-recording';
import { countColour, readPng, Image } from '../lib/png';

const WIDTH = 1340;
const HEIGHT = 3000;
/** The fill of an empty chart's plot area (report-html.ts `.none`): a colour used nowhere else on the page. */
const EMPTY_FILL = '#efe6f7';

/** Chromium on `page`, offline: its console lines and a screenshot. */
function openInChromium(page: string): { console: string[]; shot: Image; stderr: string } {
  const dir = tmpDir('chromium');
  const shot = path.join(dir, 'shot.png');
  const args = [
    '--net', '--', 'chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${path.join(dir, 'profile')}`,
    '--enable-logging=stderr', '--v=0', '--hide-scrollbars', `--window-size=${WIDTH},${HEIGHT}`, `--screenshot=${shot}`, `file://${page}`,
  ];
  const r = spawnSync('unshare', args, { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, `chromium failed: ${r.error?.message ?? ''} ${r.stderr}`);
  // Chromium logs every console message, error or not, as INFO:CONSOLE. Its own internal
  // pages (source chrome://…) log some too, now and then ("Slow network is detected"):
  // those are not the page's.
  const consoleLines = r.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l) && !/source: chrome:\/\//.test(l));
  return { console: consoleLines, shot: readPng(fs.readFileSync(shot)), stderr: r.stderr };
}

/** Resolves once the channel's outbox and pending write are empty (5 s deadline). */
async function lineTook(ch: { stats(): { backlogBytes: number } }): Promise<void> {
  const deadline = Date.now() + 5000;
  while (ch.stats().backlogBytes > 0) {
    if (Date.now() > deadline) throw new Error(`the line kept ${ch.stats().backlogBytes} bytes for 5 s`);
    await new Promise((r) => setImmediate(r));
  }
}

/** A run's report, copied alone into an empty folder. */
async function reportOf(statusRecords: number): Promise<string> {
  const dir = tmpDir('browser');
  const line = path.join(dir, 'line.bin');
  const session = newSession();
  const { ch } = channelOn(line, { session, boot: makeBoot(session) });
  for (let i = 0; i < Math.max(statusRecords, 1); i++) {
    if (i < statusRecords) {
      ch.send(RecordType.STATUS, {
        uptimeMs: 1000 * (i + 1), state: 'capturing', cpuPercent: 50, memUsedBytes: 1, memTotalBytes: 2, spoolFill: (i % 5) / 10,
        captured: 400 * i + (i % 3) * 50, kernelDropped: i, spoolDropped: 2 * i, analysed: 380 * i, quarantined: i >> 2, channelBacklogBytes: 300 * (i % 4),
        capturedBytes: 120_000 * i, elapsedMs: 1000 * i, stopSeconds: 30, outboxDropped: i >> 1, egressRefused: 0,
      });
    }
    await sendMix(ch, 1, 10 + (i % 4) * 5);
    // The outbox sends by priority (STATUS before results): let the line take this
    // round before the next STATUS, so each STATUS counts the results before it and
    // every "by type" series has points, however busy the machine.
    await lineTook(ch);
  }
  await ch.close(makeEnd(), 5000);
  const out = path.join(dir, 'out');
  await receive({ input: line, out });
  const stick = tmpDir('stick');
  fs.copyFileSync(path.join(out, 'report.html'), path.join(stick, 'report.html'));
  return path.join(stick, 'report.html');
}

test('chromium, offline, loads report.html from a folder of its own: no console message, every chart drawn', async () => {
  const page = await reportOf(15);
  const { console: lines, shot } = openInChromium(page);
  assert.equal(lines, [], 'no console message (a blocked fetch or a script error logs one)');
  assert.is(shot.width, WIDTH);
  assert.is(countColour(shot, EMPTY_FILL, 0, shot.height, 0), 0, 'no chart is an empty placeholder');
  // Each distribution has its own colour (report-html.ts); a bar is thousands of pixels,
  // a legend swatch or a 2-pixel line a few hundred.
  for (const c of [PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[3], PALETTE[4], PALETTE[5]]) {
    const n = countColour(shot, c);
    assert.ok(n > 1500, `${n} pixels of ${c}`);
  }
});

test('chromium: a report without STATUS records shows its time charts as empty placeholders (what the check above looks for)', async () => {
  const page = await reportOf(0);
  const { console: lines, shot } = openInChromium(page);
  assert.equal(lines, []);
  assert.ok(countColour(shot, EMPTY_FILL, 0, shot.height, 0) > 6 * 400 * 100, 'six empty time charts');
});

test('chromium: the console check sees a page that fetches or fails', () => {
  const dir = tmpDir('bad-page');
  const page = path.join(dir, 'bad.html');
  // The report's own policy: an image from the network is refused, and chromium says so.
  fs.writeFileSync(page, `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}"></head><body><img src="http://192.0.2.1/x.png"></body></html>`);
  const { console: lines } = openInChromium(page);
  assert.ok(lines.some((l) => /Content Security Policy/.test(l)), lines.join('\n'));
});

test.run();
