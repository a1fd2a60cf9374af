/**
 * samplegen: deterministic sample and benchmark traffic as a classic pcap file.
 *   node dist/tools/samplegen/main.js --out FILE [--packets N] [--seed S] [--marker M]
 *        [--kind sample|imix|small64] [--ipv6] [--flows N] [--expect]
 * Prints the ground truth as JSON on stdout, or with --expect writes it to FILE.expect.json.
 */
import * as fs from 'fs';
import { DEFAULT_MARKER, GenerateOptions, Kind, generate } from './generate';

const USAGE =
  'usage: samplegen --out FILE [--packets N] [--seed S] [--marker M] [--kind sample|imix|small64] [--ipv6] [--flows N] [--expect]';

function wholeNumber(flag: string, v: string | undefined): number {
  if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${flag} needs a whole number, got ${JSON.stringify(v)}\n${USAGE}`);
  return Number(v);
}

export function parseArgs(argv: string[]): GenerateOptions & { expect: boolean } {
  const o = { out: '', kind: 'sample' as Kind, packets: 0, seed: 1, marker: DEFAULT_MARKER, ipv6: false, flows: 1024, expect: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--out': o.out = argv[++i] ?? ''; break;
      case '--packets': o.packets = wholeNumber(a, argv[++i]); break;
      case '--seed': o.seed = wholeNumber(a, argv[++i]); break;
      case '--marker': o.marker = argv[++i] ?? ''; break;
      case '--flows': o.flows = wholeNumber(a, argv[++i]); break;
      case '--ipv6': o.ipv6 = true; break;
      case '--expect': o.expect = true; break;
      case '--kind': {
        const k = argv[++i];
        if (k !== 'sample' && k !== 'imix' && k !== 'small64') throw new Error(`--kind must be sample, imix or small64, got ${JSON.stringify(k)}`);
        o.kind = k;
        break;
      }
      default:
        throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    }
  }
  if (!o.out) throw new Error(`--out FILE is required\n${USAGE}`);
  if (o.packets === 0) o.packets = o.kind === 'sample' ? 2000 : 1_000_000;
  return o;
}

export function main(argv: string[]): number {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`samplegen: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    const truth = generate(opts);
    const json = JSON.stringify(truth, null, 2);
    if (opts.expect) {
      fs.writeFileSync(`${opts.out}.expect.json`, `${json}\n`);
      process.stderr.write(`samplegen: wrote ${truth.packets} packets to ${opts.out}, ground truth in ${opts.out}.expect.json\n`);
    } else {
      process.stdout.write(`${json}\n`);
    }
    return 0;
  } catch (e) {
    process.stderr.write(`samplegen: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
