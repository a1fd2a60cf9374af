// Framing on a real paced line: openChannel on one end of a socat pty pair set to the
// benchmark's baud, so the writer paces itself at baud/10 bytes/s exactly as on a UART,
// BOOT repeats on its timer and CHECKPOINTs come every 64 frames or 5 s. The other end
// is read in this process and decoded as it arrives. Line bytes are everything written:
// the leading delimiter, BOOT, FLOW, CHECKPOINT and END frames. With `line`, the two ends
// are given instead: the USB row runs in the test board qemu-x86_64-usb with the box's
// gadget tty (ttyGS0) and the host's end (ttyACM0) in the same guest
// (board/qemu-x86_64-usb/overlay/usr/lib/sealtap/usb-bench); the reader opens and
// makes its end raw before the box writes, so no byte meets a cooked tty.
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { openChannel } from '../../firmware/channel/writer';
import { makeBoot, makeEnd, makeSigner, newSession, openPtyPair } from '../../test/lib/channel-fixtures';
import { fedRun, FedRun, feedFlows, feedFlowsAtRate, FlowPool } from './feed';
import { LineCheck, LineChecker } from './check-line';
import { ResultsKey } from '../../firmware/channel/frame-seal';

export interface PacedRun extends FedRun {
  baud: number;
  /** null when the line was not read here (PacedSettings.line). */
  received: LineCheck | null;
  /** Flows a second the feed was held to; absent: as fast as the outbox takes them. */
  flowsPerSecond?: number;
  /** Seconds of feeding, and the largest outbox backlog seen meanwhile (sampled every 20 ms). */
  feedSeconds: number;
  peakBacklogBytes: number;
  /** Records the outbox dropped, by type. */
  dropped: Record<string, number>;
}

export interface PacedSettings {
  baud: number;
  seconds: number;
  bootEveryMs: number;
  outboxBytes: number;
  /** Encrypt to this researcher key (the writer gets only the public half). */
  key: ResultsKey | null;
  /** false: no repair frames; 'tty-default': whatever the writer does on a tty when not told. */
  fec: false | 'tty-default';
  /** Feed this many flows a second (an analysis slower than the line) instead of as fast as the outbox takes them. */
  flowsPerSecond?: number;
  /**
   * The box's end and the workstation's end of a line; a socat pty pair when absent.
   * workstation null: nobody reads here (a UART whose other end is a file on the QEMU
   * host, checked there with the `check` step); `received` is then null.
   */
  line?: { box: string; workstation: string | null };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runPaced(pool: FlowPool, o: PacedSettings): Promise<PacedRun> {
  const pty = o.line ? { ...o.line, close: async (): Promise<void> => {} } : await openPtyPair();
  try {
    const checker = new LineChecker(pool, { countWireBytes: true, resultsKey: o.key });
    let lastByteAt = Date.now();
    let reader: tty.ReadStream | null = null;
    if (pty.workstation !== null) {
      reader = new tty.ReadStream(fs.openSync(pty.workstation, fs.constants.O_RDONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK));
      reader.setRawMode(true);
      reader.on('data', (chunk: Buffer) => {
        lastByteAt = Date.now();
        checker.push(chunk);
      });
    }
    const session = newSession();
    // fec left out: the writer picks its tty default.
    const ch = openChannel({
      path: pty.box, baud: o.baud, outboxBytes: o.outboxBytes, bootEveryMs: o.bootEveryMs,
      session, boot: makeBoot(session), signer: makeSigner(), recipient: o.key?.publicKey ?? null,
      ...(o.fec === false ? { fec: false as const } : {}),
    });
    const t0 = process.hrtime.bigint();
    const stopAt = Date.now() + o.seconds * 1000;
    // Half a second of line time queued is enough to keep the paced writer busy.
    const high = Math.max(4096, Math.ceil(o.baud / 10 / 2));
    let peakBacklogBytes = 0;
    const sampler = setInterval(() => { peakBacklogBytes = Math.max(peakBacklogBytes, ch.stats().backlogBytes); }, 20);
    const until = (): boolean => Date.now() >= stopAt;
    const sent = o.flowsPerSecond ? await feedFlowsAtRate(ch, pool, o.flowsPerSecond, until) : await feedFlows(ch, pool, Number.MAX_SAFE_INTEGER, high, until);
    clearInterval(sampler);
    const feedSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const r = await ch.close(makeEnd(sent), 60_000);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (!r.drained) throw new Error(`paced channel did not drain (${r.leftBytes} bytes left)`);
    if (reader) {
      // The pty hands over what the writer wrote within milliseconds; wait until it is quiet.
      while (Date.now() - lastByteAt < 300) await sleep(100);
      reader.destroy();
    }
    const st = ch.stats();
    return {
      ...fedRun(pool, sent, st, seconds, o.key !== null), baud: o.baud, received: reader ? checker.finish(sent) : null,
      ...(o.flowsPerSecond ? { flowsPerSecond: o.flowsPerSecond } : {}), feedSeconds, peakBacklogBytes, dropped: st.dropped,
    };
  } finally {
    await pty.close();
  }
}
