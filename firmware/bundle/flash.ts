// Workstation side: writes a bundle into the inactive slot of a box's medium and makes
// it active. Order matters — write slot, fsync, read back and compare, and only then
// commit the slot table (fsync). A flash interrupted at any point before the table
// commit leaves the previous bundle active and untouched.
import { BundleError } from './format';
import { blake2b256 } from './hash';
import { closeMedium, commitSlotTable, MediumError, openMedium, readSlot, SLOT_NAMES, SlotName, SlotRecord, writeSlotBytes } from './medium';
import { loadBundle, LoadedBundle } from './verify';
import { checkContentForBoards } from './content';
import type { Trust } from './trust';

export interface FlashOptions {
  device: string;
  bundle: Buffer;
  /** When given, the bundle must be approved as this trust configuration asks; otherwise it must only be signed. */
  trust?: Trust;
  /** When given, the bundle must be made for this board. */
  board?: string;
  /** Last check of the verified bundle before the medium is written (the CLI's module trial); throws to refuse. */
  beforeWrite?: (bundle: LoadedBundle) => void;
  /** Test-only: pause between 64 KiB chunks (SEALTAP_FLASH_CHUNK_DELAY_MS) so a test can interrupt the write. */
  chunkDelayMs?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface FlashResult {
  slot: SlotName;
  previous: SlotName | null;
  generation: number;
  bundle: LoadedBundle;
}

export function flashBundle(opts: FlashOptions): FlashResult {
  const m = openMedium(opts.device, true);
  try {
    // The box would refuse a bundle below the stored minimum; refusing here saves a trip.
    const bundle = loadBundle(opts.bundle, { trust: opts.trust, board: opts.board, minSecurityVersion: m.table.minSecurityVersion });
    // So is content the box's validators refuse; checked before the medium is touched.
    checkContentForBoards(bundle, opts.board !== undefined ? [opts.board] : bundle.manifest.boards);
    opts.beforeWrite?.(bundle);
    const previous = m.table.active;
    const target: 0 | 1 = previous === 0 ? 1 : 0;
    writeSlotBytes(m, target, opts.bundle, { chunkDelayMs: opts.chunkDelayMs, onProgress: opts.onProgress });
    const hash = blake2b256(opts.bundle);
    // Read back through a fresh table record so the check reads exactly what boot will read.
    const record: SlotRecord = { length: opts.bundle.length, hash };
    const slots: [SlotRecord, SlotRecord] = target === 0 ? [record, m.table.slots[1]] : [m.table.slots[0], record];
    const readBack = readSlot({ ...m, table: { ...m.table, slots } }, target);
    if (!blake2b256(readBack).equals(hash)) {
      throw new MediumError(`slot ${SLOT_NAMES[target]} of ${opts.device} does not read back what was written: the medium is failing; the previous bundle stays active`);
    }
    commitSlotTable(m, { slotBytes: m.table.slotBytes, active: target, minSecurityVersion: m.table.minSecurityVersion, slots });
    return { slot: SLOT_NAMES[target], previous: previous === null ? null : SLOT_NAMES[previous], generation: m.table.generation, bundle };
  } finally {
    closeMedium(m);
  }
}

export function flashChunkDelayFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const v = env.SEALTAP_FLASH_CHUNK_DELAY_MS;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new BundleError('SEALTAP_FLASH_CHUNK_DELAY_MS must be a whole number of milliseconds (it is a test-only knob; unset it)');
  return Number(v);
}
