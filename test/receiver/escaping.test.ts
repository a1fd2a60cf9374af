// Text from the line reaches the operator's terminal and log.txt: a hostile or damaged
// line must not be able to drive the terminal (clear it, retitle it, overwrite a line,
// reverse text). Control characters are shown as visible escapes; plain text is not touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { RecordType } from '../../firmware/channel/records';
import { receive } from '../../firmware/receiver/receive';
import { escapeLineText, lineJson } from '../../firmware/receiver/escape-text';
import { makeBoot, makeEnd, newSession, tmpDir } from '../lib/channel-fixtures';
import { channelOn } from '../lib/channel-recording';
import { LineDecoder } from '../../firmware/receiver/decoder';
import { LiveView } from '../../firmware/receiver/live-view';
import { RunTimeline } from '../../firmware/receiver/run-timeline';

const SEALTAP = path.resolve(__dirname, '../../../bin/sealtap');

/** Clear screen, set window title, carriage return, right-to-left override. */
const HOSTILE = 'a\x1b[2Jb\x1b]0;title\x07c\rd\u202ee';
const SHOWN = 'a\\x1b[2Jb\\x1b]0;title\\x07c\\x0dd\\u{202e}e';
/** What must never reach a terminal or log.txt raw: ESC, BEL, CR, U+202E. */
const RAW = /[\x1b\x07\r\u202e]/;

async function hostileLine(): Promise<{ line: string; dir: string }> {
  const dir = tmpDir('escape');
  const line = path.join(dir, 'line.bin');
  const session = newSession();
  const boot = makeBoot(session);
  const { ch } = channelOn(line, {
    session,
    boot: { ...boot, board: `board-${HOSTILE}`, version: `v-${HOSTILE}`, firmware: { name: `fw-${HOSTILE}`, version: `1-${HOSTILE}`, hash: `h-${HOSTILE}` } },
  });
  ch.send(RecordType.LOG, { uptimeMs: 1500, severity: 4, msg: `msg-${HOSTILE}` });
  ch.send(RecordType.STATUS, {
    uptimeMs: 1600, state: HOSTILE, cpuPercent: 1, memUsedBytes: 1, memTotalBytes: 2, spoolFill: 0,
    captured: `c-${HOSTILE}`, kernelDropped: 0, spoolDropped: 0, analysed: 0, quarantined: 0, channelBacklogBytes: `b-${HOSTILE}`,
  });
  await ch.close({ ...makeEnd(), reason: `end-${HOSTILE}`, captured: `n-${HOSTILE}` as unknown as number }, 5000);
  return { line, dir };
}

test('escapeLineText: control characters become visible escapes, printable text stays as it is', () => {
  assert.is(escapeLineText(HOSTILE), SHOWN);
  assert.is(escapeLineText('spool 80% full, eth1 up: ünïcode ✓ \\x1b'), 'spool 80% full, eth1 up: ünïcode ✓ \\x1b');
  assert.is(escapeLineText('\x00\t\n\x7f\x80\x9b\u2028\u2029\u202a\u2066\u2069'), '\\x00\\x09\\x0a\\x7f\\x80\\x9b\\u{2028}\\u{2029}\\u{202a}\\u{2066}\\u{2069}');
  assert.is(escapeLineText(JSON.parse('{"toString": 1}')), '{"toString":1}', 'an object from the line is shown as JSON, not a TypeError');
});

test('a line whose BOOT, LOG, STATUS and END text holds escape sequences: console and log.txt show them escaped, never raw', async () => {
  const { line, dir } = await hostileLine();
  const out = path.join(dir, 'out');
  const printed: string[] = [];
  await receive({ input: line, out, follow: true, print: (l) => printed.push(l) });
  const consoleText = printed.join('\n');
  const log = fs.readFileSync(path.join(out, 'log.txt'), 'utf8');
  for (const [what, text] of [['console', consoleText], ['log.txt', log]]) {
    assert.not.match(text, RAW, `${what} holds no raw ESC, BEL, CR or U+202E`);
    for (const field of ['v-', 'board-', 'fw-', 'msg-', 'end-', 'n-']) assert.ok(text.includes(field + SHOWN), `${what} shows ${field}… escaped`);
  }
  // A recording is read faster than the block is redrawn: the block shows END's counters.
  assert.ok(consoleText.includes(`captured n-${SHOWN}`), 'the status block shows END escaped');
  assert.ok(log.split('\n').every((l) => l === '' || l.startsWith('<')), 'every log.txt line is one RFC 5424 line');
  // The HOSTNAME field of a log.txt line is the board, escaped, and still one token.
  assert.match(log, / board-a\\x1b\[2Jb\\x1b\]0;title\\x07c\\x0dd\\u\{202e\}e sealtap - LOG /);
});

