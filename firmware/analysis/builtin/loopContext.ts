// The capture addon's context for its work on packets (native/capture/sealtap-capture.c,
// RW_* and FS_*): typed arrays bound to numbered slots, each bound again only when the
// array itself changes (a cache or a set replaced as it grows, a new segment body). The
// packets output's rewrite and loop (packets/commonRewrite.ts) and the flows output's
// loop (flows/flowsRun.ts) each keep one; the slots they share are numbered here.
import { addon } from '../../capture/addon';
import type { RewriterContext } from '../../capture/batch-binding';
import type { SeenSets } from '../addresses';

/** Slots both loops use: the segment body, the sets of reported values, their cells. */
export const SharedSlot = { in: 0, seen4: 8, seen4Used: 9, seenMac: 10, seenMacUsed: 11, run: 13, time: 14, seen6: 33, seen6Used: 34 } as const;
const SLOTS = 35;

type Bindable = Uint8Array | Int32Array | Uint32Array | Uint16Array | Float64Array;

export class LoopContext {
  readonly a = addon();
  readonly ctx: RewriterContext = this.a.rewriterNew();
  /** What each slot holds now (an array, not a map: rewrite() binds per packet). */
  private readonly bound: (Bindable | null)[] = new Array<Bindable | null>(SLOTS).fill(null);

  /** Binds `array` to `slot` unless it is bound there already. */
  bind(slot: number, array: Bindable): void {
    if (this.bound[slot] === array) return;
    this.a.rewriterBind(this.ctx, slot, array);
    this.bound[slot] = array;
  }

  /** The sets of reported values, each's used flags before its table (the C checks the pair's sizes at each call). */
  bindSeen(seen: SeenSets): void {
    this.bind(SharedSlot.seen4Used, seen.v4.usedArray());
    this.bind(SharedSlot.seen4, seen.v4.tableArray());
    this.bind(SharedSlot.seenMacUsed, seen.mac.usedArray());
    this.bind(SharedSlot.seenMac, seen.mac.tableArray());
    this.bind(SharedSlot.seen6Used, seen.v6.usedArray());
    this.bind(SharedSlot.seen6, seen.v6.tableArray());
  }
}
