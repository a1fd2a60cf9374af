// Every side effect the supervisor's decisions go through: time and timers, randomness
// and key generation, files and ttys, the box's commands (cryptsetup, ip, nft,
// poweroff), the LEDs (files under /sys/class/leds), and the parts of the pipeline that
// run threads and processes (capture, analysis) or hold the disk and the line (spool,
// channel). realSys does them; a test's Sys records them instead, so a run can be
// replayed on a fake clock as a transcript ("given these events, it did these
// actions"), while component tests exercise the real parts.
import * as fs from 'node:fs';
import * as sodium from 'sodium-native';
import { Keyring } from '../keys/keyring';
import { SpoolRing, SpoolRingOptions } from '../spool/ring';
import { AeadChoice, chooseSegmentAead } from '../spool/segment';
import { Capture, CaptureEvents, CaptureOptions, SpareCaptureThreads } from '../capture/capture';
import { AnalysisEvents, AnalysisHost, AnalysisHostOptions } from '../analysis/host';
import { jailProblem } from '../analysis/jail/jail';
import { SpareAnalyses } from '../analysis/sandbox';
import { Channel, ChannelOptions, openChannel } from '../channel/writer';
import { CommandSys, realCommands } from './commands';
import { HostHealth, sampleHealth } from './health';

export interface Timer {
  cancel(): void;
}

/** What the supervisor does with a running capture. */
export interface CaptureControl {
  /** Hands a slot back to the capture thread. */
  release(slot: number): void;
  /** Asks capture to stop; onDone follows. */
  stop(): void;
  kernelDropped(): number;
  /** Times capture found every segment buffer busy and waited for one. */
  slotWaits(): number;
  /** Ends the capture threads at once (a second signal). */
  terminate(): Promise<void>;
}

/** What the supervisor does with the analysis. */
export interface AnalysisControl {
  start(): void;
  segmentPublished(seq: number): void;
  /** No more segments will come: finish, then the finished event follows. */
  finish(): void;
  /** Ends the analysis now; resolves once its processes have exited (they map the spool's files). */
  stop(): Promise<void>;
  /** Process id of the running analysis, null between a death and its restart. */
  pid(): number | null;
}

export interface Sys {
  /** Monotonic milliseconds. */
  now(): number;
  after(ms: number, fn: () => void): Timer;
  every(ms: number, fn: () => void): Timer;

  /** Bytes from the kernel RNG. */
  randomBytes(n: number): Buffer;
  /** The per-boot master secret, from the kernel RNG, in locked memory. */
  generateKeyring(): Keyring;

  writeFile(file: string, data: string): void;
  mkdirp(dir: string): void;
  readFile(file: string): Buffer;
  /** Whether a path is a device under /dev (symlinks followed): the channel is a tty, not a recording. */
  isTty(path: string): boolean;
  /** One operator log line to the console (stderr: stdout stays free for machine output). */
  console(line: string): void;

  /** The box's programs: cryptsetup, mkfs.ext4, mount, ip, nft, poweroff. */
  commands: CommandSys;
  /** Why the analysis module's sandbox cannot be built here, or null. */
  sandboxProblem(): string | null;
  /** The faster segment AEAD on this CPU, measured. */
  chooseSegmentAead(): AeadChoice;
  /** Host CPU and memory for STATUS. */
  sampleHealth(): Promise<HostHealth>;

  openSpool(o: SpoolRingOptions): SpoolRing;
  openChannel(o: ChannelOptions): Channel;
  /** Capture, its threads taken from `spares` while they last (capture.ts SpareCaptureThreads). */
  startCapture(o: CaptureOptions, e: CaptureEvents, spares?: SpareCaptureThreads | null): CaptureControl;
  startAnalysis(o: AnalysisHostOptions, e: AnalysisEvents): AnalysisControl;
  /** n analysis processes started ahead of need (sandbox.ts SpareAnalyses), or null where there are none. */
  preforkAnalysis(readablePaths: string[], spawnsModule: boolean, n: number): SpareAnalyses | null;
}

function isDevicePath(p: string): boolean {
  try {
    return fs.realpathSync(p).startsWith('/dev/');
  } catch {
    return p.startsWith('/dev/');
  }
}

export const realSys: Sys = {
  now: () => performance.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
  every: (ms, fn) => {
    const t = setInterval(fn, ms);
    return { cancel: () => clearInterval(t) };
  },
  randomBytes: (n) => {
    const b = Buffer.alloc(n);
    sodium.randombytes_buf(b);
    return b;
  },
  generateKeyring: () => Keyring.generate(),
  writeFile: (file, data) => fs.writeFileSync(file, data),
  mkdirp: (dir) => fs.mkdirSync(dir, { recursive: true }),
  readFile: (file) => fs.readFileSync(file),
  isTty: isDevicePath,
  console: (line) => process.stderr.write(line + '\n'),
  commands: realCommands,
  sandboxProblem: () => jailProblem(),
  chooseSegmentAead: () => chooseSegmentAead(),
  sampleHealth: () => sampleHealth(),
  openSpool: (o) => SpoolRing.create(o),
  openChannel: (o) => openChannel(o),
  startCapture: (o, e, spares) => new Capture(o, e, spares),
  startAnalysis: (o, e) => new AnalysisHost(o, e),
  preforkAnalysis: (paths, spawnsModule, n) => new SpareAnalyses(paths, spawnsModule, n),
};
