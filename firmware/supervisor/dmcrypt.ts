// The encrypted spool on the appliance: plain dm-crypt over the spool device with the
// per-boot random key, a fresh ext4 on top, mounted where the spool ring lives.
// A reboot loses the key, so everything spooled before it becomes unreadable noise;
// there is nothing on the disk (no LUKS header, no filesystem signature) to attack.
import type { CommandSys } from './commands';

/** Name of the device-mapper target: /dev/mapper/sealtap-spool. */
export const spoolMapping = 'sealtap-spool';
export const spoolMapperPath = `/dev/mapper/${spoolMapping}`;
/** AES-256-XTS takes two 256-bit keys: 64 bytes. */
export const spoolKeyBytes = 64;

export class CryptSpoolError extends Error {}

/**
 * Maps `device` through dm-crypt with `key`, formats it and mounts it on `mountpoint`.
 * The key reaches cryptsetup only through its stdin pipe; the caller owns the key
 * buffer (secure memory, readable during this call) and wipes it.
 * Returns the mapper device path. On failure nothing stays mapped or mounted.
 */
export function openCryptSpool(device: string, key: Uint8Array, mountpoint: string, sys: CommandSys): string {
  if (key.length !== spoolKeyBytes) {
    throw new CryptSpoolError(`spool key must be ${spoolKeyBytes} bytes for aes-xts-plain64 with --key-size 512, got ${key.length}: derive it with the keyring's dmcrypt purpose`);
  }
  if (!device.startsWith('/')) throw new CryptSpoolError(`spool device ${JSON.stringify(device)} must be an absolute path (e.g. /dev/vdb): check spoolDevice in the board's board.json`);
  if (!mountpoint.startsWith('/')) throw new CryptSpoolError(`spool mountpoint ${JSON.stringify(mountpoint)} must be an absolute path: check spool.dir in run.json`);

  try {
    // --key-file - reads the key from stdin; --hash plain uses those 64 bytes as the
    // key itself (without it cryptsetup hashes stdin input in plain mode), and
    // --keyfile-size stops the read at exactly the key.
    sys.run('cryptsetup', [
      'open', '--type', 'plain', '--cipher', 'aes-xts-plain64', '--key-size', '512',
      '--hash', 'plain', '--key-file', '-', '--keyfile-size', String(spoolKeyBytes),
      device, spoolMapping,
    ], key);
  } catch (e) {
    throw new CryptSpoolError(`cannot open the encrypted spool on ${device}: ${(e as Error).message}; check that the spool disk is attached and spoolDevice in board.json names it`);
  }
  try {
    // A fresh filesystem every boot: last boot's data is unreadable anyway. No journal:
    // the spool ring has its own torn-write handling, and the journal only costs writes.
    sys.run('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', '-m', '0', '-E', 'nodiscard', '-L', 'sealtap-spool', spoolMapperPath]);
    sys.run('mount', ['-t', 'ext4', '-o', 'nosuid,nodev,noexec,noatime', spoolMapperPath, mountpoint]);
  } catch (e) {
    closeQuietly(sys);
    throw new CryptSpoolError(`cannot format or mount the encrypted spool on ${mountpoint}: ${(e as Error).message}; check that ${mountpoint} exists in the image`);
  }
  return spoolMapperPath;
}

/** Unmounts the spool and removes the mapping; the kernel forgets the key. */
export function closeCryptSpool(sys: CommandSys): void {
  try {
    sys.run('umount', [spoolMapperPath]);
  } catch (e) {
    // Still try to close: cryptsetup refuses while mounted, and says so.
    try { sys.run('cryptsetup', ['close', spoolMapping]); } catch { /* reported below */ }
    throw new CryptSpoolError(`cannot unmount the encrypted spool: ${(e as Error).message}; a process still has files open on it`);
  }
  try {
    sys.run('cryptsetup', ['close', spoolMapping]);
  } catch (e) {
    throw new CryptSpoolError(`cannot close the dm-crypt mapping ${spoolMapping}: ${(e as Error).message}`);
  }
}

function closeQuietly(sys: CommandSys): void {
  try { sys.run('cryptsetup', ['close', spoolMapping]); } catch { /* the original error matters more */ }
}
