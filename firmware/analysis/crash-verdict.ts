// What a death of the analysis process means: which packet it names, whether that
// packet is now quarantined, and how far the next process must go "carefully"
// (announcing each packet's position on the pipe before touching it). Kept apart from
// the process handling so the rules can be tested as transcripts of deaths.
import { positionStride } from './ipc';

export interface Verdict {
  /** The packet quarantined by this death (it stopped the analysis twice), or -1. */
  quarantined: number;
  /** The packet this death is blamed on for now, or -1 when it names none. */
  suspect: number;
}

export class CrashVerdicts {
  /** Positions never to analyse again; every later process gets this list. */
  readonly quarantine: number[] = [];
  /** Segments up to this seq are analysed carefully. Only grows: a poison packet must be caught on its second death. */
  carefulUntilSeq = -1;
  private suspect = -1;

  /**
   * One death. `lastPos` is the last value on the position pipe, or betweenPackets
   * (-1) when nothing was written or the last packet had finished; `published` and
   * `doneUpTo` are the highest seq published and fully analysed.
   */
  died(lastPos: number, published: number, doneUpTo: number): Verdict {
    if (lastPos >= 0) {
      this.carefulUntilSeq = Math.max(this.carefulUntilSeq, Math.floor(lastPos / positionStride));
      if (lastPos === this.suspect) {
        this.quarantine.push(lastPos);
        this.suspect = -1;
        return { quarantined: lastPos, suspect: -1 };
      }
      this.suspect = lastPos;
      return { quarantined: -1, suspect: lastPos };
    }
    // Not inside a packet, or not known: retrace the next stretch carefully so a
    // second death there names its packet. The process dies inside the first
    // segment it has not finished (doneUpTo + 1); one more covers a segmentDone
    // that was still in the pipe when it died.
    this.carefulUntilSeq = Math.max(this.carefulUntilSeq, Math.min(published, doneUpTo + 2));
    return { quarantined: -1, suspect: this.suspect };
  }
}
