// A keyring from a fixed, known master so spool and key tests can check what ended
// up on disk against the real key bytes. Tests only.
import { Keyring } from '../../firmware/keys/keyring';

export function fixedMaster(fill = 0x5a): Buffer {
  const master = Buffer.alloc(32);
  for (let i = 0; i < master.length; i++) master[i] = (fill + i * 7) & 0xff;
  return master;
}

export function fixedKeyring(fill = 0x5a): Keyring {
  return Keyring.debugFromBytes(fixedMaster(fill));
}
