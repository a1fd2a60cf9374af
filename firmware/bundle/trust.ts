// Who must approve a bundle before a box runs it: the trust configuration, and the
// check of a bundle's signatures against it.
//
// The trust configuration is a directory (on the box: /etc/sealtap/trusted, baked into
// the image). It holds public keys (*.pub) and, for approval by several parties, a
// trust.json naming roles:
//
//   {"roles": {"researcher":      {"keys": ["alice.pub", "bob.pub"]},
//              "privacy-officer": {"keys": ["dpo-1.pub", "dpo-2.pub"], "threshold": 1}}}
//
// Every role listed must approve: at least `threshold` (default 1) of its keys must
// have signed the bundle's manifest in that role. A key belongs to one role only, so
// one person cannot stand in for two parties. Without trust.json, any one of the keys
// in the directory approves alone (a single-party box).
//
// A signature counts only when it is by a key of the role it names, over this very
// manifest, and valid; signatures by the same key count once. A signature that names a
// trusted key and this manifest but does not verify means the bundle was altered: it is
// refused outright, whatever else signed it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BundleError } from './format';
import { blake2b256Hex } from './hash';
import { isRoleName, keyId, parsePublicKey, parseSignatures, signatureHolds } from './signing-keys';

export const TRUST_FILE = 'trust.json';
/** The role name a single-party configuration accepts any signature under. */
const ANY_ROLE = '*';
const MAX_ROLES = 8;
const MAX_ROLE_KEYS = 16;

/** A trust configuration that is itself wrong (the CLI exits 2, the box refuses to run). */
export class TrustError extends BundleError {}

export interface TrustRole {
  /** A role name, or ANY_ROLE: signatures in any role count. */
  name: string;
  keys: Buffer[];
  threshold: number;
}

export interface Trust {
  roles: TrustRole[];
  /** Where it came from, for messages: a directory or "--pub". */
  source: string;
}

export interface Approval {
  role: string;
  keyId: string;
}

/** Single-party trust: any one of these keys approves, in any role (`verify --pub`). */
export function trustAnyOf(keys: Buffer[], source: string): Trust {
  return { roles: [{ name: ANY_ROLE, keys, threshold: 1 }], source };
}

function fail(dir: string, what: string): never {
  throw new TrustError(`trust configuration ${dir}: ${what}`);
}

function readKey(dir: string, name: string): Buffer {
  const file = path.join(dir, name);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    fail(dir, `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)}): put the public key there or remove it from ${TRUST_FILE}`);
  }
  return parsePublicKey(bytes, file);
}

function parseTrustJson(dir: string, text: string): Trust {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    fail(dir, `${TRUST_FILE} is not valid JSON (${(e as Error).message})`);
  }
  const obj = v as Record<string, unknown>;
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) fail(dir, `${TRUST_FILE} must be a JSON object like {"roles": {"researcher": {"keys": ["alice.pub"]}}}`);
  for (const k of Object.keys(obj)) if (k !== 'roles') fail(dir, `${TRUST_FILE}: unknown key ${JSON.stringify(k)} (allowed: roles)`);
  const roles = obj.roles as Record<string, unknown>;
  if (roles === null || typeof roles !== 'object' || Array.isArray(roles)) fail(dir, `${TRUST_FILE}: roles must be an object of role name -> {"keys": [...], "threshold": n}`);
  const names = Object.keys(roles);
  if (names.length === 0 || names.length > MAX_ROLES) fail(dir, `${TRUST_FILE}: roles must name 1 to ${MAX_ROLES} roles`);
  const owner = new Map<string, string>();
  const out: TrustRole[] = [];
  for (const name of names) {
    const where = `${TRUST_FILE}: role ${JSON.stringify(name)}`;
    if (!isRoleName(name)) fail(dir, `${where}: a role name is 1-32 lowercase letters, digits or "-", starting with a letter`);
    const r = roles[name] as Record<string, unknown>;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) fail(dir, `${where} must be an object like {"keys": ["alice.pub"], "threshold": 1}`);
    for (const k of Object.keys(r)) if (k !== 'keys' && k !== 'threshold') fail(dir, `${where}: unknown key ${JSON.stringify(k)} (allowed: keys, threshold)`);
    const files = r.keys;
    if (!Array.isArray(files) || files.length === 0 || files.length > MAX_ROLE_KEYS) fail(dir, `${where}: keys must list 1 to ${MAX_ROLE_KEYS} .pub files of this directory`);
    const keys: Buffer[] = [];
    for (const f of files) {
      if (typeof f !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*\.pub$/.test(f)) fail(dir, `${where}: ${JSON.stringify(f)} is not the name of a .pub file in this directory`);
      const pk = readKey(dir, f);
      const id = keyId(pk);
      const other = owner.get(id);
      if (other !== undefined) fail(dir, `${where}: key ${f} (${id}) is listed twice (also in role ${JSON.stringify(other)}); one key approves for one role only, or one person could stand in for two parties`);
      owner.set(id, name);
      keys.push(pk);
    }
    const threshold = r.threshold ?? 1;
    if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1 || threshold > keys.length) {
      fail(dir, `${where}: threshold must be a whole number from 1 to ${keys.length} (the number of its keys)`);
    }
    out.push({ name, keys, threshold });
  }
  return { roles: out, source: dir };
}

