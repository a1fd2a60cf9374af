// Test board only (qemu-x86_64-usb): one attachment of the workstation's end of the USB
// results line. Copies every byte of ttyACM0 to fd 3 (the virtio port) until the device
// goes away, and creates the file named by the second argument when the box's first
// bytes arrive; with a third argument, writes it into the line toward the box then.
//
// The box's bytes wait in the gadget and pour in the moment the port is opened, into a
// tty that opens cooked (cdc-acm's default termios: a re-enumerated ttyACM0 does not keep
// the raw mode set on the last one). What arrives before raw mode is mangled or thrown
// away there (^C, ^Z and ^\ flush the input), and the box re-sends it once the line has
// been read for a while (firmware/channel/line-resume.ts). Raw mode is set in the same
// tick as the open (node's tty raw mode: tcsetattr, TCSADRAIN),
// and the port is never flushed: a separate stty would leave the first bytes to the
// cooked line discipline (echoed, CR turned into NL, ^S/^Q eaten), and serialport or
// microcom flush input at open (TCIOFLUSH, TCSAFLUSH), which throws away exactly the
// backlog a host finds when it comes back.
'use strict';
const fs = require('fs');
const tty = require('tty');
const [path, flowing, probe] = process.argv.slice(2);
const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
const line = new tty.ReadStream(fd);
line.setRawMode(true);
line.on('data', (d) => fs.writeSync(3, d));
line.once('data', () => fs.writeFileSync(flowing, ''));
// The probe goes once the box's bytes flow, so it crosses them.
// The tty is non-blocking (node's tty stream): the box never reads its end, so once the
// gadget's buffer toward it is full a write says EAGAIN. That is the box not listening,
// not a failure of the copy, which goes on.
if (probe) {
  line.once('data', () => {
    try {
      fs.writeSync(fd, probe);
      console.log('usb-host: wrote a probe into the line toward the box');
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      console.log('usb-host: the line toward the box is full (EAGAIN: the box reads none of it); no probe this time');
    }
  });
}
line.on('error', () => process.exit(0));
line.on('end', () => process.exit(0));
