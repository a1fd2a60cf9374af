// The anonymization policy: a JSON file, validated with unknown keys refused and every
// header field given an explicit action (default-deny), resolved into plain data that
// crosses the IPC channel to the analysis process as it is. Format: docs/policy.md.
import * as fs from 'fs';
import defaultPolicyJson from './default-policy.json';
import { FIELD_NAMES, FieldActions, FieldName, isFieldName } from './policy-fields';
import { PolicyError, isPlainObject, parseAction, quote, rejectUnknownKeys } from './policy-schema';
import { Prefix, formatPrefix, parsePrefix, truncateBits } from './ip-text';
import { CryptoPan } from './cryptopan';

export { PolicyError } from './policy-schema';
export type { Action, ActionName, FieldActions, FieldName } from './policy-fields';

export type OutputName = 'flows' | 'packets' | 'dns';
const OUTPUTS: readonly OutputName[] = ['flows', 'packets', 'dns'];

export interface Level {
  description?: string;
  /** Complete: the policy's fields with this level's overrides applied. */
  fields: FieldActions;
  outputs: OutputName[];
}

/**
 * A validated policy. Plain data (no methods) so it survives structured cloning over
 * IPC; validatePolicy() accepts it again unchanged.
 */
export interface Policy {
  version: 1;
  description?: string;
  /** Complete: one action for every field in FIELD_NAMES. */
  fields: FieldActions;
  /** At least one level; insertion order is output order. */
  levels: Record<string, Level>;
  /** The researcher's own prefixes, normalized text ("192.0.2.0/24"). */
  disclose: string[];
  /** DNS labels kept readable at the end of names (1: "com" of "example.com"). */
  dnsSuffixLabels: number;
}

const TOP_KEYS = ['version', 'description', 'extends', 'fields', 'levels', 'disclose', 'dnsSuffixLabels'];
const LEVEL_KEYS = ['description', 'fields', 'outputs'];
const LEVEL_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
// Each disclosed prefix tells the reader how the bits along its path were flipped,
// which narrows down every address sharing a prefix with it. A short list keeps
// disclosure a way to find one's own hosts, not a way to undo the anonymization.
export const MAX_DISCLOSE = 32;
export const MAX_DNS_SUFFIX_LABELS = 4;

/** Validates a parsed policy object; throws a PolicyError naming the first problem. */
export function validatePolicy(obj: unknown): Policy {
  if (!isPlainObject(obj)) throw new PolicyError('policy', 'must be a JSON object; see docs/policy.md');
  rejectUnknownKeys(obj, 'policy', TOP_KEYS, `expected one of ${TOP_KEYS.join(', ')}`);
  if (obj.version !== undefined && obj.version !== 1) {
    throw new PolicyError('policy.version', `${JSON.stringify(obj.version)} is not supported; this firmware reads version 1`);
  }
  const description = optionalText(obj.description, 'policy.description');
  let base: Partial<FieldActions> = {};
  let inherited: Policy | null = null;
  if (obj.extends !== undefined) {
    if (obj.extends !== 'default') {
      throw new PolicyError('policy.extends', `${JSON.stringify(obj.extends)} is not a known policy; the only one is "default" (the built-in defaults)`);
    }
    inherited = defaultPolicy();
    base = { ...inherited.fields };
  }
  if (obj.fields === undefined && !inherited) {
    throw new PolicyError('policy.fields', 'missing; give every header field an action, or add "extends": "default" to start from the built-in defaults');
  }
  const fields = { ...base, ...parseFields(obj.fields ?? {}, 'policy.fields') };
  const missing = FIELD_NAMES.filter((f) => fields[f] === undefined);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).map((f) => `"${f}"`).join(', ') + (missing.length > 5 ? ` (and ${missing.length - 5} more)` : '');
    throw new PolicyError('policy.fields', `no action for ${shown}; every header field needs one (default-deny): add them, or add "extends": "default" to inherit the built-in defaults`);
  }
  const full = fields as FieldActions;
  checkSequenceFields(full, 'policy.fields');
  let levels: Record<string, Level>;
  if (obj.levels !== undefined) {
    levels = parseLevels(obj.levels, full);
  } else if (inherited) {
    levels = {};
    for (const [name, lvl] of Object.entries(inherited.levels)) levels[name] = { outputs: lvl.outputs.slice(), fields: { ...full } };
  } else {
    levels = { default: { outputs: OUTPUTS.slice(), fields: { ...full } } };
  }
  const policy: Policy = {
    version: 1,
    fields: full,
    levels,
    disclose: parseDisclose(obj.disclose).map(formatPrefix),
    dnsSuffixLabels: parseSuffixLabels(obj.dnsSuffixLabels),
  };
  if (description !== undefined) policy.description = description;
  return policy;
}

