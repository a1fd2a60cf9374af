/**
 * A trace under construction: frames with microsecond timestamps, added scenario by
 * scenario in any time order and sorted once at the end, so concurrent sessions
 * interleave the way they do on a real link.
 */

export interface TimedFrame {
  /** Microseconds since the Unix epoch; exact as a double for any date before year 2255. */
  t: number;
  frame: Buffer;
}

/** The packets of one scenario, each at a time relative to the scenario's own clock. */
export class Scenario {
  readonly frames: TimedFrame[] = [];
  constructor(public t: number) {}

  /** Advances the clock by gapUs and records frame at the new time. */
  add(gapUs: number, frame: Buffer): void {
    this.t += Math.round(gapUs);
    this.frames.push({ t: this.t, frame });
  }
}

/** Sorts by time; equal times keep the order they were added in (Array.prototype.sort is stable). */
export function mergeByTime(scenarios: readonly Scenario[]): TimedFrame[] {
  const all: TimedFrame[] = [];
  for (const s of scenarios) for (const f of s.frames) all.push(f);
  return all.sort((a, b) => a.t - b.t);
}
