// Stream declarations: the only shapes a researcher's module can give its results.
// They live in the signed analysis firmware (run.json "analysis.streams"), never in the
// module: the module is treated as hostile, so what it may emit is fixed by the people
// who approve the bundle. Every field has a type the trusted exit knows how to make
// safe (anonymize, hash, coarsen, bound); there is no free text and no nesting.
//
// Residual capacity: a module that sees raw packets can always encode bits into the
// values it is allowed to emit. capacityBits() is an upper bound per record, from the
// types and bounds alone; times maxPerSecond it bounds what a stream can carry.
import { LABEL_CHARS } from '../../anonymize/keyedhash';

export type FieldDecl =
  | { type: 'address' }
  | { type: 'mac' }
  | { type: 'port' }
  | { type: 'protocol' }
  /** A whole number 0..max; the exit rounds it down to a multiple of `round`. */
  | { type: 'count'; max: number; round: number }
  /** Microseconds since the epoch; the exit shifts and coarsens it like packet times. */
  | { type: 'time' }
  /** Microseconds 0..max; the exit coarsens it to the policy's time granularity. */
  | { type: 'duration'; max: number }
  /** A DNS-style name; the exit keyed-hashes every label, keeping a readable suffix only if declared. */
  | { type: 'name'; maxLabels: number; suffixes: string[] }
  | { type: 'enum'; values: string[] }
  /** A fixed number of counts, each 0..max. */
  | { type: 'histogram'; bins: number; max: number }
  /** A bit set of `bits` bits. */
  | { type: 'flags'; bits: number };

export type FieldType = FieldDecl['type'];
export const fieldTypes: readonly FieldType[] = ['address', 'mac', 'port', 'protocol', 'count', 'time', 'duration', 'name', 'enum', 'histogram', 'flags'];

export interface StreamDecl {
  /** Field name -> declaration, in the order records carry them. */
  fields: Record<string, FieldDecl>;
  /** At most this many records per second of packet time (the run's end counts as one more second). */
  maxPerSecond: number;
  /** Records whose `field` is below k are suppressed (small aggregates single people out). */
  minCount: { field: string; k: number } | null;
}

export type Streams = Record<string, StreamDecl>;

export const STREAM_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const FIELD_NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,31}$/;
const ENUM_VALUE = /^[A-Za-z0-9_.-]{1,32}$/;
const SUFFIX = /^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){0,3}$/;
/** Names the receiver writes files for already, and record type names. */
export const reservedStreamNames: readonly string[] = ['flows', 'dns', 'packets', 'trace', 'line', 'log', 'summary', 'schema', 'report', 'status', 'boot', 'end', 'checkpoint'];
export const MAX_STREAMS = 16;
export const MAX_FIELDS = 32;
export const MAX_HISTOGRAM_BINS = 256;
export const MAX_ENUM_VALUES = 256;
export const MAX_NAME_LABELS = 8;
export const MAX_PER_SECOND = 100_000;

export class StreamError extends Error {}

type Obj = Record<string, unknown>;

function fail(where: string, what: string): never {
  throw new StreamError(`${where}: ${what}`);
}

function object(v: unknown, where: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be a JSON object');
  for (const k of Object.keys(v as Obj)) {
    if (!allowed.includes(k)) fail(`${where}.${k}`, `unknown key; allowed here: ${allowed.join(', ')}`);
  }
  return v as Obj;
}

