import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig, loadConfig, ConfigError, autoShards } from '../../firmware/supervisor/config';

const base = '/tmp';
const good = () => ({
  source: { pcap: 'in.pcap', speed: 'max' },
  spool: { dir: 'spool', bytes: 64 * 1024 * 1024 },
  channel: { path: 'line.raw' },
});

function refuses(name: string, mutate: (c: Record<string, any>) => void, field: RegExp): void {
  test(name, () => {
    const c: Record<string, any> = good();
    mutate(c);
    try {
      validateConfig(c, base);
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.match((e as Error).message, field);
      return;
    }
    assert.unreachable('config was accepted');
  });
}

test('accepts a minimal config and fills sensible defaults', () => {
  const c = validateConfig(good(), base);
  assert.equal(c.source, { kind: 'pcap', path: '/tmp/in.pcap', speed: 'max' });
  assert.is(c.spool.dir, '/tmp/spool');
  assert.is(c.spool.segmentBytes, 4 * 1024 * 1024);
  assert.is(c.spool.onFull, 'wait');
  assert.is(c.channel.baud, 115200);
  assert.equal(c.outputs, ['flows']);
  assert.is(c.policy, 'default');
  assert.is(c.stop.endOfSource, true);
  assert.is(c.stop.seconds, null);
});

test('a live interface drops on a full spool and has no end of source', () => {
  const c = validateConfig({ ...good(), source: { interface: 'eth1', filter: 'tcp' } }, base);
  assert.equal(c.source, { kind: 'interface', name: 'eth1', filter: 'tcp', snaplen: 65535, bufferBytes: 64 * 1024 * 1024, threads: 1 });
  assert.is(c.spool.onFull, 'drop');
  assert.is(c.stop.endOfSource, false);
});

