// Binds the policy's actions and the run's subkeys into the Anonymizer the analyses
// use (sdk.ts). One per output level: levels differ only in their field actions.
import { CryptoPan } from '../anonymize/cryptopan';
import { MacPermutation } from '../anonymize/mac';
import { KeyedHash } from '../anonymize/keyedhash';
import { FlowOffsets, coarsenMicros, secretTimeShiftUs, truncatePrefix } from '../anonymize/transforms';
import { formatIPv4, formatIPv6 } from '../anonymize/ip-text';
import type { Action, FieldActions, Policy } from '../anonymize/policy';
import type { SecretKey } from '../keys/secret-key';
import type { Anonymizer } from './builtin/api';

export interface AnonKeys {
  address: SecretKey;
  mac: SecretKey;
  ident: SecretKey;
  time: SecretKey;
  flow: SecretKey;
}

/** Keyed primitives shared by every level (each holds its key in secure memory). */
export class AnonPrimitives {
  readonly pan: CryptoPan;
  readonly mac: MacPermutation;
  readonly hash: KeyedHash;
  readonly offsets: FlowOffsets;
  readonly timeShiftUs: number;

  constructor(keys: AnonKeys) {
    this.pan = new CryptoPan(keys.address);
    this.mac = new MacPermutation(keys.mac);
    this.hash = new KeyedHash(keys.ident);
    this.offsets = new FlowOffsets(keys.flow);
    this.timeShiftUs = secretTimeShiftUs(keys.time);
  }
}

/** Applies an address action (cryptopan, truncate, or zero) in place. */
export function applyAddressAction(p: AnonPrimitives, a: Action, buf: Buffer, off: number, len: 4 | 16): void {
  switch (a.action) {
    case 'cryptopan':
      if (len === 4) p.pan.anonymizeV4Into(buf, off);
      else p.pan.anonymizeV6Into(buf, off);
      return;
    case 'truncate':
      // Truncated prefixes are anonymized too: a /24 of the real network is still the real network.
      if (len === 4) p.pan.anonymizeV4Into(buf, off);
      else p.pan.anonymizeV6Into(buf, off);
      truncatePrefix(buf, off, len, a.prefixLen);
      return;
    default:
      buf.fill(0, off, off + len);
  }
}

export function bindAnonymizer(p: AnonPrimitives, policy: Policy, fields: FieldActions): Anonymizer {
  const scratch = Buffer.alloc(16);
  const time = fields.time;
  const granularity = time.action === 'coarsen' ? time.granularityUs : 1;
  const shift = time.action === 'coarsen' && time.shift ? p.timeShiftUs : 0;
  return {
    addr(buf, off, len) {
      buf.copy(scratch, 0, off, off + len);
      applyAddressAction(p, len === 4 ? fields['ip4.src'] : fields['ip6.src'], scratch, 0, len);
      return len === 4 ? formatIPv4(scratch.readUInt32BE(0)) : formatIPv6(scratch, 0);
    },
    addrInPlace(buf, off, len) {
      applyAddressAction(p, len === 4 ? fields['ip4.src'] : fields['ip6.src'], buf, off, len);
    },
    macInPlace(buf, off) {
      if (fields['eth.src'].action === 'mac') p.mac.anonymizeMacInto(buf, off);
      else buf.fill(0, off, off + 6);
    },
    name(labels) {
      if (typeof labels === 'string') return p.hash.hashName(labels, policy.dnsSuffixLabels);
      return p.hash.hashLabels(labels.map((l) => l.toString('latin1')), policy.dnsSuffixLabels);
    },
    time(us) {
      return coarsenMicros(us + shift, granularity);
    },
    flowOffset(key) {
      return p.offsets.flowOffset(key);
    },
  };
}