/** The trust configuration in `dir`: trust.json if there is one, else any one of its *.pub. */
export function readTrust(dir: string): Trust {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(dir, `cannot read it (${code ?? String(e)})${code === 'ENOENT' ? ': give the directory holding the trusted public keys (*.pub)' : ''}`);
  }
  if (names.includes(TRUST_FILE)) return parseTrustJson(dir, fs.readFileSync(path.join(dir, TRUST_FILE), 'utf8'));
  const pubs = names.filter((n) => n.endsWith('.pub')).sort();
  if (pubs.length === 0) fail(dir, 'no public keys (*.pub): add the keys bundles must be signed with');
  return trustAnyOf(pubs.map((n) => readKey(dir, n)), dir);
}

/** One line per role, for logs and `bundle inspect`: who must approve. */
export function describeTrust(t: Trust): string {
  return t.roles.map((r) => r.name === ANY_ROLE
    ? `a signature by any one of ${r.keys.map(keyId).join(', ')}`
    : `${r.name}: ${r.threshold} of ${r.keys.map(keyId).join(', ')}`).join('; ');
}

function roleOfKey(t: Trust, id: string): { role: TrustRole; pk: Buffer } | null {
  for (const role of t.roles) for (const pk of role.keys) if (keyId(pk) === id) return { role, pk };
  return null;
}

/**
 * The approvals of `manifest` that count under `trust`, or a BundleError saying which
 * role is short and why each signature that did not count was set aside.
 */
export function checkApproval(manifest: Buffer, sigEntry: Buffer, trust: Trust): Approval[] {
  const records = parseSignatures(sigEntry);
  if (records.length === 0) throw new BundleError('the bundle is not signed: sign it with `sealtap bundle sign FILE --key PREFIX.key --role ROLE --out FILE2`');
  const hash = blake2b256Hex(manifest);
  const counted = new Map<TrustRole, Set<string>>(trust.roles.map((r) => [r, new Set<string>()]));
  const approvals: Approval[] = [];
  const setAside: string[] = [];
  for (const rec of records) {
    const who = `the signature by key ${rec.keyId} as ${rec.role}`;
    const found = roleOfKey(trust, rec.keyId);
    if (!found) {
      setAside.push(`${who} is by a key not in the trust configuration (${trust.source})`);
      continue;
    }
    if (found.role.name !== ANY_ROLE && found.role.name !== rec.role) {
      setAside.push(`${who}: key ${rec.keyId} approves as ${found.role.name}, not as ${rec.role}`);
      continue;
    }
    if (rec.manifestHash !== hash) {
      setAside.push(`${who} is over another manifest (${rec.manifestHash.slice(0, 16)}), not this one (${hash.slice(0, 16)}): it approves another build (an older one, or this manifest was altered after signing); have ${rec.role} sign this one`);
      continue;
    }
    if (!signatureHolds(rec, manifest, found.pk)) {
      throw new BundleError(`${who} is invalid: manifest.json was altered after signing; rebuild or re-sign the bundle`);
    }
    const seen = counted.get(found.role)!;
    if (seen.has(rec.keyId)) {
      setAside.push(`key ${rec.keyId} signed as ${rec.role} more than once; counted once`);
      continue;
    }
    seen.add(rec.keyId);
    approvals.push({ role: rec.role, keyId: rec.keyId });
  }
  const short: string[] = [];
  for (const role of trust.roles) {
    const n = counted.get(role)!.size;
    if (n >= role.threshold) continue;
    const of = `${role.threshold === 1 ? 'a signature' : `${role.threshold} signatures by distinct keys`} of ${role.keys.map(keyId).join(', ')}`;
    if (role.name === ANY_ROLE) short.push(`no signature by a trusted key (needs ${of})`);
    else if (n === 0) short.push(`role ${role.name} has not approved it (needs ${of})`);
    else short.push(`role ${role.name} has ${n} of the ${role.threshold} signatures by distinct keys it needs (${of})`);
  }
  if (short.length) {
    throw new BundleError(`the bundle is not approved: ${short.join('; ')}${setAside.length ? `; set aside: ${setAside.join('; ')}` : ''}`);
  }
  return approvals;
}

/** "researcher 1a2b…, privacy-officer 3c4d…": who approved, for logs and BOOT. */
export function describeApprovals(a: Approval[]): string {
  return a.map((x) => `${x.role} ${x.keyId}`).join(', ');
}
