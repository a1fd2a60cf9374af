// The steps only the appliance takes, between keys and capture: the spool directory
// becomes a dm-crypt mapping of the spool disk under a per-boot key, and the capture
// NIC is made receive-only. A development host (no spool.device, a capture interface
// that is not the board's) skips both, so a laptop's own network is never touched.
import type { Keyring } from '../keys/keyring';
import type { RunConfig } from './config';
import type { Board } from './board';
import type { CommandSys } from './commands';
import { openCryptSpool, closeCryptSpool, spoolKeyBytes } from './dmcrypt';
import { lockCaptureNic } from './nic';

export interface ApplianceSteps {
  /** True when the spool lives on an encrypted mapping that must be closed at stop. */
  cryptSpool: boolean;
  lockedNic: string | null;
}

/**
 * Opens the encrypted spool (when run.json names spool.device) and locks the capture
 * NIC (when the source is the board's capture interface). Throws a one-line Error that
 * says what to fix; on a throw nothing stays mapped.
 */
export function prepareAppliance(cfg: RunConfig, board: Board, keyring: Keyring, sys: CommandSys, note: (line: string) => void): ApplianceSteps {
  const steps: ApplianceSteps = { cryptSpool: false, lockedNic: null };
  if (cfg.spool.device !== null) {
    const device = cfg.spool.device;
    // The key lives in secure memory and reaches cryptsetup only through its stdin pipe;
    // it is wiped right after: the kernel holds the mapping's key from then on.
    const key = keyring.subkey('dmcrypt', spoolKeyBytes);
    try {
      key.use((k) => openCryptSpool(device, k, cfg.spool.dir, sys));
    } finally {
      key.wipe();
    }
    steps.cryptSpool = true;
    note(`encrypted spool open: ${device} through dm-crypt aes-xts-plain64 with a per-boot key, fresh ext4 on ${cfg.spool.dir}`);
  }
  if (cfg.source.kind === 'interface' && board.captureInterface !== null && cfg.source.name === board.captureInterface) {
    try {
      lockCaptureNic(cfg.source.name, sys);
    } catch (e) {
      if (steps.cryptSpool) closeQuietly(sys);
      throw e;
    }
    steps.lockedNic = cfg.source.name;
    note(`capture interface ${cfg.source.name} locked: no address, ARP and IPv6 off, promiscuous, every frame dropped after the tap`);
  }
  return steps;
}

/** Closes what prepareAppliance opened; returns an error line instead of throwing. */
export function closeAppliance(steps: ApplianceSteps, sys: CommandSys): string | null {
  if (!steps.cryptSpool) return null;
  try {
    closeCryptSpool(sys);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

function closeQuietly(sys: CommandSys): void {
  try { closeCryptSpool(sys); } catch { /* the NIC error is the one to report */ }
}
