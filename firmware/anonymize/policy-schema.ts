// Checks one field's action in a policy file and turns it into its normalized form.
// Every error names the path of the offending value and says what would be accepted,
// because the person reading it is a researcher fixing a JSON file by hand.
import { ACTION_NAMES, Action, ActionName, FieldName, fieldSpec } from './policy-fields';

export class PolicyError extends Error {
  constructor(readonly path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'PolicyError';
  }
}

const PARAMS: Record<ActionName, readonly string[]> = {
  keep: [], zero: [], drop: [], cryptopan: [], mac: [], hash: [], offset: [], nop: [],
  bucket: ['edges'],
  coarsen: ['granularityUs', 'shift'],
  truncate: ['prefixLen'],
};
const EXAMPLE: Partial<Record<ActionName, string>> = {
  bucket: '{"action": "bucket", "edges": [0, 32, 64, 128, 255]}',
  coarsen: '{"action": "coarsen", "granularityUs": 1000, "shift": true}',
  truncate: '{"action": "truncate", "prefixLen": 24}',
};
const MAX_EDGES = 64;
const MAX_GRANULARITY_US = 86_400_000_000; // one day

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
}

/** Refuses keys of obj that are not in allowed. */
export function rejectUnknownKeys(obj: Record<string, unknown>, path: string, allowed: readonly string[], hint: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new PolicyError(`${path}.${k}`, `unknown key; ${hint}`);
  }
}

/** Parses the value of policy.fields[field] (or a level's) at `path`. */
export function parseAction(path: string, field: FieldName, value: unknown): Action {
  const spec = fieldSpec(field);
  const allowed = spec.actions.join(', ');
  let name: unknown;
  let params: Record<string, unknown> = {};
  if (typeof value === 'string') {
    name = value;
  } else if (isPlainObject(value)) {
    if (!('action' in value)) throw new PolicyError(path, `object has no "action"; expected one of ${allowed}`);
    name = value.action;
    params = value;
  } else {
    throw new PolicyError(path, `must be an action name such as "${spec.actions[0]}" or an object like {"action": "${spec.actions[0]}"}; expected one of ${allowed}`);
  }
  if (typeof name !== 'string' || !(ACTION_NAMES as readonly string[]).includes(name)) {
    const shown = typeof name === 'string' ? quote(name) : JSON.stringify(name) ?? String(name);
    throw new PolicyError(path, `unknown action ${shown}; expected one of ${allowed}`);
  }
  const action = name as ActionName;
  if (!spec.actions.includes(action)) {
    if (action === 'keep' && (spec.addrBits !== undefined || spec.actions.includes('mac'))) {
      const why = spec.addrBits ? 'raw addresses, which the egress guard refuses' : 'raw MAC addresses, which identify hosts';
      throw new PolicyError(path, `"keep" would publish ${why}; expected one of ${allowed}`);
    }
    throw new PolicyError(path, `action "${action}" does not apply to ${spec.what}; expected one of ${allowed}`);
  }
  const want = PARAMS[action];
  for (const k of Object.keys(params)) {
    if (k === 'action') continue;
    if (!want.includes(k)) {
      const takes = want.length === 0 ? `"${action}" takes no parameters` : `"${action}" takes ${want.join(', ')}`;
      throw new PolicyError(`${path}.${k}`, `unknown key; ${takes}`);
    }
  }
  if (want.length > 0 && typeof value === 'string') {
    throw new PolicyError(path, `"${action}" needs parameters: write ${EXAMPLE[action]}`);
  }
  switch (action) {
    case 'bucket': return { action, edges: parseEdges(`${path}.edges`, params.edges, spec.max ?? 2 ** 32 - 1) };
    case 'coarsen': return parseCoarsen(path, params);
    case 'truncate': return { action, prefixLen: parsePrefixLen(`${path}.prefixLen`, params.prefixLen, spec.addrBits ?? 128) };
    default: return { action } as Action;
  }
}

function parseEdges(path: string, v: unknown, max: number): number[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw new PolicyError(path, `must be a non-empty list of bucket lower edges, e.g. [0, 32, 64, 128, 255]`);
  }
  if (v.length > MAX_EDGES) throw new PolicyError(path, `has ${v.length} edges; at most ${MAX_EDGES}`);
  for (let i = 0; i < v.length; i++) {
    const e = v[i];
    if (typeof e !== 'number' || !Number.isInteger(e) || e < 0 || e > max) {
      throw new PolicyError(`${path}[${i}]`, `${JSON.stringify(e)} is not a whole number from 0 to ${max}`);
    }
    if (i > 0 && e <= v[i - 1]) {
      throw new PolicyError(`${path}[${i}]`, `${e} does not exceed the edge before it (${v[i - 1]}); list edges in ascending order without repeats`);
    }
  }
  return v.slice() as number[];
}

function parseCoarsen(path: string, params: Record<string, unknown>): Action {
  const g = params.granularityUs;
  if (typeof g !== 'number' || !Number.isInteger(g) || g < 1 || g > MAX_GRANULARITY_US) {
    throw new PolicyError(`${path}.granularityUs`, `must be a whole number of microseconds from 1 to ${MAX_GRANULARITY_US} (1000 = 1 ms)`);
  }
  const shift = params.shift ?? true;
  if (typeof shift !== 'boolean') {
    throw new PolicyError(`${path}.shift`, `must be true (shift times by the run's secret origin) or false`);
  }
  return { action: 'coarsen', granularityUs: g, shift };
}

function parsePrefixLen(path: string, v: unknown, bits: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > bits) {
    throw new PolicyError(path, `must be a whole number from 0 to ${bits} (bits of the anonymized address to keep)`);
  }
  return v;
}
