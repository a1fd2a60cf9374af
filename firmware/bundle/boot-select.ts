// Box side, at boot: picks the analysis firmware bundle to run from the medium.
// The active slot is tried first, then the other one; a slot is used only if its
// bundle passes every check in verify.ts (approved as the trust configuration asks, this board, no downgrade,
// every payload hash), matches what was recorded when it was flashed, and its content
// passes the caller's checkContent (the box's validators). Nothing in
// a bundle is handed to the caller before all of that has passed.
import * as fs from 'fs';
import { BundleError, MAX_BUNDLE_BYTES } from './format';
import { blake2b256 } from './hash';
import { closeMedium, commitSlotTable, openMedium, OpenMedium, readSlot, SLOT_NAMES, SlotName } from './medium';
import { LoadedBundle, verifyBundle, VerifyResult } from './verify';
import { describeApprovals, Trust } from './trust';

export interface SelectOptions {
  /** The bundle medium: bundleDevice from board/<name>/board.json, or a disk image file. */
  device: string;
  /** Who must have approved a bundle (the image's trust configuration, trust.ts). */
  trust: Trust;
  /** This board's name; the bundle must list it. */
  board: string;
  /**
   * A minimum security version kept outside the medium (a board's monotonic counter).
   * The higher of it and the medium's stored minimum applies: whoever holds the medium
   * can rewrite the medium's copy, so only such a counter stops a determined downgrade.
   */
  readMinSecurityVersion?: () => number;
  /** Called with the new minimum when a bundle with a higher security version is selected. */
  raiseMinSecurityVersion?: (securityVersion: number) => void;
  /**
   * The box's check of a verified bundle's content (policy, run.json, module syntax:
   * checkBundleContent in content.ts); throws a BundleError with the reason. A slot it
   * refuses falls back to the other slot like a bad signature.
   */
  checkContent?: (bundle: LoadedBundle) => void;
}

export interface BundleIdentity {
  name: string;
  version: string;
  securityVersion: number;
  buildId: string;
  /** BLAKE2b-256 of the signed manifest, hex: names this exact bundle. */
  hash: string;
  /** Who approved it: "researcher 1a2b…, privacy-officer 3c4d…". */
  approvedBy: string;
  /** BLAKE2b-256 of its privacy statement (privacy.ts), hex: what the approvals cover. */
  privacy: string;
}

export type SelectResult =
  | {
    ok: true;
    slot: SlotName;
    bundle: LoadedBundle;
    identity: BundleIdentity;
    /** True when the active slot was refused and the other slot is used. */
    fellBack: boolean;
    /** Why each slot tried before this one was refused ("slot B: ..."). */
    refusals: string[];
    /** Things to log that do not stop the boot (a damaged table copy, a failed minimum update). */
    warnings: string[];
  }
  | { ok: false; refusals: string[] };

export function identityOf(bundle: LoadedBundle): BundleIdentity {
  const m = bundle.manifest;
  return { name: m.name, version: m.version, securityVersion: m.securityVersion, buildId: m.buildId, hash: bundle.hash, approvedBy: describeApprovals(bundle.approvals), privacy: m.privacy };
}

function trySlot(m: OpenMedium, slot: 0 | 1, opts: SelectOptions, min: number): VerifyResult {
  const rec = m.table.slots[slot];
  if (rec.length === 0) return { ok: false, reason: 'empty (nothing was flashed into it)' };
  const bytes = readSlot(m, slot);
  if (bytes.length !== rec.length) return { ok: false, reason: `the medium ends inside the bundle (${bytes.length} of ${rec.length} bytes): reflash` };
  const result = verifyBundle(bytes, { trust: opts.trust, board: opts.board, minSecurityVersion: min });
  if (result.ok && !blake2b256(bytes).equals(rec.hash)) {
    return { ok: false, reason: 'the slot holds a different bundle than the one recorded when it was flashed: reflash with `sealtap bundle flash`' };
  }
  return result.ok ? checkedContent(result.bundle, opts.checkContent) : result;
}

/** A verified bundle, refused with the reason when the caller's content check throws a BundleError. */
function checkedContent(bundle: LoadedBundle, checkContent: SelectOptions['checkContent']): VerifyResult {
  try {
    checkContent?.(bundle);
  } catch (err) {
    if (err instanceof BundleError) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true, bundle };
}

function raiseMinimum(device: string, securityVersion: number): void {
  const m = openMedium(device, true);
  try {
    if (securityVersion > m.table.minSecurityVersion) {
      commitSlotTable(m, { slotBytes: m.table.slotBytes, active: m.table.active, minSecurityVersion: securityVersion, slots: m.table.slots });
    }
  } finally {
    closeMedium(m);
  }
}

export function selectBundle(opts: SelectOptions): SelectResult {
  let m: OpenMedium;
  try {
    m = openMedium(opts.device, false);
  } catch (err) {
    return { ok: false, refusals: [err instanceof Error ? err.message : String(err)] };
  }
  const refusals: string[] = [];
  const warnings: string[] = m.damagedCopy ? [`${opts.device}: ${m.damagedCopy}; using the other copy`] : [];
  let chosen: { slot: 0 | 1; bundle: LoadedBundle } | null = null;
  let active: 0 | 1 | null;
  let externalMin = 0;
  try {
    active = m.table.active;
    if (active === null) {
      return { ok: false, refusals: [`${opts.device} holds no bundle yet: flash one with \`sealtap bundle flash FILE.sfw --device ${opts.device}\``] };
    }
    externalMin = opts.readMinSecurityVersion ? opts.readMinSecurityVersion() : 0;
    const min = Math.max(m.table.minSecurityVersion, externalMin);
    for (const slot of [active, active === 0 ? 1 : 0] as const) {
      const r = trySlot(m, slot, opts, min);
      if (r.ok) { chosen = { slot, bundle: r.bundle }; break; }
      refusals.push(`slot ${SLOT_NAMES[slot]}${slot === active ? ' (active)' : ''}: ${r.reason}`);
    }
  } finally {
    closeMedium(m);
  }
  if (!chosen) return { ok: false, refusals };
  const sv = chosen.bundle.manifest.securityVersion;
  if (sv > m.table.minSecurityVersion) {
    try {
      raiseMinimum(opts.device, sv);
    } catch (err) {
      warnings.push(`could not raise the minimum security version on ${opts.device} to ${sv}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (opts.raiseMinSecurityVersion && sv > externalMin) opts.raiseMinSecurityVersion(sv);
  return { ok: true, slot: SLOT_NAMES[chosen.slot], bundle: chosen.bundle, identity: identityOf(chosen.bundle), fellBack: chosen.slot !== active, refusals, warnings };
}

/**
 * For a host without a bundle medium (board "dev"): verifies a .sfw file with the same
 * checks, the content check included when given. The size is checked before the file is read.
 */
export function loadBundleFile(path: string, opts: { trust: Trust; board: string; minSecurityVersion?: number; checkContent?: SelectOptions['checkContent'] }): VerifyResult {
  let size: number;
  try {
    size = fs.statSync(path).size;
  } catch (err) {
    return { ok: false, reason: `cannot read bundle ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  if (size > MAX_BUNDLE_BYTES) return { ok: false, reason: `${path} is ${size} bytes, over the ${MAX_BUNDLE_BYTES}-byte bundle limit` };
  const result = verifyBundle(fs.readFileSync(path), opts);
  return result.ok ? checkedContent(result.bundle, opts.checkContent) : result;
}
