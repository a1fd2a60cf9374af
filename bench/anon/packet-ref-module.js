// Benchmark module (scripts/bench-anon.sh, end-to-end rows): references every packet
// it sees, so the sandboxed module path carries the same packets output as the
// built-in: plaintext segments into the module's sandbox, one packet reference per
// packet back, the trusted rewriter, the egress guard, the line, the receiver.
'use strict';
const { defineModule } = require('sealtap/sdk');

module.exports = defineModule(() => ({
  name: 'packet-ref',
  onPacket(view, buf, tsUs, emit) {
    emit.packet();
  },
}));
