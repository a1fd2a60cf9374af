// port-histogram: traffic per server port, as one record of the `ports` stream per
// port and per interval of packet time. Written with the sealtap analysis SDK
// (docs/sdk.md); the stream and the type of each field are declared in run.json.
//
// Each record says: in this interval, clients sent `packets`/`bytes` to this server
// port over this protocol, and the servers answered with `revPackets`/`revBytes`.
// The record describes a port, not a host: the stream has no address field at all.
// Ports seen in fewer than MIN_PACKETS packets in an interval are folded into port 0
// ("other"), so a rare port cannot single out one user.
'use strict';
const { defineModule } = require('sealtap/sdk');

/** Seconds of packet time per histogram. Intervals start on whole multiples of it. */
const INTERVAL_S = 10;
/** Ports with fewer packets than this in an interval are reported as port 0. */
const MIN_PACKETS = 5;

const TCP = 6;
const UDP = 17;

/** The server's side of a conversation: a well-known port if one side has one, else the lower port. */
function serverPort(src, dst) {
  if (dst < 1024 && src >= 1024) return dst;
  if (src < 1024 && dst >= 1024) return src;
  return Math.min(src, dst);
}

module.exports = defineModule(() => {
  // key(ipVersion, protocol, port) -> [packets, bytes, revPackets, revBytes, tcpFlags, revTcpFlags]
  let counts = new Map();
  let intervalStart = -1;
  const key = (version, protocol, port) => version * 2 ** 24 + protocol * 65536 + port;

  function flush(emit, endUs) {
    // Ports under the threshold are added into port 0 of their IP version and protocol.
    const rows = new Map();
    for (const [k, c] of counts) {
      const into = c[0] + c[2] < MIN_PACKETS ? k - (k % 65536) : k;
      const row = rows.get(into);
      if (row === undefined) rows.set(into, c.slice());
      else {
        for (let i = 0; i < 4; i++) row[i] += c[i];
        row[4] |= c[4];
        row[5] |= c[5];
      }
    }
    // A fixed order: the same packets always give the same records in the same places.
    for (const k of [...rows.keys()].sort((a, b) => a - b)) {
      const c = rows.get(k);
      // Times go in raw: the trusted side shifts and coarsens them as the policy says.
      emit.record('ports', {
        ipVersion: Math.floor(k / 2 ** 24) === 4 ? 'ip4' : 'ip6',
        protocol: Math.floor(k / 65536) % 256,
        port: k % 65536,
        firstUs: intervalStart,
        lastUs: endUs,
        packets: c[0],
        bytes: c[1],
        revPackets: c[2],
        revBytes: c[3],
        tcpFlags: c[4],
        revTcpFlags: c[5],
      });
    }
    counts = new Map();
  }

  return {
    name: 'port-histogram',
    onPacket(view, buf, tsUs, emit) {
      const p = view.ipProto;
      if ((p !== TCP && p !== UDP) || view.srcPort < 0 || view.isFragment) return;
      const start = Math.floor(tsUs / (INTERVAL_S * 1e6)) * INTERVAL_S * 1e6;
      if (intervalStart < 0) intervalStart = start;
      else if (start !== intervalStart) {
        flush(emit, start);
        intervalStart = start;
      }
      const port = serverPort(view.srcPort, view.dstPort);
      const k = key(view.ipVersion, p, port);
      let c = counts.get(k);
      if (c === undefined) {
        c = [0, 0, 0, 0, 0, 0];
        counts.set(k, c);
      }
      // Toward the server port counts as forward, from it as reverse.
      const toServer = view.dstPort === port;
      c[toServer ? 0 : 2] += 1;
      c[toServer ? 1 : 3] += view.origLen;
      if (p === TCP) c[toServer ? 4 : 5] |= view.tcpFlags;
    },
    onEnd(tsUs, emit) {
      if (intervalStart >= 0) flush(emit, tsUs);
    },
  };
});
