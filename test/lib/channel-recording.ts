// Helpers to produce recordings of the results line with the real openChannel, and to
// read recordings back with the real LineDecoder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openChannel, Channel, ChannelOptions } from '../../firmware/channel/writer';
import { RecordType, EndRecord } from '../../firmware/channel/records';
import { LineDecoder, RecordSink } from '../../firmware/receiver/decoder';
import { until, pause } from './until';
import { makeBoot, makeDns, makeEnd, makeFlow, makePacket, makeSigner, newSession, tmpDir } from './channel-fixtures';
import { TARGET_BODY_BYTES } from '../../firmware/channel/frame';

/**
 * Waits until the receiver reading the other end of a pty pair hears the line: lone
 * 0x00 delimiters (which every decoder skips) go down `boxTty` until the receiver's
 * recording of the line (`heard`, its DIR/line.raw) holds some. Bytes written before
 * the receiver has opened and set up its tty are lost, as on a real UART, so a test
 * sends its records only after this.
 */
export async function untilHearing(boxTty: string, heard: string, withinMs = 20_000): Promise<void> {
  const fd = fs.openSync(boxTty, fs.constants.O_WRONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
  const delimiter = Buffer.from([0]);
  const size = (): number => { try { return fs.statSync(heard).size; } catch { return 0; } };
  try {
    await until(`the receiver did not hear ${boxTty} (nothing in ${heard})`, () => {
      if (size() > 0) return true;
      try { fs.writeSync(fd, delimiter); } catch { /* a full line: the next check writes again */ }
      return false;
    }, withinMs, 25);
  } finally {
    fs.closeSync(fd);
  }
}

export function channelOn(file: string, over: Partial<ChannelOptions> = {}): { ch: Channel; session: Buffer } {
  const session = over.session ?? newSession();
  const ch = openChannel({
    path: file, baud: 115200, outboxBytes: 1 << 24, bootEveryMs: 1000, session,
    // Frames deflated and 1 KiB as on a UART (a file alone would be neither): recordings
    // stand for the tty line.
    deflate: true, frameBodyBytes: TARGET_BODY_BYTES,
    boot: makeBoot(session), signer: makeSigner(), ...over,
  });
  return { ch, session };
}

/** Sends a mix of every result type in `rounds` ticks; returns how many of each were sent. */
export async function sendMix(ch: Channel, rounds: number, perRound: number, pauseMs = 0): Promise<Record<string, number>> {
  let i = 0;
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < perRound; k++, i++) {
      ch.send(RecordType.FLOW, makeFlow(i));
      if (i % 2 === 0) ch.send(RecordType.DNS, makeDns(i));
      ch.send(RecordType.PACKET, makePacket(i, i % 97 === 0 ? 2500 : 40 + (i % 200)));
    }
    ch.send(RecordType.LOG, { uptimeMs: r * 10, severity: 6, msg: `round ${r}` });
    if (pauseMs > 0) await pause(pauseMs);
    else await new Promise((res) => setImmediate(res));
  }
  return { FLOW: i, DNS: Math.ceil(i / 2), PACKET: i, LOG: rounds };
}

/** A complete recording: BOOT … results … END, in a temporary file. */
export async function recordLine(opts: { rounds?: number; perRound?: number; pauseMs?: number; bootEveryMs?: number; end?: EndRecord; over?: Partial<ChannelOptions> } = {}): Promise<{ file: string; session: Buffer; end: EndRecord; dir: string }> {
  const dir = tmpDir('rec');
  const file = path.join(dir, 'line.bin');
  const { ch, session } = channelOn(file, { bootEveryMs: opts.bootEveryMs ?? 1000, ...opts.over });
  await sendMix(ch, opts.rounds ?? 10, opts.perRound ?? 20, opts.pauseMs ?? 0);
  const end = opts.end ?? makeEnd();
  const r = await ch.close(end, 5000);
  if (!r.drained) throw new Error('recording did not drain');
  return { file, session, end, dir };
}

/** What a decoder delivered, in order. */
export interface Collected {
  types: number[];
  flows: number;
  dns: number;
  packets: Buffer[];
  logs: string[];
  ends: EndRecord[];
  closed: string[];
  boots: Array<Record<string, unknown>>;
  statuses: Array<Record<string, unknown>>;
}

export function collectingSink(): RecordSink & { got: Collected } {
  const got: Collected = { types: [], flows: 0, dns: 0, packets: [], logs: [], ends: [], closed: [], boots: [], statuses: [] };
  return {
    got,
    boot: (_s, b) => void (got.types.push(RecordType.BOOT), got.boots.push(b as unknown as Record<string, unknown>)),
    status: (_s, st) => void (got.types.push(RecordType.STATUS), got.statuses.push(st as unknown as Record<string, unknown>)),
    log: (_s, l) => void (got.types.push(RecordType.LOG), got.logs.push(l.msg)),
    result: (_s, t) => void (got.types.push(t), t === RecordType.FLOW ? got.flows++ : got.dns++),
    packet: (_s, p) => void (got.types.push(RecordType.PACKET), got.packets.push(Buffer.from(p))),
    end: (_s, e) => void (got.types.push(RecordType.END), got.ends.push(e)),
    sessionClosed: (s) => void got.closed.push(`${s.id}:${s.closedBy}`),
  };
}

export function decodeBytes(bytes: Buffer, chunk = 4096): { d: LineDecoder; got: Collected } {
  const sink = collectingSink();
  const d = new LineDecoder(sink);
  for (let o = 0; o < bytes.length; o += chunk) d.push(bytes.subarray(o, o + chunk));
  d.finish();
  return { d, got: sink.got };
}

export function decodeFile(file: string): { d: LineDecoder; got: Collected } {
  return decodeBytes(fs.readFileSync(file));
}
