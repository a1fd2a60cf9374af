// The USB row of the channel benchmark: the paced framing step run in the test board
// qemu-x86_64-usb (writer on the gadget's ttyGS0, reader on the host's ttyACM0, both in
// one emulated guest), printed beside the same step on the host's pty at 921600 baud
// (`clear-paced.json`) when the run made one, and on the same guest's UART (ttyS1, read
// from its file on the QEMU host). Emulated: not a hardware figure.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PacedRun } from './paced-run';

const n0 = (x: number): string => Math.round(x).toLocaleString('en-US').replace(/,/g, ' ');

function row(label: string, r: PacedRun): string {
  const paced = r.baud / 10;
  const line = r.lineBytes / r.seconds;
  const intact = r.received === null ? 'NOT CHECKED' : r.received.ok ? 'arrived intact' : `NOT INTACT: ${r.received.why.join('; ')}`;
  const dropped = Object.values(r.dropped ?? {}).reduce((a, b) => a + b, 0);
  const outbox = r.peakBacklogBytes === undefined ? '' :
    `; outbox: peak ${n0(r.peakBacklogBytes)} bytes, ${(r.seconds - r.feedSeconds).toFixed(1)} s to drain after the feed stopped, ${n0(dropped)} dropped`;
  return `  ${label.padEnd(44)} ${n0(line).padStart(8)} line bytes/s (${((100 * line) / paced).toFixed(0)}% of the pacing), ` +
    `${n0(r.records / r.seconds).padStart(6)} flows/s, ${n0(r.records)} flows in ${r.seconds.toFixed(1)} s, ${intact}${outbox}`;
}

const label = (r: PacedRun): string =>
  `USB gadget, paced as ${n0(r.baud)} baud${r.flowsPerSecond ? `, fed ${n0(r.flowsPerSecond)} flows/s` : ''}`;

/**
 * Prints the USB rows from DIR/usb-<baud>[-<flows/s>].json and the UART rows from
 * DIR/uart-<baud>.json; returns 3 when a line did not arrive intact, 2 when there is no
 * USB run.
 */
export function reportUsb(dir: string): number {
  const load = (re: RegExp): PacedRun[] => fs.readdirSync(dir).filter((f) => re.test(f))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as PacedRun);
  const runs = load(/^usb-\d+(-\d+)?\.json$/)
    .sort((a, b) => a.baud - b.baud || (b.flowsPerSecond ?? Infinity) - (a.flowsPerSecond ?? Infinity));
  if (runs.length === 0) {
    console.log('usb: no run (see usb-console.log)');
    return 2;
  }
  // The UART rows (uart-<baud>.json): written in the guest to ttyS1, whose other end is a
  // file on the QEMU host, checked there (bench-channel.sh puts the check in `received`).
  const uart = load(/^uart-\d+\.json$/);
  console.log('usb: the paced framing step through the CDC-ACM gadget in QEMU (dummy_hcd, TCG: emulated), clear, FEC off');
  const pty = path.join(dir, 'clear-paced.json');
  if (fs.existsSync(pty)) console.log(row(`pty on this host, ${n0(runs[0].baud)} baud`, JSON.parse(fs.readFileSync(pty, 'utf8')) as PacedRun));
  for (const r of uart) console.log(row(`UART in the same guest (ttyS1), ${n0(r.baud)} baud`, r));
  for (const r of runs) console.log(row(label(r), r));
  console.log('  (fed as fast as the outbox takes it: the feed keeps half a second of pacing queued; fed N flows/s: an analysis slower than the line)');
  return [...runs, ...uart].every((r) => r.received?.ok) ? 0 : 3;
}
