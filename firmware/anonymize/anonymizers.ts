// All keyed anonymizers of one run, made from the run's purpose subkeys in one place
// so every component anonymizes with the same keys (a flow record and a packet record
// of the same host must show the same address) and all are destroyed together at stop.
import { KeyMaterial } from './key-material';
import { CryptoPan } from './cryptopan';
import { MacPermutation } from './mac';
import { KeyedHash } from './keyedhash';
import { FlowOffsets, secretTimeShiftUs } from './transforms';

/** keyring.subkey(purpose, 32) for each purpose (firmware/keys KeyPurpose names). */
export interface AnonymizerKeys {
  address: KeyMaterial;
  mac: KeyMaterial;
  ident: KeyMaterial;
  flow: KeyMaterial;
  time: KeyMaterial;
}

export interface Anonymizers {
  addresses: CryptoPan;
  macs: MacPermutation;
  names: KeyedHash;
  flows: FlowOffsets;
  /** The run's secret time shift in µs (negative), for coarsen with shift: true. */
  timeShiftUs: number;
  /** Wipes every key copy and cache. Call once at stop. */
  destroy(): void;
}

export function createAnonymizers(keys: AnonymizerKeys): Anonymizers {
  const addresses = new CryptoPan(keys.address);
  const macs = new MacPermutation(keys.mac);
  const names = new KeyedHash(keys.ident);
  const flows = new FlowOffsets(keys.flow);
  const timeShiftUs = secretTimeShiftUs(keys.time);
  return {
    addresses, macs, names, flows, timeShiftUs,
    destroy() {
      addresses.destroy();
      macs.destroy();
      names.destroy();
      flows.destroy();
    },
  };
}
