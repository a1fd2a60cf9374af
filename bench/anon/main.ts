/**
 * The sealtap side of `make bench-anon` (scripts/bench-anon.sh runs it):
 *   node dist/bench/anon/main.js packets --in IN.pcap --out OUT.pcap [--payload drop|zero]
 *   node dist/bench/anon/main.js flows --in IN.pcap
 * packets: decode + the built-in packets analysis under the default policy (addresses
 * Crypto-PAn), the records written to OUT.pcap. flows: decode + the built-in flows
 * analysis, records counted. Keys come from a fresh Keyring, as on the box, unless
 * --seed-keys-file (64 hex digits in a file) gives a fixed master (to compare the outputs of two builds with cmp).
 * Prints one JSON line: packets, records, seconds and cpuSeconds (user + system) of the
 * processing loop only (from the first read to the output closed), and the process's
 * peak RSS in KiB.
 */
import * as fs from 'node:fs';
import { AnonPrimitives, bindAnonymizer } from '../../firmware/analysis/anonymizer';
import { flowsModule } from '../../firmware/analysis/builtin/flows/module';
import { packetsModule } from '../../firmware/analysis/builtin/packets/module';
import { decodePacket, PacketView } from '../../firmware/decode';
import type { AnalysisModule, Emit, ModuleContext } from '../../firmware/analysis/builtin/api';
import { validatePolicy } from '../../firmware/anonymize/policy';
import { flowDefaults } from '../../firmware/analysis/builtin/flows/flowTable';
import { Keyring } from '../../firmware/keys/keyring';
import { PcapChunkReader, PcapChunkWriter } from './pcap-stream';

const USAGE = 'usage: main.js packets --in IN.pcap --out OUT.pcap [--payload drop|zero] [--seed-keys-file FILE] | flows --in IN.pcap [--seed-keys-file FILE]';

interface Args {
  mode: 'packets' | 'flows';
  input: string;
  output: string;
  payload: 'drop' | 'zero';
  /** Benchmark checks only: a fixed 32-byte master so two builds' outputs can be compared byte for byte. */
  seedKeys: Buffer | null;
}

function parseArgs(argv: string[]): Args {
  const mode = argv[0];
  if (mode !== 'packets' && mode !== 'flows') throw new Error(`first argument must be packets or flows\n${USAGE}`);
  const a: Args = { mode, input: '', output: '', payload: 'drop', seedKeys: null };
  for (let i = 1; i < argv.length; i += 2) {
    const flag = argv[i];
    const v = argv[i + 1];
    switch (flag) {
      case '--in': a.input = v ?? ''; break;
      case '--out': a.output = v ?? ''; break;
      case '--payload':
        if (v !== 'drop' && v !== 'zero') throw new Error(`--payload must be drop or zero, got ${JSON.stringify(v)}`);
        a.payload = v;
        break;
      case '--seed-keys-file': {
        // Key material, even if only a benchmark's: read from a file (never the command
        // line, which ps and /proc show to everyone) and never echoed back.
        let text: string;
        try {
          text = fs.readFileSync(v ?? '', 'utf8').trim();
        } catch (e) {
          throw new Error(`--seed-keys-file: cannot read ${JSON.stringify(v)}: ${(e as Error).message}`);
        }
        if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new Error('--seed-keys-file must hold 64 hex digits (a 32-byte master for a reproducible run)');
        a.seedKeys = Buffer.from(text, 'hex');
        break;
      }
      default: throw new Error(`unknown argument ${JSON.stringify(flag)}\n${USAGE}`);
    }
  }
  if (!a.input) throw new Error(`--in IN.pcap is required\n${USAGE}`);
  if (mode === 'packets' && !a.output) throw new Error(`packets needs --out OUT.pcap\n${USAGE}`);
  return a;
}

/** The context the runtime builds for one level (firmware/analysis/modules.ts), with this run's fresh keys. */
function moduleContext(keyring: Keyring, payload: 'drop' | 'zero', linkType: number): ModuleContext {
  const policy = validatePolicy(payload === 'zero' ? { extends: 'default', fields: { payload: 'zero' } } : { extends: 'default' });
  const prim = new AnonPrimitives({
    address: keyring.subkey('address'),
    mac: keyring.subkey('mac'),
    ident: keyring.subkey('ident'),
    time: keyring.subkey('time'),
    flow: keyring.subkey('flow'),
  });
  const fields = policy.fields;
  const flows = { maxFlows: flowDefaults.maxFlows, idleSeconds: flowDefaults.idleTimeoutUs / 1e6, activeSeconds: flowDefaults.activeTimeoutUs / 1e6 };
  return { anon: bindAnonymizer(prim, policy, fields), linkType, flows, policy, fields, prim };
}

function run(a: Args): Record<string, number | string> {
  // --seed-keys-file: fixed keys, so an optimisation can be checked to leave the output
  // unchanged byte for byte (cmp against a reference made before it). Default: fresh keys.
  const keyring = a.seedKeys ? Keyring.debugFromBytes(a.seedKeys) : Keyring.generate();
  a.seedKeys?.fill(0);
  const reader = new PcapChunkReader(a.input);
  const ctx = moduleContext(keyring, a.payload, reader.linkType);
  const writer = a.mode === 'packets' ? new PcapChunkWriter(a.output, reader.linkType) : null;
  let records = 0;
  const emit: Emit = {
    flow() { records++; },
    dns() { records++; },
    packet(rec, n) { records++; writer!.write(rec, n); },
  };
  const module: AnalysisModule = a.mode === 'packets' ? packetsModule(ctx) : flowsModule(ctx);
  const view = new PacketView();
  const linkType = reader.linkType;
  let packets = 0;
  let lastTsUs = 0;
  let nextTimerUs = -1;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  while (reader.next()) {
    const tsUs = reader.tsUs;
    // Ticks at the first packet of each new second of packet time, as the analysis child does.
    if (nextTimerUs < 0) nextTimerUs = (Math.floor(tsUs / 1e6) + 1) * 1e6;
    else if (tsUs >= nextTimerUs) {
      nextTimerUs = (Math.floor(tsUs / 1e6) + 1) * 1e6;
      module.onTimer?.(tsUs, emit);
    }
    decodePacket(linkType, reader.chunk, reader.dataOff, reader.caplen, reader.origLen, view);
    module.onPacket(view, reader.chunk, tsUs, emit);
    lastTsUs = tsUs;
    packets++;
  }
  module.onEnd?.(lastTsUs, emit);
  writer?.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  reader.close();
  keyring.wipe();
  return {
    mode: a.mode,
    payload: a.payload,
    packets,
    records,
    seconds: Number(seconds.toFixed(4)),
    mpps: Number((packets / seconds / 1e6).toFixed(4)),
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(4)),
    outputBytes: writer?.bytes ?? 0,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
}

export function main(argv: string[]): number {
  let a: Args;
  try {
    a = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`bench-anon: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    process.stdout.write(`${JSON.stringify(run(a))}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`bench-anon: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
