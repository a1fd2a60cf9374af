// A level's field actions turned into small numbers once, so the per-packet rewriter
// switches on integers instead of comparing action names, and the numeric actions
// (keep, zero, hash, bucket) of a header field are one call.
import type { Action, FieldActions, FieldName } from '../../anonymize/policy';
import { FIELD_NAMES } from '../../anonymize/policy-fields';
import { bucket } from '../../anonymize/transforms';
import type { AnonPrimitives } from '../anonymizer';

export const Act = {
  keep: 0, zero: 1, drop: 2, cryptopan: 3, mac: 4, hash: 5, bucket: 6, offset: 7, coarsen: 8, truncate: 9, nop: 10,
} as const;

export class FieldCodes {
  /** Act.* of every field. */
  readonly code = {} as Record<FieldName, number>;
  /** Bucket edges of the fields whose action is bucket. */
  readonly edges = {} as Record<FieldName, readonly number[]>;

  constructor(readonly actions: FieldActions) {
    for (const name of FIELD_NAMES) {
      const a: Action = actions[name];
      this.code[name] = Act[a.action];
      this.edges[name] = a.action === 'bucket' ? a.edges.slice() : [];
    }
  }
}

/**
 * The value a numeric header field gets: kept, zeroed, hashed with the identifier key
 * to `bits` bits, or bucketed. Actions a field does not accept never reach here
 * (validatePolicy refused them); anything else zeroes, the safe side.
 */
export function numericField(prim: AnonPrimitives, f: FieldCodes, name: FieldName, value: number, bits: number): number {
  switch (f.code[name]) {
    case Act.keep: return value;
    case Act.hash: return prim.hash.hashNumber(value, bits);
    case Act.bucket: return bucket(value, f.edges[name]);
  }
  return 0;
}
