// What the receiver knows about one session (one boot of the box).
import { BootRecord, EndRecord, StatusRecord } from '../channel/records';
import type { CheckpointRecord } from '../channel/checkpoint';
import { SeqTracker } from './gaps';
import type { FecRepair } from './fec-repair';
import type { HeldFrame } from './held-boot';

export interface CheckpointReport {
  verified: number;
  failed: number;
  /** Frame ranges [first, last] proven intact by a signed checkpoint. */
  verifiedRanges: Array<[number, number]>;
  /** Ranges a checkpoint covered but that could not be proven, with the reason. */
  unverifiedRanges: Array<{ from: number; to: number; reason: string }>;
}

export class SessionState {
  boot: BootRecord | null = null;
  checkpointKey: Buffer | null = null;
  bootRecords = 0;
  readonly seq = new SeqTracker();
  frames = 0;
  readonly records: Record<string, number> = {};
  end: EndRecord | null = null;
  status: StatusRecord | null = null;
  /** Records whose body did not parse (JSON) or whose frame body did not inflate. */
  badRecords = 0;
  /** STREAM records written, per stream name (a Map: names such as "constructor" are valid). */
  readonly streamRecords = new Map<string, number>();
  /** STREAM records not written (stream-files.ts says why). */
  refusedStreamRecords = 0;
  /** Long records lost because one of their fragments was lost. */
  lostFragmentedRecords = 0;
  /** Encrypted frames this receiver could not open: no --key, or a key the session was not sealed to. */
  encryptedFrames = 0;
  /** Encrypted frames opened with the session key. */
  decryptedFrames = 0;
  /** The session key from BOOT's sealedKey (secure memory), once opened; freed at the end of input. */
  sessionKey: Buffer | null = null;
  /** FEC: rebuilds lost frames and delivers in order, when BOOT announces repair frames. */
  fec: FecRepair | null = null;
  /** Frames rebuilt from FEC repair frames (they count as received, not missing). */
  repairedFrames = 0;
  /** Repair frames received. */
  repairFrames = 0;
  /** Rebuilt frames that failed their CRC or had the wrong sequence number (hostile parity). */
  badRebuilds = 0;
  /** Why the session key could not be opened ('no key', 'wrong key'), or null. */
  keyProblem: 'no key' | 'wrong key' | null = null;
  /** Frames held until the session's BOOT arrived (late attach), and frames dropped because it never came. */
  heldBeforeBoot: HeldFrame[] = [];
  lostBeforeBoot = 0;
  readonly digests = new Map<number, Buffer>();
  /** Hashes of verified checkpoints by the last frame they cover: the chain link of the next (verify.ts). */
  readonly verifiedHashes = new Map<number, string>();
  /** Checkpoints that failed only for missing frames, verified if those arrive late (verify.ts). */
  readonly waitingCheckpoints: CheckpointRecord[] = [];
  readonly checkpoints: CheckpointReport = { verified: 0, failed: 0, verifiedRanges: [], unverifiedRanges: [] };
  fragment: { type: number; total: number; buf: Buffer; got: number; lastSeq: number } | null = null;
  /** Host time the first frame and the last frame of this session arrived. */
  firstSeenMs = Date.now();
  lastSeenMs = Date.now();
  closedBy: 'end' | 'new session' | 'end of input' | null = null;

  constructor(readonly id: string, readonly sessionBytes: Buffer) {}

  opened(): boolean {
    return this.boot !== null;
  }

  count(name: string, n = 1): void {
    this.records[name] = (this.records[name] ?? 0) + n;
  }
}