function whole(o: Obj, key: string, where: string, def: number, min: number, max: number): number {
  const v = o[key] ?? def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${where}.${key}`, `must be a whole number from ${min} to ${max}`);
  return v;
}

function parseField(v: unknown, where: string): FieldDecl {
  const type = (v as Obj | null)?.type;
  if (typeof type !== 'string' || !fieldTypes.includes(type as FieldType)) {
    fail(`${where}.type`, `must be one of ${fieldTypes.join(', ')} (there is no free text)`);
  }
  switch (type as FieldType) {
    case 'address': case 'mac': case 'port': case 'protocol': case 'time':
      object(v, where, ['type']);
      return { type } as FieldDecl;
    case 'count': {
      const o = object(v, where, ['type', 'max', 'round']);
      return { type: 'count', max: whole(o, 'max', where, 2 ** 32 - 1, 1, Number.MAX_SAFE_INTEGER), round: whole(o, 'round', where, 1, 1, 2 ** 32) };
    }
    case 'duration': {
      const o = object(v, where, ['type', 'max']);
      return { type: 'duration', max: whole(o, 'max', where, 86_400_000_000, 1, Number.MAX_SAFE_INTEGER) };
    }
    case 'name': {
      const o = object(v, where, ['type', 'maxLabels', 'suffixes']);
      const suffixes = o.suffixes ?? [];
      if (!Array.isArray(suffixes) || suffixes.length > 64 || !suffixes.every((s) => typeof s === 'string' && SUFFIX.test(s))) {
        fail(`${where}.suffixes`, 'must be a list of at most 64 lowercase DNS suffixes ("com", "co.uk") that may stay readable');
      }
      return { type: 'name', maxLabels: whole(o, 'maxLabels', where, 4, 1, MAX_NAME_LABELS), suffixes: (suffixes as string[]).slice() };
    }
    case 'enum': {
      const o = object(v, where, ['type', 'values']);
      const values = o.values;
      if (!Array.isArray(values) || values.length === 0 || values.length > MAX_ENUM_VALUES || !values.every((s) => typeof s === 'string' && ENUM_VALUE.test(s)) || new Set(values).size !== values.length) {
        fail(`${where}.values`, `must be a list of 1 to ${MAX_ENUM_VALUES} distinct words (letters, digits, "_", ".", "-"; at most 32 characters)`);
      }
      return { type: 'enum', values: (values as string[]).slice() };
    }
    case 'histogram': {
      const o = object(v, where, ['type', 'bins', 'max']);
      if (o.bins === undefined) fail(`${where}.bins`, `is required: the number of counts, 1 to ${MAX_HISTOGRAM_BINS}`);
      return { type: 'histogram', bins: whole(o, 'bins', where, 0, 1, MAX_HISTOGRAM_BINS), max: whole(o, 'max', where, 2 ** 32 - 1, 1, Number.MAX_SAFE_INTEGER) };
    }
    case 'flags': {
      const o = object(v, where, ['type', 'bits']);
      return { type: 'flags', bits: whole(o, 'bits', where, 8, 1, 32) };
    }
  }
}

/** Validates run.json analysis.streams; throws StreamError naming the first problem. */
export function parseStreams(raw: unknown, where = 'analysis.streams'): Streams {
  if (raw === undefined) return {};
  const top = object(raw, where, Object.keys((raw ?? {}) as Obj));
  const names = Object.keys(top);
  if (names.length > MAX_STREAMS) fail(where, `declares ${names.length} streams; at most ${MAX_STREAMS}`);
  const out: Streams = {};
  for (const name of names) {
    const w = `${where}.${name}`;
    if (!STREAM_NAME.test(name)) fail(w, 'stream names are 1 to 32 characters: a lowercase letter, then lowercase letters, digits or "_"');
    if (reservedStreamNames.includes(name)) fail(w, `"${name}" is taken by the receiver's own files; choose another name`);
    const s = object(top[name], w, ['fields', 'maxPerSecond', 'minCount']);
    const fieldsRaw = object(s.fields, `${w}.fields`, Object.keys((s.fields ?? {}) as Obj));
    const fieldNames = Object.keys(fieldsRaw);
    if (fieldNames.length === 0 || fieldNames.length > MAX_FIELDS) fail(`${w}.fields`, `must declare 1 to ${MAX_FIELDS} fields`);
    const fields: Record<string, FieldDecl> = {};
    for (const f of fieldNames) {
      if (!FIELD_NAME.test(f)) fail(`${w}.fields.${f}`, 'field names are 1 to 32 characters: a letter, then letters, digits or "_"');
      fields[f] = parseField(fieldsRaw[f], `${w}.fields.${f}`);
    }
    if (s.maxPerSecond === undefined) fail(`${w}.maxPerSecond`, `is required: at most how many records per second of packet time (1 to ${MAX_PER_SECOND}); it bounds what the stream can carry`);
    const maxPerSecond = whole(s, 'maxPerSecond', w, 0, 1, MAX_PER_SECOND);
    let minCount: StreamDecl['minCount'] = null;
    if (s.minCount !== undefined) {
      const m = object(s.minCount, `${w}.minCount`, ['field', 'k']);
      if (typeof m.field !== 'string' || fields[m.field]?.type !== 'count') fail(`${w}.minCount.field`, 'must name a field of type count');
      minCount = { field: m.field, k: whole(m, 'k', `${w}.minCount`, 0, 2, 1_000_000) };
    }
    out[name] = { fields, maxPerSecond, minCount };
  }
  return out;
}

/** Upper bound on the bits a module can choose in one value of this field. */
export function fieldCapacityBits(f: FieldDecl): number {
  const log2 = (n: number): number => Math.log2(n);
  switch (f.type) {
    // Crypto-PAn and the MAC permutation are one-to-one: a reader who learns the
    // mapping (a codebook) gets every bit back. Address: a family bit and 128 bits.
    case 'address': return 129;
    case 'mac': return 48;
    case 'port': return 16;
    case 'protocol': return 8;
    case 'count': return log2(Math.floor(f.max / f.round) + 1);
    // Coarsening takes bits away, but a module picks any time in 53 bits: count them all.
    case 'time': return 53;
    case 'duration': return log2(f.max + 1);
    // Each label becomes a 60-bit keyed token a codebook can map back; the label count
    // and the readable suffix (one of the declared ones, or none) add a little.
    case 'name': return f.maxLabels * LABEL_CHARS * 5 + log2(f.maxLabels) + log2(f.suffixes.length + 1);
    case 'enum': return log2(f.values.length);
    case 'histogram': return f.bins * log2(f.max + 1);
    case 'flags': return f.bits;
  }
}

/** Upper bound on the bits one record of the stream can carry. */
export function recordCapacityBits(s: StreamDecl): number {
  let bits = 0;
  for (const f of Object.values(s.fields)) bits += fieldCapacityBits(f);
  return bits;
}

/** One line per stream for the operator log and `bundle inspect`: the capacity bound. */
export function describeCapacity(name: string, s: StreamDecl): string {
  const bits = recordCapacityBits(s);
  const perSecond = bits * s.maxPerSecond;
  const k = s.minCount ? `, records with ${s.minCount.field} below ${s.minCount.k} suppressed` : '';
  return `stream ${name}: ${Object.keys(s.fields).length} fields, at most ${Math.ceil(bits)} bits a record and ${s.maxPerSecond} records a second of packet time: residual capacity at most ${formatBits(perSecond)}/s${k}`;
}

/** Bits as a reader takes them in: "542.0 kbit". */
export function formatBits(b: number): string {
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} Mbit`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} kbit`;
  return `${Math.ceil(b)} bit`;
}
