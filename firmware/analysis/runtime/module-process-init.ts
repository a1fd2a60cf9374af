// What the trusted analysis process tells the module's process at start (one INIT
// frame of JSON, written by trusted code), kept apart from module-process.ts so the
// trusted side can import it without starting a runtime.
import type { Streams } from '../streams/schema';

export interface ModuleInit {
  /** Absolute path of the researcher's module file (inside the sandbox, read-only). */
  module: string;
  linkType: number;
  flows: { maxFlows: number; idleSeconds: number; activeSeconds: number };
  streams: Streams;
  /** Positions to skip: packets that stopped the analysis twice. */
  quarantine: number[];
  /** Write each packet's position before touching it, up to this segment. */
  carefulUntilSeq: number;
  /** Packet time before the first segment, so ticks fall on the same packets after a restart. */
  prevTsUs: number | null;
  heartbeatMs: number;
}

/** End-of-run place: after every packet position (the same as the trusted runtime's). */
export const endPosition = Number.MAX_SAFE_INTEGER;
