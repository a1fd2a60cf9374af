// The run's states and the teardown stack: the two things every phase of supervise.ts
// shares. A phase that acquires something (keys, the encrypted spool, the ring, the
// line, signal handlers) pushes its closer; supervise unwinds the stack once, in
// reverse, whether the run succeeded, failed at boot or was cut short by a second
// signal, so no failure path can forget a wipe or a close.
import type { BoxState } from './leds';

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
