/**
 * samplegen: deterministic sample and benchmark traffic as a classic pcap file.
 * The ground truth (what a correct analysis must find) goes to FILE.expect.json with
 * --expect, or to stdout with --print-truth; by default only the pcap is written, so
 * scripts that run samplegen do not get a page of JSON on their terminal.
 * Exit codes: 0 written, 1 it could not be written, 2 a usage mistake (nothing written).
 */
import * as fs from 'fs';
import { DEFAULT_MARKER, GenerateOptions, Kind, checkMarker, generate } from './generate';

const USAGE =
  'usage: samplegen --out FILE [--packets N] [--seed S] [--marker M] [--kind sample|imix|small64|large1500] [--ipv6] [--flows N] [--expect] [--print-truth]';

const HELP = `${USAGE}

Writes deterministic sample or benchmark traffic to FILE as a classic pcap
(little-endian, microseconds, Ethernet): the same options give the same bytes.

options:
  --out FILE        the pcap file to write (required)
  --kind K          sample (default): TCP/HTTP, TLS, DNS, ICMP, IPv6, ARP, VLAN;
                    imix: flows in the IMIX size mix; small64: all 64-byte frames;
                    large1500: all 1518-byte frames (a full 1500-byte MTU)
  --packets N       how many packets: default 2000 for sample, 1000000 otherwise
  --seed S          the seed of the generator, a whole number (default 1)
  --marker M        the payload marker tests look for in outputs, 4 to 64 characters
                    from A-Z a-z 0-9 . _ - (default ${DEFAULT_MARKER})
  --ipv6            IPv6 flows beside the IPv4 ones (not with small64)
  --flows N         imix/small64/large1500: concurrent flows, 2 to 65536 (default 1024)
  --expect          write the ground truth (packets, flows, addresses...) as JSON to
                    FILE.expect.json
  --print-truth     print the ground truth as JSON on stdout
  --help            this text

Without --expect or --print-truth, stdout stays empty; a line on stderr says what
was written. Exit status: 0 written, 1 the file could not be written (a partial
file is removed), 2 a usage mistake (nothing is written).`;

function wholeNumber(flag: string, v: string | undefined): number {
  if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${flag} needs a whole number, got ${JSON.stringify(v)}\n${USAGE}`);
  return Number(v);
}

export function parseArgs(argv: string[]): GenerateOptions & { expect: boolean; printTruth: boolean } {
  const o = { out: '', kind: 'sample' as Kind, packets: 0, seed: 1, marker: DEFAULT_MARKER, ipv6: false, flows: 1024, expect: false, printTruth: false };
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
      case '--print-truth': o.printTruth = true; break;
      case '--kind': {
        const k = argv[++i];
        if (k !== 'sample' && k !== 'imix' && k !== 'small64' && k !== 'large1500') throw new Error(`--kind must be sample, imix, small64 or large1500, got ${JSON.stringify(k)}`);
        o.kind = k;
        break;
      }
      default:
        throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    }
  }
  if (!o.out) throw new Error(`--out FILE is required\n${USAGE}`);
  if (o.packets === 0) o.packets = o.kind === 'sample' ? 2000 : 1_000_000;
  // Checked here, before the pcap is opened, so a bad value is a usage mistake that writes nothing.
  checkMarker(o.marker);
  if (o.kind === 'small64' && o.ipv6) throw new Error('--kind small64 cannot use --ipv6: a 60-byte frame has no room for IPv6 and UDP; use --kind imix --ipv6');
  if (o.kind !== 'sample' && (o.flows < 2 || o.flows > 65536)) throw new Error(`--flows must be 2 to 65536, got ${o.flows}`);
  return o;
}

/** One sentence for a file system error on --out, naming the path and the fix. */
function writeError(file: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `cannot write ${file}: its folder does not exist; create it or choose another --out`;
  if (code === 'EISDIR') return `cannot write ${file}: it is a directory; give a file name, e.g. --out ${file.replace(/\/+$/, '')}/sample.pcap`;
  if (code === 'EACCES' || code === 'EPERM') return `cannot write ${file}: permission denied; choose another --out or fix its permissions`;
  if (code === 'ENOSPC') return `cannot write ${file}: the disk is full; free space or choose another --out`;
  return (e as Error).message;
}

export function main(argv: string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`samplegen: ${(e as Error).message}\n`);
    return 2;
  }
  let wrote = false;
  try {
    const truth = generate(opts);
    wrote = true;
    const json = JSON.stringify(truth, null, 2);
    if (opts.expect) fs.writeFileSync(`${opts.out}.expect.json`, `${json}\n`);
    if (opts.printTruth) process.stdout.write(`${json}\n`);
    process.stderr.write(`samplegen: wrote ${truth.packets} packets to ${opts.out}` +
      (opts.expect ? `, ground truth in ${opts.out}.expect.json\n` : '\n'));
    return 0;
  } catch (e) {
    // A partial pcap (disk full, a failure mid-way) is worse than none: scripts test for the file.
    if (!wrote) removePartial(opts.out);
    else if (opts.expect) removePartial(`${opts.out}.expect.json`);
    process.stderr.write(`samplegen: ${writeError(wrote ? `${opts.out}.expect.json` : opts.out, e)}\n`);
    return 1;
  }
}

function removePartial(file: string): void {
  try {
    if (fs.statSync(file).isFile()) fs.rmSync(file);
  } catch {
    // nothing there, or not a file samplegen made
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
