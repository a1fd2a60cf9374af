// Invariants 1 and 3: nothing raw and no key leaves the box or reaches unencrypted
// storage, and every key is zero after stop. The run uses a keyring whose bytes the
// test knows, then scans every byte the box wrote: spool slots, the line, the console,
// the LED files, and the receiver's files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runBox, receive, sampleTrace, tempDir } from '../lib/run-box';
import { fixedMaster } from '../lib/fixed-keyring';
import { Keyring, KeyPurpose } from '../../firmware/keys/keyring';

const work = tempDir('privacy');
const sample = sampleTrace(work);
const marker = Buffer.from(sample.expect.marker as string);

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** Raw address bytes in network order, and their text forms. */
function rawAddresses(): { bytes: Buffer[]; text: string[] } {
  const v4: string[] = sample.expect.addresses.ipv4;
  const v6: string[] = sample.expect.addresses.ipv6 ?? [];
  const bytes = v4.map((a) => Buffer.from(a.split('.').map(Number)));
  return { bytes, text: [...v4, ...v6] };
}

test('no spool byte, console line, line byte or received file carries the payload marker, a raw address or key bytes', async () => {
  const master = fixedMaster(0x33);
  let keyring: Keyring | null = null;
  const keyBytes: Buffer[] = [Buffer.from(master)];
  {
    const probe = Keyring.debugFromBytes(Buffer.from(master));
    for (const p of Object.keys(KeyPurpose) as Array<keyof typeof KeyPurpose>) {
      probe.subkey(p).use((k) => keyBytes.push(Buffer.from(k)));
      probe.subkey(p, 64).use((k) => keyBytes.push(Buffer.from(k)));
    }
    probe.wipe();
  }
  const run = await runBox({
    config: { source: { pcap: sample.file }, outputs: ['flows', 'packets', 'dns'] },
    hooks: { keyring: () => (keyring = Keyring.debugFromBytes(Buffer.from(master))) },
  });
  assert.is(run.code, 0, run.console.join('\n'));
  const r = receive(run.linePath);
  assert.is(r.summary.captured, sample.expect.packets);

  const raw = rawAddresses();
  const consoleText = Buffer.from(run.console.join('\n'));
  const scanned: Array<[string, Buffer]> = [['console', consoleText]];
  for (const f of [...filesUnder(run.dir)]) scanned.push([f, fs.readFileSync(f)]);
  assert.ok(scanned.some(([f]) => f.includes('spool')), 'spool files were scanned');
  for (const [name, data] of scanned) {
    assert.is(data.indexOf(marker), -1, `${name} contains the payload marker`);
    for (const k of keyBytes) {
      // 16-byte windows of each key: a partial leak counts too.
      for (let i = 0; i + 16 <= k.length; i += 8) assert.is(data.indexOf(k.subarray(i, i + 16)), -1, `${name} contains key bytes`);
    }
    if (name.includes('spool') || name.endsWith('.pcap') || name.endsWith('.raw') || name.endsWith('.ipfix')) continue;
    // Text outputs: no raw address in text form (binary files are checked below by decoding).
    const text = data.toString('latin1');
    for (const a of raw.text) assert.not.ok(new RegExp(`(^|[^0-9.:a-f])${a.replace(/\./g, '\\.')}($|[^0-9.:a-f])`).test(text), `${name} contains raw address ${a}`);
  }
  // The anonymized trace carries no raw IPv4 address in any header position.
  const trace = fs.readFileSync(path.join(r.outDir, 'trace.pcap'));
  for (const b of raw.bytes) assert.is(trace.indexOf(b), -1, `trace.pcap contains raw address ${[...b].join('.')}`);

  assert.ok(keyring !== null);
  assert.ok((keyring as unknown as Keyring).wiped, 'the keyring was wiped at stop');
  assert.ok((keyring as unknown as Keyring).debugIsZeroed(), 'every key buffer is zero after stop');
});

test.run();
