/** Writes a generated trace to a pcap file and returns its ground truth. */
import { generateBulk } from './bulk';
import { GroundTruth, GroundTruthCollector } from './ground-truth';
import { PcapWriter } from './pcap-writer';
import { generateSample } from './sample';

export type Kind = 'sample' | 'imix' | 'small64' | 'large1500';

export interface GenerateOptions {
  out: string;
  kind: Kind;
  packets: number;
  seed: number;
  marker: string;
  ipv6: boolean;
  /** Concurrent flows of the bench kinds. */
  flows: number;
}

/** 2024-03-01T12:00:00Z: every file starts here, so the same seed gives the same bytes. */
export const START_US = 1709294400 * 1e6;
export const DEFAULT_MARKER = 'SEALTAP-MARKER-7f3a';

export interface Expectation extends GroundTruth {
  kind: Kind;
  seed: number;
  marker: string;
  ipv6: boolean;
  firstTimestampUs: number;
  lastTimestampUs: number;
}

/**
 * The marker goes into URLs, HTTP headers, TLS ALPN and DNS options: plain letters,
 * digits, '-', '_' and '.' are safe in all of them.
 */
export function checkMarker(marker: string): void {
  if (!/^[A-Za-z0-9._-]{4,64}$/.test(marker)) {
    throw new Error(`--marker ${JSON.stringify(marker)}: use 4 to 64 characters from A-Z a-z 0-9 . _ -`);
  }
}

export function generate(o: GenerateOptions): Expectation {
  checkMarker(o.marker);
  if (!Number.isInteger(o.packets) || o.packets < 1) throw new Error(`--packets must be a positive whole number, got ${o.packets}`);
  const writer = new PcapWriter(o.out);
  const truth = new GroundTruthCollector();
  let first = 0;
  let last = 0;
  try {
    if (o.kind === 'sample') {
      const frames = generateSample({ packets: o.packets, seed: o.seed, marker: o.marker, ipv6: o.ipv6, startUs: START_US });
      for (const f of frames) {
        writer.write(f.t, f.frame);
        truth.observe(f.frame, 0, f.frame.length);
      }
      first = frames[0].t;
      last = frames[frames.length - 1].t;
    } else {
      const sink = {
        reserve: (n: number) => writer.reserve(n),
        commit: (t: number, n: number) => {
          if (first === 0) first = t;
          last = t;
          writer.commit(t, n);
        },
      };
      const shapes = generateBulk({ kind: o.kind, packets: o.packets, seed: o.seed, marker: o.marker, ipv6: o.ipv6, startUs: START_US, flows: o.flows }, sink);
      for (const s of shapes) truth.observe(s.example, 0, s.example.length, s.count);
    }
  } finally {
    writer.close();
  }
  return { kind: o.kind, seed: o.seed, marker: o.marker, ipv6: o.ipv6, firstTimestampUs: first, lastTimestampUs: last, ...truth.result() };
}
