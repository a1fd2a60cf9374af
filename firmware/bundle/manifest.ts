// manifest.json of a bundle: what it is, which boards it is for, its version and
// security version, and the size and BLAKE2b-256 hash of every payload file.
// It is stored as canonical JSON (canonical-json.ts) and signed as a whole.
import { BundleError, MAX_PAYLOAD_BYTES, PAYLOAD_NAMES } from './format';
import { canonicalJson } from './canonical-json';
import { blake2b256Hex } from './hash';

export const PRODUCT = 'sealtap';
export const MAX_SECURITY_VERSION = 0x7fffffff;
const MAX_BOARDS = 16;

export interface PayloadRecord {
  name: string;
  size: number;
  /** BLAKE2b-256 of the payload file, lowercase hex. */
  blake2b: string;
}

export interface Manifest {
  product: string;
  /** Short name of the analysis firmware, e.g. "flows-basic". */
  name: string;
  /** Board names (board/<name>/) this bundle may run on. */
  boards: string[];
  version: string;
  /** Anti-rollback counter: the box refuses a bundle below its stored minimum. */
  securityVersion: number;
  /** Identifies the build: by default derived from the payload hashes (reproducible). */
  buildId: string;
  /** ISO 8601 UTC, e.g. 2026-11-23T09:00:00Z. */
  created: string;
  payload: PayloadRecord[];
  /** BLAKE2b-256 of the privacy statement (privacy.ts) derived from the payload: what the roles approve. */
  privacy: string;
}

const KEYS = ['boards', 'buildId', 'created', 'name', 'payload', 'privacy', 'product', 'securityVersion', 'version'];
const PAYLOAD_KEYS = ['blake2b', 'name', 'size'];
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$/;
const CREATED_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const HASH_RE = /^[0-9a-f]{64}$/;

export function isBoardName(s: string): boolean { return NAME_RE.test(s); }
export function isVersion(s: string): boolean { return VERSION_RE.test(s); }
export function isSecurityVersion(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= MAX_SECURITY_VERSION;
}

export function encodeManifest(m: Manifest): Buffer {
  return Buffer.from(canonicalJson(m), 'utf8');
}

/** The manifest for these payload files, in PAYLOAD_NAMES order. */
export function makeManifest(fields: { name: string; boards: string[]; version: string; securityVersion: number; created: Date; privacy: string; buildId?: string },
  payloads: Buffer[]): Manifest {
  const payload = PAYLOAD_NAMES.map((name, i) => ({ name, size: payloads[i].length, blake2b: blake2b256Hex(payloads[i]) }));
  // Same payload, same version -> same build id, so two builds of one tree can be compared.
  const buildId = fields.buildId ?? blake2b256Hex(Buffer.from(canonicalJson({ payload, version: fields.version }), 'utf8')).slice(0, 32);
  const m: Manifest = {
    product: PRODUCT,
    name: fields.name,
    boards: fields.boards,
    version: fields.version,
    securityVersion: fields.securityVersion,
    buildId,
    created: fields.created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    payload,
    privacy: fields.privacy,
  };
  checkManifest(m);
  return m;
}

function fail(what: string): never {
  throw new BundleError(`manifest.json: ${what}`);
}

function checkKeys(obj: Record<string, unknown>, want: string[], where: string): void {
  const have = Object.keys(obj).sort();
  for (const k of have) if (!want.includes(k)) fail(`unknown key ${JSON.stringify(k)} in ${where}`);
  for (const k of want) if (!have.includes(k)) fail(`missing key "${k}" in ${where}`);
}

/** Throws a BundleError unless every field is present, well formed and nothing else is there. */
export function checkManifest(m: unknown): asserts m is Manifest {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) fail('must be a JSON object');
  const o = m as Record<string, unknown>;
  checkKeys(o, KEYS, 'the manifest');
  if (o.product !== PRODUCT) fail(`product is ${JSON.stringify(o.product)}, not "${PRODUCT}": this is not a sealtap analysis bundle`);
  if (typeof o.name !== 'string' || !NAME_RE.test(o.name)) fail('name must be 1-64 letters, digits, ".", "_" or "-"');
  if (!Array.isArray(o.boards) || o.boards.length === 0 || o.boards.length > MAX_BOARDS) fail(`boards must list 1 to ${MAX_BOARDS} board names`);
  for (const b of o.boards) if (typeof b !== 'string' || !NAME_RE.test(b)) fail(`board ${JSON.stringify(b)} is not a board name`);
  if (typeof o.version !== 'string' || !VERSION_RE.test(o.version)) fail('version must be 1-32 characters of letters, digits, ".", "+", "-"');
  if (!isSecurityVersion(o.securityVersion)) fail(`securityVersion must be an integer from 0 to ${MAX_SECURITY_VERSION}`);
  if (typeof o.buildId !== 'string' || !NAME_RE.test(o.buildId)) fail('buildId must be 1-64 letters, digits, ".", "_" or "-"');
  if (typeof o.created !== 'string' || !CREATED_RE.test(o.created)) fail('created must be a UTC time like 2026-11-23T09:00:00Z');
  if (typeof o.privacy !== 'string' || !HASH_RE.test(o.privacy)) fail('privacy must be the 64 lowercase hex digits of the privacy statement\'s BLAKE2b-256');
  if (!Array.isArray(o.payload) || o.payload.length !== PAYLOAD_NAMES.length) fail(`payload must list exactly ${PAYLOAD_NAMES.join(', ')}`);
  o.payload.forEach((p: unknown, i: number) => {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) fail(`payload[${i}] must be an object`);
    const r = p as Record<string, unknown>;
    checkKeys(r, PAYLOAD_KEYS, `payload[${i}]`);
    if (r.name !== PAYLOAD_NAMES[i]) fail(`payload[${i}] is ${JSON.stringify(r.name)}, expected "${PAYLOAD_NAMES[i]}" (payload order is ${PAYLOAD_NAMES.join(', ')})`);
    if (typeof r.size !== 'number' || !Number.isSafeInteger(r.size) || r.size < 0 || r.size > MAX_PAYLOAD_BYTES) fail(`payload[${i}].size must be an integer from 0 to ${MAX_PAYLOAD_BYTES}`);
    if (typeof r.blake2b !== 'string' || !HASH_RE.test(r.blake2b)) fail(`payload[${i}].blake2b must be 64 lowercase hex digits`);
  });
}

/** Parses and checks manifest bytes; refuses any byte form other than the canonical one. */
export function parseManifest(bytes: Buffer): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    fail(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  checkManifest(value);
  if (!encodeManifest(value).equals(bytes)) fail('not in canonical form (sorted keys, no whitespace): it was edited after `sealtap bundle build`');
  return value;
}
