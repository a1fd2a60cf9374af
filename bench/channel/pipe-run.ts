// Throughput into a pipe: the box-side writer (openChannel on a FIFO, which it treats
// as a recording: unpaced, up to 64 KiB per write) against a plain writer that puts the
// very same line bytes into the same kind of FIFO with the same write size. A reader
// process (cat, started by scripts/bench-channel.sh) drains both.
import * as fs from 'node:fs';
import { openChannel } from '../../firmware/channel/writer';
import { makeBoot, makeEnd, makeSigner, newSession } from '../../test/lib/channel-fixtures';
import { fedRun, FedRun, feedFlows, FlowPool } from './feed';

export interface WriterRun extends FedRun {
  dropped: Record<string, number>;
  cpuSeconds: number;
}

export interface WriterSettings {
  fifo: string;
  records: number;
  outboxBytes: number;
  feedHighBytes: number;
  bootEveryMs: number;
  /** The researcher's X25519 public key: encrypt every result frame to it. */
  recipient: Buffer | null;
}

/** Writes `records` flows through openChannel into the FIFO, timed from open to close. */
export async function runWriter(pool: FlowPool, o: WriterSettings): Promise<WriterRun> {
  const session = newSession();
  // The open blocks until the reader has the FIFO open: it is outside the timed span.
  const ch = openChannel({
    path: o.fifo, baud: 921600, outboxBytes: o.outboxBytes, bootEveryMs: o.bootEveryMs,
    session, boot: makeBoot(session), signer: makeSigner(), recipient: o.recipient,
    // Measured without FEC (repair frames are for a UART, not a pipe).
    fec: false,
  });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const sent = await feedFlows(ch, pool, o.records, o.feedHighBytes);
  const r = await ch.close(makeEnd(sent), 600_000);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  if (!r.drained) throw new Error(`channel did not drain (${r.leftBytes} bytes left): is the reader of ${o.fifo} running?`);
  const st = ch.stats();
  return { ...fedRun(pool, sent, st, seconds, o.recipient !== null), dropped: st.dropped, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

export interface PeerRun {
  lineBytes: number;
  seconds: number;
  cpuSeconds: number;
}

/**
 * The peer: the line bytes sealtap produced, already built in memory, written into the
 * FIFO 64 KiB at a time with the same asynchronous fs.write the channel writer uses.
 * It does everything the writer does except make the bytes.
 */
export async function runPeer(fifo: string, lineFile: string): Promise<PeerRun> {
  const bytes = fs.readFileSync(lineFile);
  const fd = fs.openSync(fifo, fs.constants.O_WRONLY);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let off = 0;
  while (off < bytes.length) {
    const len = Math.min(65536, bytes.length - off);
    off += await new Promise<number>((resolve, reject) =>
      fs.write(fd, bytes, off, len, null, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
  await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { lineBytes: bytes.length, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}
