// README.txt in the results folder: what the run was (firmware, module, privacy
// statement) and what each file holds, with the counts summary.json has.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RecordType } from '../../firmware/channel/records';
import { receive } from '../../firmware/receiver/receive';
import { makeBoot, makeEnd, newSession, tmpDir } from '../lib/channel-fixtures';
import { channelOn } from '../lib/channel-recording';

const PRIVACY = 'a1'.repeat(32);
const MODULE = { bytes: 3645, blake2b: 'b2'.repeat(32) };
const RTT = { fields: { rttUs: { type: 'duration', max: 1000, unit: 'microseconds', transform: 'rounded down to 1000 us, 0 to 1000', bits: 10 } }, maxPerSecond: 10, minCount: null };

async function received(boot: Record<string, unknown>, send: (ch: ReturnType<typeof channelOn>['ch']) => void, end = true): Promise<string> {
  const dir = tmpDir('readme');
  const file = path.join(dir, 'line.bin');
  const session = newSession();
  const { ch } = channelOn(file, { session, boot: { ...makeBoot(session), ...boot } });
  send(ch);
  await ch.close(makeEnd(), 5000);
  // A line cut before its END, as when the box lost power.
  if (!end) fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
  const out = path.join(dir, 'out');
  await receive({ input: file, out });
  return fs.readFileSync(path.join(out, 'README.txt'), 'utf8');
}

test('README.txt names the firmware, the module and the privacy statement, and lists every file with its count', async () => {
  const text = await received({ privacy: PRIVACY, module: MODULE, streams: { rtt: RTT } }, (ch) => {
    for (let i = 0; i < 3; i++) ch.send(RecordType.STREAM, { stream: 'rtt', record: { rttUs: i * 1000 } });
  });
  const boot = makeBoot(newSession());
  assert.match(text, new RegExp(`Analysis firmware: ${boot.firmware.name} ${boot.firmware.version} \\(bundle manifest ${boot.firmware.hash}\\)`));
  assert.match(text, `Module:            3645 bytes, BLAKE2b-256 ${MODULE.blake2b}`);
  assert.match(text, `Privacy statement: ${PRIVACY}`);
  assert.match(text, 'sealtap bundle inspect FILE.sfw --privacy');
  assert.match(text, /Complete: +yes/);
  assert.match(text, /  rtt\.jsonl +3 records of the module's stream rtt/);
  assert.match(text, /  schema\.json +each stream's fields: type, unit, the transform/);
  for (const f of ['summary.json', 'log.txt', 'flows.jsonl', 'flows.ipfix', 'dns.jsonl', 'trace.pcap', 'line.raw']) assert.match(text, new RegExp(`^  ${f.replace('.', '\\.')} `, 'm'), f);
});

test('README.txt says plainly when a run is incomplete and when the module ran unsandboxed', async () => {
  const text = await received({ sandbox: 'off' }, (ch) => {
    for (let i = 0; i < 200; i++) ch.send(RecordType.LOG, { uptimeMs: i, severity: 6, msg: `line ${i}` });
  }, false);
  assert.match(text, /Complete: +NO: the run's END did not arrive/);
  assert.match(text, /Sandbox: +OFF/);
  assert.match(text, /Module: +none \(built-in analysis only\)/);
  assert.match(text, /Privacy statement: not announced/);
});

test('text from the line is escaped in README.txt', async () => {
  const boot = makeBoot(newSession());
  const text = await received({ firmware: { ...boot.firmware, name: 'evil\u001b[2J\nname' }, privacy: 'not a hash\u001b[31m' }, () => {});
  assert.not.match(text, /\u001b/);
  assert.match(text, /Privacy statement: not announced/);
  assert.not.match(text, /evil\n/);
});

test.run();
