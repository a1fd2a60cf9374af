// The operator's view: two LEDs driven through the kernel's LED class files
// (trigger, brightness, delay_on, delay_off). On the dev board the same files are
// plain files under out/leds/, so tests can read the states back.
import * as path from 'node:path';
import type { Sys } from './sys';

/** The state table of the design. */
export type BoxState = 'booting' | 'capturing' | 'backlog' | 'degraded' | 'fatal' | 'finished';

type Pattern = { trigger: 'none' | 'timer' | 'heartbeat'; on?: number; off?: number; brightness?: 0 | 1 };

const patterns: Record<BoxState, { status: Pattern; fault: Pattern }> = {
  booting: { status: { trigger: 'timer', on: 1000, off: 1000 }, fault: { trigger: 'none', brightness: 0 } },
  capturing: { status: { trigger: 'heartbeat' }, fault: { trigger: 'none', brightness: 0 } },
  backlog: { status: { trigger: 'timer', on: 100, off: 100 }, fault: { trigger: 'none', brightness: 0 } },
  degraded: { status: { trigger: 'heartbeat' }, fault: { trigger: 'timer', on: 500, off: 500 } },
  fatal: { status: { trigger: 'none', brightness: 0 }, fault: { trigger: 'none', brightness: 1 } },
  finished: { status: { trigger: 'none', brightness: 1 }, fault: { trigger: 'none', brightness: 0 } },
};

export interface LedPaths {
  status: string | null;
  fault: string | null;
}

export class Leds {
  private current: BoxState | null = null;
  /** Every state shown, in order (for the log and for tests). */
  readonly history: BoxState[] = [];

  constructor(private readonly sys: Pick<Sys, 'writeFile' | 'mkdirp'>, private readonly paths: LedPaths, private readonly onChange: (s: BoxState) => void = () => {}) {
    for (const p of [paths.status, paths.fault]) if (p) sys.mkdirp(p);
  }

  show(state: BoxState): void {
    if (state === this.current) return;
    this.current = state;
    this.history.push(state);
    const p = patterns[state];
    this.drive(this.paths.status, p.status);
    this.drive(this.paths.fault, p.fault);
    this.onChange(state);
  }

  state(): BoxState | null {
    return this.current;
  }

  private drive(dir: string | null, p: Pattern): void {
    if (!dir) return;
    // Order matters on real LEDs: the timer trigger creates delay_on/delay_off,
    // so set the trigger first, then the delays.
    this.sys.writeFile(path.join(dir, 'trigger'), p.trigger);
    if (p.trigger === 'timer') {
      this.sys.writeFile(path.join(dir, 'delay_on'), String(p.on));
      this.sys.writeFile(path.join(dir, 'delay_off'), String(p.off));
    } else if (p.trigger === 'none') {
      this.sys.writeFile(path.join(dir, 'brightness'), String(p.brightness ?? 0));
    }
  }
}

/** Chooses the running state from the pipeline's health, in the design's order. */
export function runningState(h: { degraded: boolean; spoolFill: number; channelStalled: boolean }): BoxState {
  if (h.degraded) return 'degraded';
  if (h.spoolFill > 0.75 || h.channelStalled) return 'backlog';
  return 'capturing';
}
