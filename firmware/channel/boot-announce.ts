// The BOOT record: the first record of a session, repeated every bootEveryMs so a
// receiver that attaches late (or lost the start) can still sync, decrypt and verify.
import type { BootRecord } from './records';

/** The fields of BOOT that the channel itself knows and owns. */
export type ChannelBootFields = Pick<BootRecord, 'session' | 'link' | 'checkpointKey' | 'encryption' | 'fec'>;

export class BootAnnouncer {
  private base: BootRecord;
  private readonly uptimeAtOpen: number;
  private readonly openedAt: number;

  constructor(base: BootRecord, private readonly owned: ChannelBootFields, private readonly now: () => number) {
    this.base = { ...base };
    // Uptime counts on from the supervisor's figure at open, whatever updates come later.
    this.uptimeAtOpen = base.uptimeMs;
    this.openedAt = now();
  }

  /** What the supervisor learns after the channel opened (the link type, once capture knows it). */
  update(fields: Partial<BootRecord>): void {
    this.base = { ...this.base, ...fields };
  }

  /**
   * The BOOT to send now, from the current base or a caller's one. Fields the channel
   * owns win: a BOOT without the sealed key or the checkpoint key would leave a
   * receiver unable to decrypt or to verify.
   */
  record(base: BootRecord = this.base): BootRecord {
    return { ...base, ...this.owned, uptimeMs: this.uptimeAtOpen + (this.now() - this.openedAt) };
  }
}
