// Test board only (qemu-x86_64-usb): the channel benchmark's USB row (usb-bench says
// when it runs). The gadget is made from the board file by the supervisor's own code;
// once the host has enumerated it (ttyACM0), the benchmark's paced framing step runs
// once per baud with the box's writer on ttyGS0 and the reader on ttyACM0.
// Usage: node usb-bench.js SECONDS RUN...   (RUN: BAUD, fed as fast as the outbox takes it,
// or BAUD@FLOWS: fed FLOWS flows a second, an analysis slower than the line)
'use strict';
const fs = require('fs');
const { spawnSync } = require('child_process');
const { parseUsbGadget, setUpUsbGadget } = require('/opt/sealtap/dist/firmware/supervisor/usb-gadget.js');

const [seconds, ...bauds] = process.argv.slice(2);
const say = (m) => console.log(`usb-bench: ${m}`);
const boardFile = '/opt/sealtap/board/qemu-x86_64-usb/board.json';
const gadget = parseUsbGadget(JSON.parse(fs.readFileSync(boardFile, 'utf8')).usbGadget, boardFile);
say(setUpUsbGadget(gadget));
const tty = gadget.tty;
const deadline = Date.now() + 120_000;
while (!fs.existsSync('/dev/ttyACM0')) {
  if (Date.now() > deadline) { say('FAILED: the host never enumerated the gadget (no /dev/ttyACM0)'); process.exit(1); }
  spawnSync('sleep', ['0.2']);
}
say(`host end /dev/ttyACM0 enumerated`);
for (const run of bauds) {
  const [baud, rate] = run.split('@');
  const r = spawnSync('/opt/sealtap/bin/node', ['/opt/sealtap/dist/bench/channel/main.js', 'paced',
    '--box', tty, '--workstation', '/dev/ttyACM0', '--baud', baud, '--seconds', seconds, ...(rate ? ['--flows-per-second', rate] : [])], { encoding: 'utf8' });
  if (r.status !== 0) say(`FAILED: paced run ${run}: ${(r.stderr || '').trim()}`);
  else say(r.stdout.trim());
}
// The same step on this guest's UART (ttyS1, the production qemu-x86_64 board's results
// line) at that board's 115200 baud (the emulated 16550 takes nothing faster): nobody
// reads it here; its other end is a file on the QEMU host, which bench-channel.sh checks.
const uartBaud = '115200';
const u = spawnSync('/opt/sealtap/bin/node', ['/opt/sealtap/dist/bench/channel/main.js', 'paced',
  '--box', '/dev/ttyS1', '--workstation', 'none', '--baud', uartBaud, '--seconds', seconds], { encoding: 'utf8' });
if (u.status !== 0) say(`FAILED: paced run on ttyS1 at ${uartBaud}: ${(u.stderr || '').trim()}`);
else say(`uart ${u.stdout.trim()}`);