test('the status block shows a STATUS whose text holds escape sequences escaped, while the session runs', async () => {
  const { line } = await hostileLine();
  const bytes = fs.readFileSync(line);
  const timeline = new RunTimeline();
  const none = (): void => undefined;
  const d: LineDecoder = new LineDecoder({ boot: none, status: (s, st) => timeline.add(s, st, d.bytesRead), log: none, result: none, packet: none, end: none, sessionClosed: none });
  const view = new LiveView(d, timeline, null);
  const blocks: string[] = [];
  // Rendered after every 32 bytes: some block falls between the STATUS and the END.
  for (let i = 0; i < bytes.length; i += 32) {
    d.push(bytes.subarray(i, i + 32));
    blocks.push(view.lines(1000 + i).join('\n'));
  }
  const running = blocks.filter((b) => b.includes(`captured c-${SHOWN}`));
  assert.ok(running.length > 0, 'a block shows STATUS captured escaped');
  assert.ok(running.every((b) => b.includes(`line backlog b-${SHOWN} B`) && b.includes(`state ${SHOWN}`)), 'and its other text fields');
  assert.ok(blocks[blocks.length - 1].includes(`ENDED: end-${SHOWN}`), 'the last block says the session ended, escaped');
  for (const b of blocks) assert.not.match(b, RAW);
});

test('summary.json keeps line text exact, with C1, U+2028 and bidi characters as \\u escapes', async () => {
  const { line, dir } = await hostileLine();
  const out = path.join(dir, 'out');
  await receive({ input: line, out });
  const raw = fs.readFileSync(path.join(out, 'summary.json'), 'utf8');
  assert.not.match(raw, RAW);
  assert.ok(raw.includes('\\u202e') && raw.includes('\\u001b'), 'escaped in JSON');
  const summary = JSON.parse(raw);
  assert.is(summary.board, `board-${HOSTILE}`, 'parses back to exactly what was sent');
  assert.is(summary.firmware.hash, `h-${HOSTILE}`);
  assert.is(summary.sessions[0].end.reason, `end-${HOSTILE}`);
  assert.is(lineJson('\u0085\u2028\u2067\x7f'), '"\\u0085\\u2028\\u2067\\u007f"');
});

test('the CLI summary prints no line text: an END counter that is not a number is null in summary.json', async () => {
  const { line, dir } = await hostileLine();
  const out = path.join(dir, 'out');
  const r = spawnSync(SEALTAP, ['receive', line, '--out', out], { encoding: 'utf8', timeout: 30000 });
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stdout + r.stderr, RAW);
  assert.match(r.stdout, /box: captured null, analysed 995/);
  assert.is(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).captured, null);
});

test('line text that is a JSON object with its own toString is shown as JSON and does not stop the receiver', async () => {
  const dir = tmpDir('tostring');
  const line = path.join(dir, 'line.bin');
  const session = newSession();
  const hostile = { toString: 1, valueOf: 1 } as unknown as string;
  const { ch } = channelOn(line, { session, boot: { ...makeBoot(session), board: hostile, version: hostile, linkType: hostile as unknown as number } });
  ch.send(RecordType.LOG, { uptimeMs: hostile, severity: 6, msg: hostile });
  ch.send(RecordType.LOG, { uptimeMs: 2, severity: 6, msg: 'still here' });
  await ch.close({ ...makeEnd(), reason: hostile }, 5000);
  const out = path.join(dir, 'out');
  const summary = await receive({ input: line, out });
  assert.is(summary.complete, true);
  assert.is(summary.sessions[0].badRecords, 0);
  const log = fs.readFileSync(path.join(out, 'log.txt'), 'utf8');
  assert.match(log, /still here/);
  assert.match(log, /started: sealtap {"toString":1,"valueOf":1} on board {"toString":1,"valueOf":1}/);
  assert.match(log, /ended \({"toString":1,"valueOf":1}\)/);
});

test.run();
