// Framing on a real paced line: openChannel on one end of a socat pty pair set to the
// benchmark's baud, so the writer paces itself at baud/10 bytes/s exactly as on a UART,
// BOOT repeats on its timer and CHECKPOINTs come every 64 frames or 5 s. The other end
// is read in this process and decoded as it arrives. Line bytes are everything written:
// the leading delimiter, BOOT, FLOW, CHECKPOINT and END frames.
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { openChannel } from '../../firmware/channel/writer';
import { makeBoot, makeEnd, makeSigner, newSession, openPtyPair } from '../../test/lib/channel-fixtures';
import { fedRun, FedRun, feedFlows, FlowPool } from './feed';
import { LineCheck, LineChecker } from './check-line';
import { ResultsKey } from '../../firmware/channel/frame-seal';

export interface PacedRun extends FedRun {
  baud: number;
  received: LineCheck;
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
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runPaced(pool: FlowPool, o: PacedSettings): Promise<PacedRun> {
  const pty = await openPtyPair();
  try {
    const rfd = fs.openSync(pty.workstation, fs.constants.O_RDONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
    const reader = new tty.ReadStream(rfd);
    reader.setRawMode(true);
    const checker = new LineChecker(pool, { countWireBytes: true, resultsKey: o.key });
    let lastByteAt = Date.now();
    reader.on('data', (chunk: Buffer) => {
      lastByteAt = Date.now();
      checker.push(chunk);
    });
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
    const sent = await feedFlows(ch, pool, Number.MAX_SAFE_INTEGER, high, () => Date.now() >= stopAt);
    const r = await ch.close(makeEnd(sent), 60_000);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (!r.drained) throw new Error(`paced channel did not drain (${r.leftBytes} bytes left)`);
    // The pty hands over what the writer wrote within milliseconds; wait until it is quiet.
    while (Date.now() - lastByteAt < 300) await sleep(100);
    reader.destroy();
    const st = ch.stats();
    return { ...fedRun(pool, sent, st, seconds, o.key !== null), baud: o.baud, received: checker.finish(sent) };
  } finally {
    await pty.close();
  }
}
