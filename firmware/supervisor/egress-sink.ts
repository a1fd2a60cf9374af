// Where the analysis' records go in the supervisor: through the egress guard, then into
// the results channel, counted. PACKET records arrive packed (one byte string per run
// of packets, each a whole pcap record): the guard checks each where it lies, and each
// stretch of records it passed goes to the channel as one run, with no view or queue
// entry per record; other records arrive as objects. The guard's keyed hashes need the egress key open, and
// opening it costs two mprotect calls, so it is opened once per batch (nested uses
// cost nothing), not once per record.
import type { OutRecord } from '../analysis/ipc';
import type { EgressGuard } from '../egress/guard';
import { PacketRefusal, packetRefusalNames } from '../egress/packet-record';
import { RecordType, recordTypeName } from '../channel/records';
import { pcapRecordBytes } from '../spool/pcap-records';
import type { SecretKey } from '../keys/secret-key';
import type { OperatorLog } from './oplog';
import type { RunCounters } from './counters';

export interface EgressSinkDeps {
  guard: EgressGuard;
  egressKey: SecretKey;
  /** Queues a record for the line; false when the outbox refused it (counted there). */
  send(type: RecordType, body: object | Buffer): boolean;
  /** Queues a run of `count` PACKET records (Channel.sendPackets); how many were queued. */
  sendPackets(run: Buffer, count: number): number;
  counters: RunCounters;
  log: OperatorLog;
  linkType(): number;
  /** Counts records that went into the channel, by type (n of them, 1 when not given). */
  countRecord(type: number, n?: number): void;
}

export interface EgressSink {
  records(records: OutRecord[]): void;
  packets(bytes: Buffer, count: number): void;
}

export function egressSink(d: EgressSinkDeps): EgressSink {
  const { guard, counters, log, countRecord } = d;
  const refused = (type: number, packet: boolean): void => {
    counters.egressRefused++;
    if (counters.egressRefused === 1 || counters.egressRefused % 1000 === 0) {
      // A packet the guard cannot check completely is refused as well as one with a raw value.
      const why = packet && guard.lastRefusal !== PacketRefusal.rawValue ? `it cannot check completely (${packetRefusalNames[guard.lastRefusal]})` : 'carrying a raw address';
      log.warn(`egress guard refused a ${recordTypeName[type]} record ${why} (${counters.egressRefused} so far)`);
    }
  };
  const onePacket = (rec: Buffer, linkType: number): void => {
    if (!guard.passesPacket(rec, linkType)) return refused(RecordType.PACKET, true);
    if (d.send(RecordType.PACKET, rec)) countRecord(RecordType.PACKET);
  };
  return {
    records: (recs) => d.egressKey.use(() => {
      const linkType = d.linkType();
      for (const r of recs) {
        if (r.body instanceof Uint8Array) {
          onePacket(Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength), linkType);
        } else if (!guard.passesJson(r.body)) {
          refused(r.type, false);
        } else if (d.send(r.type as RecordType, r.body)) {
          countRecord(r.type);
        }
      }
    }),
    packets: (bytes, count) => {
      const linkType = d.linkType();
      // [from, off): the records passed since the last refusal, `passed` of them.
      let from = 0;
      let passed = 0;
      let off = 0;
      let i = 0;
      const sendRun = (): void => {
        if (passed === 0) return;
        const n = d.sendPackets(bytes.subarray(from, off), passed);
        if (n > 0) countRecord(RecordType.PACKET, n);
      };
      const check = (): void => {
        // The host let only records that tile the bytes through (validFromChild); one that
        // claimed more would end at the bytes' end, its caplen then wrong: refused.
        const end = Math.min(bytes.length, off + pcapRecordBytes(bytes, off));
        if (guard.passesPacketAt(bytes, off, end, linkType)) {
          passed++;
        } else {
          sendRun();
          refused(RecordType.PACKET, true);
          from = end;
          passed = 0;
        }
        off = end;
        i++;
      };
      // Common records of known conversations are passed a run at a time, in one call
      // into C (guard.passesRunAt); the first record that call cannot pass is checked
      // here in full, and the next run starts after it.
      const step = (): void => {
        const n = guard.passesRunAt(bytes, off, count - i, linkType);
        if (n > 0) {
          passed += n;
          i += n;
          off = guard.runEnd;
        }
        if (i < count) check();
      };
      // A batch of packets of known conversations needs no key: the guard finds every
      // value in its cache. Once it had to open the key for one, the rest of the batch
      // is checked with the key held open, one pair of mprotect calls for all.
      const opens = guard.keyOpens;
      while (i < count && guard.keyOpens === opens) step();
      if (i < count) d.egressKey.use(() => { while (i < count) step(); });
      sendRun();
    },
  };
}
