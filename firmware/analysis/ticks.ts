// Time in the analysis is packet time, and periodic work (timer ticks, table sweeps)
// falls on whole seconds of it. Not on "a second after the first packet this process
// saw": a restarted analysis replays from another segment, and must expire flows and
// fire ticks at the same packets as the process it replaces, or its records would get
// other places and the committed place would no longer suppress them exactly.
export const TICK_US = 1_000_000;

/** The first whole second of packet time after tsUs. */
export function nextTickUs(tsUs: number): number {
  return (Math.floor(tsUs / TICK_US) + 1) * TICK_US;
}

/**
 * True when periodic work is due at tsUs. A clock that stepped back by more than two
 * ticks (a replayed file starting over) counts as due too, so the work never stops.
 */
export function tickDue(tsUs: number, nextUs: number): boolean {
  return tsUs >= nextUs || tsUs < nextUs - 2 * TICK_US;
}

/**
 * Packet time as the analysis sees it: the last packet's time, and whether a tick is
 * due at each new packet. Starts from the time inherited from the process it replaces
 * (null at the start of a run), so a replacement ticks on the same packets.
 */
export class PacketClock {
  private nextUs = -1;
  /** Time of the last packet seen (or inherited). */
  lastUs = 0;

  constructor(prevTsUs: number | null) {
    if (prevTsUs !== null && Number.isFinite(prevTsUs)) {
      this.lastUs = prevTsUs;
      this.nextUs = nextTickUs(prevTsUs);
    }
  }

  /** Notes a packet's time; true when a tick is due at this packet. */
  packet(tsUs: number): boolean {
    this.lastUs = tsUs;
    if (this.nextUs < 0) {
      this.nextUs = nextTickUs(tsUs);
      return false;
    }
    if (!tickDue(tsUs, this.nextUs)) return false;
    this.nextUs = nextTickUs(tsUs);
    return true;
  }

  /** The next tick's time, -1 before any packet (packetsRun advances the clock in C). */
  nextTick(): number {
    return this.nextUs;
  }

  /** Sets the state packetsRun left: the last packet's time and the next tick's. */
  advanced(lastUs: number, nextUs: number): void {
    this.lastUs = lastUs;
    this.nextUs = nextUs;
  }

  /** Time of the last packet seen (or inherited), null before any. */
  seen(): number | null {
    return this.nextUs >= 0 ? this.lastUs : null;
  }
}