/** Reads and validates a policy file; the one-line error names the file and the problem. */
export function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not readable (permission denied)' : `cannot be read (${code ?? 'error'})`;
    throw new Error(`policy file ${path}: ${why}; check the "policy" path in run.json`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new Error(`policy file ${path}: not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  try {
    return validatePolicy(obj);
  } catch (err) {
    throw new Error(`policy file ${path}: ${(err as Error).message}`);
  }
}

/** The built-in policy (firmware/anonymize/default-policy.json), validated. A fresh copy. */
export function defaultPolicy(): Policy {
  return validatePolicy(JSON.parse(JSON.stringify(defaultPolicyJson)));
}

/**
 * The anonymized value of each disclosed prefix under this run's Crypto-PAn key, for
 * the output's header. Crypto-PAn preserves prefixes, so every address inside a
 * disclosed prefix anonymizes to an address inside the reported one.
 */
export function disclosures(policy: Policy, pan: CryptoPan): Array<{ prefix: string; anonymized: string }> {
  return policy.disclose.map((text) => {
    const p = parsePrefix(text) as Prefix;
    const bytes = Buffer.from(p.bytes);
    if (p.family === 4) pan.anonymizeV4Into(bytes, 0);
    else pan.anonymizeV6Into(bytes, 0);
    truncateBits(bytes, 0, bytes.length, p.length);
    return { prefix: text, anonymized: formatPrefix({ family: p.family, bytes, length: p.length }) };
  });
}

function parseFields(v: unknown, path: string): Partial<FieldActions> {
  if (!isPlainObject(v)) throw new PolicyError(path, 'must be an object mapping field names (e.g. "ip4.src") to actions');
  const out: Partial<FieldActions> = {};
  for (const [name, value] of Object.entries(v)) {
    const fpath = `${path}[${JSON.stringify(name)}]`;
    if (!isFieldName(name)) {
      const near = FIELD_NAMES.filter((f) => f.split('.')[0] === name.split('.')[0]);
      const hint = near.length > 0 ? `fields of "${name.split('.')[0]}" are ${near.join(', ')}` : 'see docs/policy.md for the field list';
      throw new PolicyError(fpath, `unknown field; ${hint}`);
    }
    out[name as FieldName] = parseAction(fpath, name as FieldName, value);
  }
  return out;
}

function parseLevels(v: unknown, base: FieldActions): Record<string, Level> {
  if (!isPlainObject(v) || Object.keys(v).length === 0) {
    throw new PolicyError('policy.levels', 'must be an object with at least one level, e.g. {"research": {"outputs": ["flows", "packets"]}}');
  }
  const levels: Record<string, Level> = {};
  for (const [name, raw] of Object.entries(v)) {
    const path = `policy.levels[${quote(name)}]`;
    if (!LEVEL_NAME.test(name)) throw new PolicyError(path, 'level names are 1 to 32 characters: a lowercase letter, then lowercase letters, digits, "-" or "_"');
    if (!isPlainObject(raw)) throw new PolicyError(path, 'must be an object with "outputs" and optional "fields"');
    rejectUnknownKeys(raw, path, LEVEL_KEYS, `expected one of ${LEVEL_KEYS.join(', ')}`);
    const outputs = raw.outputs;
    if (!Array.isArray(outputs) || outputs.length === 0) {
      throw new PolicyError(`${path}.outputs`, `must be a non-empty list drawn from ${OUTPUTS.join(', ')}`);
    }
    outputs.forEach((o, i) => {
      if (!OUTPUTS.includes(o as OutputName)) throw new PolicyError(`${path}.outputs[${i}]`, `unknown output ${JSON.stringify(o)}; expected one of ${OUTPUTS.join(', ')}`);
      if (outputs.indexOf(o) !== i) throw new PolicyError(`${path}.outputs[${i}]`, `${JSON.stringify(o)} is listed twice`);
    });
    const level: Level = {
      outputs: outputs.slice() as OutputName[],
      fields: { ...base, ...(raw.fields === undefined ? {} : parseFields(raw.fields, `${path}.fields`)) },
    };
    checkSequenceFields(level.fields, `${path}.fields`);
    const description = optionalText(raw.description, `${path}.description`);
    if (description !== undefined) level.description = description;
    levels[name] = level;
  }
  return levels;
}

// seq, ack and SACK edges live in the same sequence spaces: offsetting some of them
// while keeping others publishes the raw numbers the offset was meant to hide.
const SEQUENCE_FIELDS: readonly FieldName[] = ['tcp.seq', 'tcp.ack', 'tcp.options.sack'];
function checkSequenceFields(fields: FieldActions, path: string): void {
  if (!SEQUENCE_FIELDS.some((f) => fields[f].action === 'offset')) return;
  for (const f of SEQUENCE_FIELDS) {
    if (fields[f].action === 'keep') {
      const others = SEQUENCE_FIELDS.filter((o) => o !== f && fields[o].action === 'offset').join(' and ');
      throw new PolicyError(`${path}[${JSON.stringify(f)}]`, `"keep" would publish the raw sequence numbers that ${others} offset; use the same action for tcp.seq, tcp.ack and tcp.options.sack`);
    }
  }
}

function parseDisclose(v: unknown): Prefix[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new PolicyError('policy.disclose', 'must be a list of prefixes, e.g. ["192.0.2.0/24", "2001:db8::/32"]');
  if (v.length > MAX_DISCLOSE) throw new PolicyError('policy.disclose', `lists ${v.length} prefixes; at most ${MAX_DISCLOSE} (each one weakens the anonymization of its neighbours)`);
  const seen = new Set<string>();
  return v.map((item, i) => {
    const path = `policy.disclose[${i}]`;
    if (typeof item !== 'string') throw new PolicyError(path, `must be a prefix string like "192.0.2.0/24"`);
    const p = parsePrefix(item);
    if (typeof p === 'string') throw new PolicyError(path, p);
    if (p.length === 0) throw new PolicyError(path, `${quote(item)} covers every address; disclose your own prefixes, e.g. "192.0.2.0/24"`);
    const norm = formatPrefix(p);
    if (seen.has(norm)) throw new PolicyError(path, `${quote(item)} is listed twice`);
    seen.add(norm);
    return p;
  });
}

function parseSuffixLabels(v: unknown): number {
  if (v === undefined) return 1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_DNS_SUFFIX_LABELS) {
    throw new PolicyError('policy.dnsSuffixLabels', `must be a whole number from 0 to ${MAX_DNS_SUFFIX_LABELS} (1 keeps "com", 2 keeps "co.uk")`);
  }
  return v;
}

function optionalText(v: unknown, path: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new PolicyError(path, 'must be a string');
  return v;
}
