// A level's field actions turned into small numbers once, so the per-packet rewriter
// switches on integers instead of comparing action names, and the numeric actions
// (keep, zero, hash, bucket) of a header field are one call.
import type { Action, FieldActions, FieldName } from '../../../anonymize/policy';
import { FIELD_NAMES } from '../../../anonymize/policy-fields';
import { bucket } from '../../../anonymize/transforms';
import type { AnonPrimitives } from '../../anonymizer';

export const Act = {
  keep: 0, zero: 1, drop: 2, cryptopan: 3, mac: 4, hash: 5, bucket: 6, offset: 7, coarsen: 8, truncate: 9, nop: 10,
} as const;

/**
 * Each field's index into FieldCodes' per-field arrays (FIELD_NAMES order). Helpers
 * that serve many fields (numericField, macField, addressField) take this index, not
 * the name: a lookup by a name that varies from call to call is a megamorphic keyed
 * property load, a few percent of the whole packet time on its own.
 */
export const FieldId = byName((i) => i);

/**
 * A record of every field name, made in one piece: an object given its 44 properties
 * one keyed store at a time turns into a hash table, and each of the rewriter's
 * `code['ip4.tos']` reads was then a dictionary lookup (about 3% of the packets
 * output's time). Object.fromEntries makes an object with a fixed shape.
 */
function byName<T>(value: (id: number) => T): Readonly<Record<FieldName, T>> {
  return Object.fromEntries(FIELD_NAMES.map((name, i) => [name, value(i)])) as Record<FieldName, T>;
}

export class FieldCodes {
  /** Act.* of every field, by name: for a fixed field at its own call site. */
  readonly code: Readonly<Record<FieldName, number>>;
  /** Bucket edges of the fields whose action is bucket. */
  readonly edges: Readonly<Record<FieldName, readonly number[]>>;
  /** The same three by FieldId, for helpers shared by several fields. */
  readonly codeById = new Uint8Array(FIELD_NAMES.length);
  readonly edgesById: (readonly number[])[] = [];
  readonly actionById: Action[] = [];

  constructor(readonly actions: FieldActions) {
    FIELD_NAMES.forEach((name, i) => {
      const a: Action = actions[name];
      this.codeById[i] = Act[a.action];
      this.edgesById[i] = a.action === 'bucket' ? a.edges.slice() : [];
      this.actionById[i] = a;
    });
    this.code = byName((i) => this.codeById[i]);
    this.edges = byName((i) => this.edgesById[i]);
  }
}

/**
 * The value a numeric header field gets: kept, zeroed, hashed with the identifier key
 * to `bits` bits, or bucketed. Actions a field does not accept never reach here
 * (validatePolicy refused them); anything else zeroes, the safe side.
 */
export function numericField(prim: AnonPrimitives, f: FieldCodes, id: number, value: number, bits: number): number {
  switch (f.codeById[id]) {
    case Act.keep: return value;
    case Act.hash: return prim.hash.hashNumber(value, bits);
    case Act.bucket: return bucket(value, f.edgesById[id]);
  }
  return 0;
}
