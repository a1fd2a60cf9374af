// tcp-rtt: the TCP handshake round-trip time seen from the tap, one record of the `rtt`
// stream per completed handshake. Written with the sealtap analysis SDK (docs/sdk.md);
// the stream and the type of each field are declared in run.json.
//
// The tap sits between clients and servers, so a handshake splits into two halves:
// SYN -> SYN/ACK is the server side's round trip (tap to server and back), SYN/ACK ->
// ACK the client side's. Both are reported, with the server's address and port: the
// record says "this service answered in so long", never which client asked.
'use strict';
const { defineModule } = require('sealtap/sdk');

const TCP = 6;
const SYN = 0x02;
const ACK = 0x10;
/** A handshake not completed within this much packet time is forgotten. */
const TIMEOUT_US = 10e6;
/** Handshakes followed at once; a SYN beyond that is not followed (memory is bounded). */
const MAX_PENDING = 100000;

module.exports = defineModule(() => {
  // "client|server|cport|sport" -> { synUs, synAckUs, server (Buffer), port }
  const pending = new Map();

  const addr = (buf, off, len) => buf.toString('latin1', off, off + len);

  return {
    name: 'tcp-rtt',
    onPacket(view, buf, tsUs, emit) {
      if (view.ipProto !== TCP || view.srcPort < 0 || view.isFragment) return;
      const flags = view.tcpFlags & (SYN | ACK);
      const src = addr(buf, view.ipSrcOff, view.ipAddrLen);
      const dst = addr(buf, view.ipDstOff, view.ipAddrLen);
      if (flags === SYN) {
        const k = `${src}|${dst}|${view.srcPort}|${view.dstPort}`;
        if (pending.has(k)) return; // a retransmitted SYN: keep the first
        if (pending.size >= MAX_PENDING) return;
        // Copy the server's address: buf is reused for the next packet.
        pending.set(k, { synUs: tsUs, synAckUs: -1, server: Buffer.from(buf.subarray(view.ipDstOff, view.ipDstOff + view.ipAddrLen)), port: view.dstPort });
      } else if (flags === (SYN | ACK)) {
        const h = pending.get(`${dst}|${src}|${view.dstPort}|${view.srcPort}`);
        if (h && h.synAckUs < 0) h.synAckUs = tsUs;
      } else if (flags === ACK) {
        const k = `${src}|${dst}|${view.srcPort}|${view.dstPort}`;
        const h = pending.get(k);
        if (!h || h.synAckUs < 0) return;
        pending.delete(k);
        emit.record('rtt', {
          server: h.server,
          port: h.port,
          serverRttUs: h.synAckUs - h.synUs,
          clientRttUs: tsUs - h.synAckUs,
          at: h.synUs,
        });
      }
    },
    onTimer(tsUs) {
      for (const [k, h] of pending) if (tsUs - h.synUs > TIMEOUT_US) pending.delete(k);
    },
    onEnd() {
      // Handshakes still open at the end never completed: nothing to report.
      pending.clear();
    },
  };
});
