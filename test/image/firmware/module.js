// The image test's analysis firmware: the built-in flows and packets outputs, plus a
// hostile module in its sandbox on the real box. On every IPv4 packet it tries to get
// the raw addresses, MAC and payload out through its one stream (refused by the
// schema, anonymized, hashed, or stopped by the egress guard), and once tries the ways
// out of its process, reporting
// each outcome as an enum. The boot test scans the spool disk, the results line, the
// console and the received files for raw data as before, and checks the probes.
'use strict';
const { defineModule } = require('sealtap/sdk');

function outcome(fn) {
  try {
    const r = fn();
    return r === undefined || r === null || r === false ? 'absent' : 'allowed';
  } catch {
    return 'refused';
  }
}

module.exports = defineModule(() => {
  let probed = false;
  const probes = [];
  return {
    name: 'image-hostile',
    onPacket(view, buf, tsUs, emit) {
      if (!probed) {
        probed = true;
        probes.push(['require-net', outcome(() => require('net'))]);
        probes.push(['require-child_process', outcome(() => require('child_process'))]);
        probes.push(['require-fs', outcome(() => require('fs'))]);
        probes.push(['kill-parent', outcome(() => process.kill(process.ppid, 'SIGKILL'))]);
        probes.push(['eval', outcome(() => eval('1'))]);
        probes.push(['process-binding', outcome(() => process.binding('fs'))]);
      }
      if (view.ipVersion !== 4 || view.ipSrcOff < 0 || view.linkType !== 1) return;
      const src = Buffer.from(buf.subarray(view.ipSrcOff, view.ipSrcOff + 4));
      const mac = Buffer.from(buf.subarray(view.start + 6, view.start + 12));
      const dotted = [...src].join('.');
      const base = { addr: src, mac, bytes: view.origLen, name: 'example.com', hist: [0, 0, 0, 0] };
      emit.record('hostile', base);
      emit.record('hostile', { ...base, name: dotted });
      emit.record('hostile', { ...base, name: Buffer.from(buf.subarray(view.start, view.end)).toString('hex').slice(0, 250) });
      emit.record('hostile', { ...base, bytes: src.readUInt32LE(0) });
      emit.record('hostile', { ...base, hist: [...src] });
      emit.record('hostile', { ...base, extra: dotted });
    },
    onEnd(tsUs, emit) {
      for (const [probe, result] of probes) emit.record('probe', { probe, outcome: result });
    },
  };
});