refuses('refuses an unknown top-level key', (c) => { c.sorce = {}; }, /run\.json\.sorce: unknown key/);
refuses('refuses a config without source', (c) => { delete c.source; }, /run\.json\.source: is required/);
refuses('refuses a config without spool', (c) => { delete c.spool; }, /run\.json\.spool: is required/);
refuses('refuses a config without channel', (c) => { delete c.channel; }, /run\.json\.channel: is required/);
refuses('refuses a source with both pcap and interface', (c) => { c.source.interface = 'eth0'; }, /source: give either/);
refuses('refuses a source with neither pcap nor interface', (c) => { c.source = {}; }, /source: needs "pcap"/);
refuses('refuses an unknown replay speed', (c) => { c.source.speed = 'fast'; }, /source\.speed: must be "max" or "original"/);
refuses('refuses a capture filter libpcap cannot compile, before any interface is opened', (c) => { c.source = { interface: 'eth1', filter: 'tcp port banana' }; }, /source\.filter: libpcap cannot compile "tcp port banana": .*banana/);
refuses('refuses source.threads outside 1..16', (c) => { c.source = { interface: 'eth1', threads: 0 }; }, /source\.threads/);
refuses('refuses stop.packets with several capture threads', (c) => { c.source = { interface: 'eth1', threads: 2 }; c.stop = { packets: 10 }; }, /stop\.packets: counts packets in one capture thread/);
refuses('refuses a filter on a pcap source', (c) => { c.source.filter = 'tcp'; }, /source\.filter: only applies to an "interface" source/);
refuses('refuses an unknown key in source', (c) => { c.source.rate = 1; }, /source\.rate: unknown key/);
refuses('refuses a spool smaller than two segments', (c) => { c.spool.bytes = 1024; }, /spool\.bytes: must be between/);
refuses('refuses a spool size that is not a number', (c) => { c.spool.bytes = '1G'; }, /spool\.bytes: must be a number/);
refuses('refuses a fractional segment size', (c) => { c.spool.segmentBytes = 100000.5; }, /spool\.segmentBytes: must be a whole number/);
refuses('refuses an empty spool dir', (c) => { c.spool.dir = ''; }, /spool\.dir: must be a non-empty string/);
refuses('refuses waiting on a full spool for a live interface', (c) => { c.source = { interface: 'eth1' }; c.spool.onFull = 'wait'; }, /spool\.onFull: "wait" is only possible for a pcap source/);
refuses('refuses an unknown onFull policy', (c) => { c.spool.onFull = 'overwrite'; }, /spool\.onFull: must be "drop" or "wait"/);
refuses('refuses a baud rate out of range', (c) => { c.channel.baud = 12; }, /channel\.baud: must be between 300/);
refuses('refuses an unknown key in channel', (c) => { c.channel.parity = 'even'; }, /channel\.parity: unknown key/);
refuses('refuses a negative stop duration', (c) => { c.stop = { seconds: -1 }; }, /stop\.seconds: must be between/);
refuses('refuses a fractional packet count', (c) => { c.stop = { packets: 1.5 }; }, /stop\.packets: must be a whole number/);
refuses('refuses end of source for a live interface', (c) => { c.source = { interface: 'eth1' }; c.stop = { endOfSource: true }; }, /stop\.endOfSource: a live interface has no end/);
refuses('refuses an unknown output', (c) => { c.outputs = ['flows', 'pcapng']; }, /outputs: unknown output "pcapng"/);
refuses('refuses an output listed twice', (c) => { c.outputs = ['flows', 'flows']; }, /outputs: lists an output twice/);
refuses('refuses outputs that are not a list', (c) => { c.outputs = 'flows'; }, /outputs: must be a list/);
refuses('refuses an empty policy path', (c) => { c.policy = ''; }, /policy: must be a file path or "default"/);
refuses('refuses an unknown key in analysis', (c) => { c.analysis = { debug: true }; }, /analysis\.debug: unknown key/);
refuses('refuses analysis.shards of 0', (c) => { c.analysis = { shards: 0 }; }, /analysis\.shards: must be between 1 and 16/);
refuses('refuses analysis.shards above 16', (c) => { c.analysis = { shards: 17 }; }, /analysis\.shards: must be between 1 and 16/);
refuses('refuses analysis.shards that is neither a number nor "auto"', (c) => { c.analysis = { shards: 'all' }; }, /analysis\.shards: must be a whole number from 1 to 16, or "auto"/);
refuses('refuses a fractional analysis.shards', (c) => { c.analysis = { shards: 1.5 }; }, /analysis\.shards: must be a whole number/);

test('analysis.shards: a number as given; "auto" and the default leave two cores to the supervisor and capture', () => {
  assert.is(validateConfig({ ...good(), analysis: { shards: 3 } }, base).analysis.shards, 3);
  const auto = autoShards(os.availableParallelism());
  assert.is(validateConfig({ ...good(), analysis: { shards: 'auto' } }, base).analysis.shards, auto);
  assert.is(validateConfig(good(), base).analysis.shards, auto);
  assert.equal([1, 2, 3, 4, 8, 64].map(autoShards), [1, 1, 1, 2, 6, 16]);
});

refuses('refuses a flow table below 16 entries', (c) => { c.flows = { maxFlows: 2 }; }, /flows\.maxFlows: must be between 16/);

test('resolves relative paths against the config file directory', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-cfg-'));
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ ...good(), policy: 'policy.json' }));
  const c = loadConfig(path.join(dir, 'run.json'));
  assert.is(c.channel.path, path.join(dir, 'line.raw'));
  assert.is(c.policy, path.join(dir, 'policy.json'));
  fs.rmSync(dir, { recursive: true });
});

test('refuses a config file that is not JSON, naming the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-cfg-'));
  fs.writeFileSync(path.join(dir, 'run.json'), '{ "source": ');
  assert.throws(() => loadConfig(path.join(dir, 'run.json')), /run\.json is not valid JSON/);
  fs.rmSync(dir, { recursive: true });
});

test('refuses a missing config file with the fix', () => {
  assert.throws(() => loadConfig('/nonexistent/run.json'), /cannot read config \/nonexistent\/run\.json: ENOENT; pass --config/);
});

test.run();
