// What every phase of supervise.ts shares: the run's states (the LEDs follow them),
// its stop requests and signals, and the teardown stack. A phase that acquires
// something (keys, the encrypted spool, the ring, signal handlers) pushes its closer;
// supervise unwinds the stack once, in reverse, whether the run succeeded, failed at
// boot or was cut short by a second signal, so no failure path can forget a wipe or a
// close.
import { BoxState, Leds } from './leds';
import { OperatorLog } from './oplog';
import { RunCounters } from './counters';
import type { RunConfig } from './config';
import type { Sys } from './sys';
import type { SuperviseOptions } from './supervise';

/**
 * booting → capturing ⇄ degraded / backlogged → stopping → draining → finished;
 * fatal when boot fails (nothing captured) or capture fails (the stop follows).
 */
export type RunState = 'booting' | 'capturing' | 'degraded' | 'backlogged' | 'stopping' | 'draining' | 'finished' | 'fatal';

/**
 * The LED pattern of each state (the design's table). Stopping keeps what was shown
 * while capture stops and the analysis finishes; the run shows finished once only the
 * drain of the line is left.
 */
export const ledPattern: Record<RunState, BoxState | null> = {
  booting: 'booting',
  capturing: 'capturing',
  degraded: 'degraded',
  backlogged: 'backlog',
  stopping: null,
  draining: 'finished',
  finished: 'finished',
  fatal: 'fatal',
};

/** The running states the health of the pipeline moves between. */
export function isRunning(s: RunState): boolean {
  return s === 'capturing' || s === 'degraded' || s === 'backlogged';
}

/** A boot step failed: the run stops before capture with this operator line. */
export class BootFailure extends Error {}

interface Closer {
  what: string;
  close: () => void | Promise<void>;
}

export class Teardown {
  private readonly closers: Closer[] = [];

  /** `close` undoes `what`; it runs once, after everything pushed later. */
  push(what: string, close: () => void | Promise<void>): void {
    this.closers.push({ what, close });
  }

  /** Runs every closer, last pushed first; a closer that fails is reported and the rest still run. */
  async unwind(report: (what: string, e: Error) => void): Promise<void> {
    for (let c = this.closers.pop(); c; c = this.closers.pop()) {
      try {
        await c.close();
      } catch (e) {
        report(c.what, e as Error);
      }
    }
  }
}

/** The run as every phase sees it: its log, LEDs, counters, state and teardown stack. */
export class Run {
  readonly cfg: RunConfig;
  readonly sys: Sys;
  readonly log: OperatorLog;
  readonly leds: Leds;
  readonly counters = new RunCounters();
  readonly teardown = new Teardown();
  state: RunState = 'booting';
  stopReason: string | null = null;
  aborted = false;
  /** The last console line, printed once the teardown has run. */
  finalNote: string | null = null;
  readonly stopRequested: Promise<string>;
  readonly abortRequested: Promise<void>;
  private resolveStop: (why: string) => void = () => {};
  private resolveAbort: () => void = () => {};

  constructor(readonly o: SuperviseOptions) {
    this.cfg = o.config;
    this.sys = o.sys;
    this.log = new OperatorLog(o.sys);
    this.leds = new Leds(o.sys, o.board.leds, (s) => this.log.info(`state: ${s}`));
    this.stopRequested = new Promise((r) => { this.resolveStop = r; });
    this.abortRequested = new Promise((r) => { this.resolveAbort = r; });
  }

  enter(s: RunState): void {
    this.state = s;
    const pattern = ledPattern[s];
    if (pattern) this.leds.show(pattern);
  }

  /** A stop condition was met; the first one counts. */
  requestStop(why: string): void {
    if (this.stopReason !== null) return;
    this.stopReason = why;
    this.resolveStop(why);
  }

  /** SIGTERM/SIGINT: the first stops in order, the second at once. */
  signal(sig: string): void {
    if (this.stopReason === null) {
      this.log.notice(`received ${sig}: stopping (send it again to stop at once)`);
      this.requestStop(`signal ${sig}`);
    } else if (!this.aborted) {
      this.aborted = true;
      this.log.warn(`received ${sig} again: stopping at once`);
      this.resolveAbort();
    }
  }
}
