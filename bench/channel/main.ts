// Channel benchmark steps, run by scripts/bench-channel.sh (which makes the FIFOs and
// starts the readers). Each step prints one JSON object on stdout; `report` turns the
// saved objects into the table and the verdicts.
//
//   node dist/bench/channel/main.js paced  --baud B --seconds S [--box TTY --workstation TTY|none] [--flows-per-second R]
//   node dist/bench/channel/main.js writer --fifo F --records N
//   node dist/bench/channel/main.js check  --file LINE --records N
//   node dist/bench/channel/main.js peer   --fifo F --file LINE
//   node dist/bench/channel/main.js report --dir DIR --modes "clear encrypted"
//   node dist/bench/channel/main.js keygen --prefix PREFIX
//   node dist/bench/channel/main.js usb-report --dir DIR   (DIR/usb-*.json, uart-*.json: paced runs in QEMU)
//   node dist/bench/channel/main.js profile --file WRITER.cpuprofile
// paced --fec tty-default leaves FEC to the writer's default for a tty (else: off).
// Common: --pool P (distinct flows, default 100000) --seed S (default 1); --key
// PREFIX.key (paced, check) and --recipient HEX (writer) encrypt to a researcher key
// made by keygen, exactly as `sealtap receive keygen` makes it.
import { reportUsb } from './usb-report';
import { flowPool } from './feed';
import { runPaced } from './paced-run';
import { runPeer, runWriter } from './pipe-run';
import { LineChecker } from './check-line';
import { report } from './report';
import { summarizeProfile } from './profile';
import { freeResultsKey, readResultsKey, writeResultsKeyPair } from '../../firmware/receiver/results-key';

function args(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${a}: options are --name value`);
    m.set(a.slice(2), argv[++i]);
  }
  return m;
}

function num(m: Map<string, string>, name: string, dflt?: number): number {
  const v = m.get(name);
  if (v === undefined) {
    if (dflt === undefined) throw new Error(`--${name} is required`);
    return dflt;
  }
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} ${v} is not a positive number`);
  return n;
}

function str(m: Map<string, string>, name: string): string {
  const v = m.get(name);
  if (!v) throw new Error(`--${name} is required`);
  return v;
}

async function main(): Promise<void> {
  const [step, ...rest] = process.argv.slice(2);
  const a = args(rest);
  const pool = (): ReturnType<typeof flowPool> => flowPool(num(a, 'pool', 100_000), num(a, 'seed', 1));
  const outboxBytes = num(a, 'outbox-bytes', 64 * 1024 * 1024);
  const bootEveryMs = num(a, 'boot-every-ms', 5000);
  const key = a.get('key') ? readResultsKey(str(a, 'key')) : null;
  const recipient = a.get('recipient') ? Buffer.from(str(a, 'recipient'), 'hex') : null;
  let out: unknown;
  switch (step) {
    case 'paced':
      out = await runPaced(pool(), { baud: num(a, 'baud', 921600), seconds: num(a, 'seconds', 10), bootEveryMs, outboxBytes, key,
        fec: a.get('fec') === 'tty-default' ? 'tty-default' : false,
        ...(a.get('box') ? { line: { box: str(a, 'box'), workstation: str(a, 'workstation') === 'none' ? null : str(a, 'workstation') } } : {}),
        ...(a.get('flows-per-second') ? { flowsPerSecond: num(a, 'flows-per-second', 0) } : {}),
      });
      break;
    case 'writer':
      out = await runWriter(pool(), {
        fifo: str(a, 'fifo'), records: num(a, 'records'), outboxBytes, bootEveryMs,
        feedHighBytes: num(a, 'feed-high-bytes', 1024 * 1024), recipient,
      });
      break;
    case 'check': {
      const c = new LineChecker(pool(), { resultsKey: key });
      c.pushFile(str(a, 'file'));
      out = c.finish(num(a, 'records'));
      break;
    }
    case 'peer':
      out = await runPeer(str(a, 'fifo'), str(a, 'file'));
      break;
    case 'report':
      process.exitCode = report(str(a, 'dir'), (a.get('modes') ?? 'clear').split(/\s+/).filter(Boolean), num(a, 'pool', 100_000), num(a, 'seed', 1));
      return;
    case 'usb-report':
      process.exitCode = reportUsb(str(a, 'dir'));
      return;
    case 'profile':
      console.log(`where the writer's time goes (${str(a, 'file')}):`);
      for (const r of summarizeProfile(str(a, 'file'))) {
        console.log(`  ${(r.share === null ? '-' : (100 * r.share).toFixed(1) + '%').padStart(6)} ${r.ms.toFixed(0).padStart(7)} ms  ${r.what}`);
      }
      return;
    case 'keygen':
      out = { pub: writeResultsKeyPair(str(a, 'prefix')).pubPath };
      break;
    default:
      throw new Error(`unknown step '${step}': paced, writer, check, peer or report`);
  }
  if (key) freeResultsKey(key);
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e: Error) => {
  process.stderr.write(`bench-channel: ${e.message}\n`);
  process.exit(3);
});
