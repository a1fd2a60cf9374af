// `receive --follow` on a real terminal: tmux runs it on a pty of its own, the box writes
// a socat pty pair, and the test reads tmux's screen (capture-pane), as the operator
// sees it. The status block is redrawn in place under the scrolling log, stops counting
// at END, a new BOOT starts a new block below the old one, and Ctrl-C prints the final
// summary and exits 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { RecordType, StatusRecord } from '../../firmware/channel/records';
import { makeEnd, openPtyPair, tmpDir } from '../lib/channel-fixtures';
import { channelOn } from '../lib/channel-recording';
import { until } from '../lib/until';

const SEALTAP = path.resolve(__dirname, '../../../bin/sealtap');
const SOCKET = `sealtap-live-${process.pid}`;

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The screen as the operator sees it; lines the terminal wrapped come back whole (-J), so
 * a long line (the summary names the output folder, as long as TMPDIR makes it) still
 * matches as one.
 */
function screen(): string {
  return tmux('capture-pane', '-p', '-J', '-t', 'live');
}

/** Waits until the screen satisfies `ok`, or fails after `ms` showing the screen. */
async function untilScreen(what: string, ok: (s: string) => boolean, ms = 20_000): Promise<string> {
  let s = '';
  await until(() => `screen never showed ${what}:\n${s}`, () => ok(s = screen()), ms, 50);
  return s;
}

const count = (s: string, re: RegExp): number => (s.match(new RegExp(re.source, 'gm')) ?? []).length;

function status(i: number): StatusRecord {
  return {
    uptimeMs: 1000 * (i + 1), state: 'capturing', cpuPercent: 99, memUsedBytes: 1e9, memTotalBytes: 4e9, spoolFill: 0.1,
    captured: 100 * i, kernelDropped: 0, spoolDropped: 0, analysed: 90 * i, quarantined: 0, channelBacklogBytes: 0,
    capturedBytes: 30_000 * i, elapsedMs: 1000 * i, stopSeconds: 60, outboxDropped: 0, egressRefused: 0,
    supervisor: { cpuPercent: 9.5, rssBytes: 8e7 }, analysis: { cpuPercent: 31, rssBytes: 1.2e8 },
  };
}

test('receive --follow in a terminal: one block updated in place, stale at END, a new block at a new BOOT, the summary after Ctrl-C', async () => {
  const pty = await openPtyPair();
  const out = path.join(tmpDir('live'), 'out');
  // `trap : INT`: the shell outlives Ctrl-C to print receive's exit status; `exec cat`
  // keeps the pane (and its screen) open afterwards.
  const cmd = `trap : INT; ${SEALTAP} receive ${pty.workstation} --out ${out} --baud 921600 --follow; echo "exit status $?"; exec cat`;
  tmux('new-session', '-d', '-s', 'live', '-x', '160', '-y', '45', 'sh', '-c', cmd);
  try {
    // The block is drawn once the tty is open: bytes sent before that would be lost.
    await untilScreen('the waiting block', (s) => /waiting for the box's BOOT/.test(s));
    const first = channelOn(pty.box, { baud: 921600, bootEveryMs: 300 });
    for (let i = 0; i <= 5; i++) {
      first.ch.send(RecordType.STATUS, status(i));
      first.ch.send(RecordType.LOG, { uptimeMs: 1000 * i, severity: 6, msg: `log line ${i}` });
      // One STATUS at a time, as the box sends them: the next once this one is on the screen.
      await untilScreen(`log line ${i}`, (x) => x.includes(`log line ${i}`));
    }
    let s = await untilScreen('captured 500', (x) => /captured 500 \|/.test(x) && /log line 5/.test(x));
    assert.is(count(s, /^session [0-9a-f]{16} \| board .* \| state capturing$/), 1, `one block:\n${s}`);
    assert.is(count(s, /^capture  captured/), 1, 'one capture line');
    assert.match(s, /time     elapsed 0:05, remaining 0:55 of 1:00/);
    assert.match(s, /capture  captured 500 \| 100 pps \| 0\.24 Mbit\/s \| analysed 450/);
    assert.match(s, /cpu\/mem  box 9\.5% cpu 80 MB \| analysis 31% cpu 120 MB \| host 99% cpu/);
    const rows = s.split('\n');
    const blockTop = rows.findIndex((r) => r.startsWith('session '));
    assert.ok(rows.findIndex((r) => /log line 5/.test(r)) < blockTop, 'the log scrolls above the block');
    assert.not.match(s, /waiting for the box's BOOT/, 'the waiting block was replaced');

    for (let i = 6; i <= 9; i++) {
      first.ch.send(RecordType.STATUS, status(i));
      await untilScreen(`captured ${100 * i}`, (x) => x.includes(`captured ${100 * i} |`));
    }
    s = await untilScreen('captured 900', (x) => /captured 900 \|/.test(x));
    assert.is(count(s, /^capture  captured/), 1, `still one block:\n${s}`);
    assert.not.match(s, /captured 500 \|/, 'the old numbers were overwritten');

    await first.ch.close({ ...makeEnd(2210), reason: 'duration 60 s reached' }, 5000);
    s = await untilScreen('the ended block', (x) => /ENDED: duration 60 s reached/.test(x));
    assert.match(s, /capture  captured 2210 \| average /, 'END\'s final count, not the last STATUS');
    assert.not.match(s, /state capturing/);
    assert.is(count(s, /^capture  captured/), 1);
    // Stale means it stays: after the next rewrite of summary.json (every 3 s, so the
    // block was redrawn at least twice meanwhile) the block reads the same.
    const block = (x: string): string => x.split('\n').filter((r) => /^(session|time|capture|drops|records|line|checks) /.test(r)).join('\n');
    const ended = block(s);
    const stamp = fs.statSync(path.join(out, 'summary.json')).mtimeMs;
    await until('summary.json was not rewritten', () => fs.statSync(path.join(out, 'summary.json')).mtimeMs !== stamp, 10_000, 50);
    assert.is(block(screen()), ended, 'the ended block does not count on');

    // The box reboots: a new session, a new block below the old one.
    const second = channelOn(pty.box, { baud: 921600, bootEveryMs: 300 });
    second.ch.send(RecordType.STATUS, status(1));
    second.ch.send(RecordType.STATUS, status(2));
    const id2 = second.session.toString('hex');
    s = await untilScreen('the new session\'s block', (x) => new RegExp(`^session ${id2} .*state capturing`, 'm').test(x) && /captured 200 \|/.test(x));
    const r2 = s.split('\n');
    const old = r2.findIndex((r) => /ENDED: duration 60 s reached/.test(r));
    const now = r2.findIndex((r) => r.startsWith(`session ${id2}`));
    assert.ok(old >= 0 && old < now, `the ended block stays above the new one:\n${s}`);
    assert.is(count(s, /state capturing$/), 1);

    tmux('send-keys', '-t', 'live', 'C-c');
    s = await untilScreen('the exit status', (x) => /^exit status \d+/m.test(x));
    assert.match(s, /^exit status 0$/m);
    assert.match(s, /^received \d+ frames \(0 bad, 0 missing\), records: /m);
    assert.match(s, /^no END record: the run did not finish on this line/m, 'the second session had no END');
    assert.match(s, /the run report: .*report\.html$/m);
    assert.ok(s.indexOf(`session ${id2}`) < s.indexOf('received '), 'the summary comes after the last block');
    await second.ch.close(makeEnd(), 500);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.is(summary.sessions.length, 2);
  } finally {
    spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
    await pty.close();
  }
});

test.run();
