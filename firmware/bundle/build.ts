// Workstation side: turns an analysis firmware directory (module.js, policy.json,
// run.json, optional bundle.json) into a bundle, and re-signs existing bundles.
import * as fs from 'fs';
import * as path from 'path';
import {
  BundleError, encodeArchive, ENTRY_FORMAT, ENTRY_MANIFEST, ENTRY_SIGNATURE, FORMAT_MARKER, MAX_PAYLOAD_BYTES, MAX_SIGNATURES, PAYLOAD_NAMES,
} from './format';
import { encodeManifest, isBoardName, isSecurityVersion, isVersion, makeManifest, Manifest } from './manifest';
import { DEFAULT_ROLE, parseSignatures, signManifest } from './signing-keys';
import { loadBundle } from './verify';
import { checkContentForBoards } from './content';

/** DIR/bundle.json: defaults for the build options. */
export interface BundleDefaults {
  name?: string;
  version?: string;
  securityVersion?: number;
  boards?: string[];
}

export interface BuildOptions {
  dir: string;
  boards?: string[];
  version?: string;
  securityVersion?: number;
  name?: string;
  /** From readSecretKeyFile; null builds an unsigned bundle (sign it later with signBundle). */
  secretKey: Buffer | null;
  /** The role the key signs in (trust.ts); default "researcher". */
  role?: string;
  /** Defaults to SOURCE_DATE_EPOCH if set (reproducible builds), else now. */
  created?: Date;
  /**
   * The three payload files given one by one instead of DIR/module.js, DIR/policy.json
   * and DIR/run.json (dir then only supplies bundle.json defaults, and may be omitted).
   */
  files?: { module: string; policy: string; run: string };
}

const DEFAULT_KEYS = ['boards', 'name', 'securityVersion', 'version'];

export function readBundleDefaults(dir: string): BundleDefaults {
  const p = path.join(dir, 'bundle.json');
  if (!fs.existsSync(p)) return {};
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch (err) {
    throw new BundleError(`${p} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BundleError(`${p} must be a JSON object like {"version": "1.0.0", "securityVersion": 1}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!DEFAULT_KEYS.includes(k)) throw new BundleError(`${p}: unknown key ${JSON.stringify(k)} (allowed: ${DEFAULT_KEYS.join(', ')})`);
  if (o.name !== undefined && typeof o.name !== 'string') throw new BundleError(`${p}: name must be a string`);
  if (o.version !== undefined && typeof o.version !== 'string') throw new BundleError(`${p}: version must be a string like "1.0.0"`);
  if (o.securityVersion !== undefined && !isSecurityVersion(o.securityVersion)) throw new BundleError(`${p}: securityVersion must be a non-negative integer`);
  if (o.boards !== undefined && (!Array.isArray(o.boards) || !o.boards.every((b) => typeof b === 'string'))) throw new BundleError(`${p}: boards must be a list of board names`);
  return o as BundleDefaults;
}

function readPayload(p: string, name: string): Buffer {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new BundleError(`${p} is missing: an analysis firmware directory holds ${PAYLOAD_NAMES.join(', ')} (or give the files with --module, --policy and --run)`);
  }
  if (!st.isFile()) throw new BundleError(`${p} is not a regular file`);
  if (st.size > MAX_PAYLOAD_BYTES) throw new BundleError(`${p} is ${st.size} bytes, over the ${MAX_PAYLOAD_BYTES}-byte payload limit`);
  const data = fs.readFileSync(p);
  if (name.endsWith('.json')) {
    try {
      JSON.parse(data.toString('utf8'));
    } catch (err) {
      throw new BundleError(`${p} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return data;
}

function createdTime(): Date {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000);
  return new Date();
}

export function assembleBundle(manifest: Manifest, signature: Buffer, payloads: Buffer[]): Buffer {
  return encodeArchive([
    { name: ENTRY_FORMAT, data: FORMAT_MARKER },
    { name: ENTRY_MANIFEST, data: encodeManifest(manifest) },
    { name: ENTRY_SIGNATURE, data: signature },
    ...PAYLOAD_NAMES.map((name, i) => ({ name, data: payloads[i] })),
  ]);
}

export function buildBundle(opts: BuildOptions): { bytes: Buffer; manifest: Manifest } {
  const hasDir = opts.dir !== '' || !opts.files;
  if (hasDir && (!fs.existsSync(opts.dir) || !fs.statSync(opts.dir).isDirectory())) throw new BundleError(`${opts.dir} is not a directory: pass the analysis firmware directory (e.g. examples/flows-basic)`);
  const defaults = hasDir ? readBundleDefaults(opts.dir) : {};
  const boards = opts.boards ?? defaults.boards;
  if (!boards || boards.length === 0) throw new BundleError('no board given: pass --board NAME (a directory name under board/, e.g. qemu-x86_64)');
  for (const b of boards) if (!isBoardName(b)) throw new BundleError(`--board ${JSON.stringify(b)} is not a board name (letters, digits, ".", "_", "-")`);
  const version = opts.version ?? defaults.version;
  if (version === undefined) throw new BundleError(`no version given: pass --version X${hasDir ? ` or set "version" in ${path.join(opts.dir, 'bundle.json')}` : ''}`);
  if (!isVersion(version)) throw new BundleError(`version ${JSON.stringify(version)} must be 1-32 characters of letters, digits, ".", "+", "-"`);
  const securityVersion = opts.securityVersion ?? defaults.securityVersion ?? 0;
  if (!isSecurityVersion(securityVersion)) throw new BundleError('--security-version must be a non-negative integer');
  const name = opts.name ?? defaults.name ?? (hasDir ? path.basename(path.resolve(opts.dir)) : undefined);
  if (name === undefined) throw new BundleError('no name given: pass --name NAME');
  const files = opts.files;
  const source = (n: (typeof PAYLOAD_NAMES)[number]): string =>
    !files ? path.join(opts.dir, n) : n === 'module.js' ? files.module : n === 'policy.json' ? files.policy : files.run;
  const payloads = PAYLOAD_NAMES.map((n) => readPayload(source(n), n));
  // The box's own validators, before anything is signed: a bundle the box would refuse
  // at boot is never made.
  const { privacy } = checkContentForBoards({ module: payloads[0], policy: payloads[1], run: payloads[2] }, boards);
  const manifest = makeManifest({ name, boards, version, securityVersion, privacy, created: opts.created ?? createdTime() }, payloads);
  const signature = opts.secretKey ? signManifest(encodeManifest(manifest), opts.secretKey, opts.role) : Buffer.alloc(0);
  return { bytes: assembleBundle(manifest, signature, payloads), manifest };
}

/**
 * Adds one approval (this key, in this role) to a bundle's signatures. The manifest,
 * the payload and the signatures already there are kept byte for byte; the bundle is
 * checked first (container, hashes, and the content with the box's validators, the
 * privacy statement included) so a broken bundle is never approved. Signing twice with
 * one key in one role is refused: it would add nothing.
 */
export function signBundle(bytes: Buffer, secretKey: Buffer, role = DEFAULT_ROLE): { bytes: Buffer; manifest: Manifest; signatures: number } {
  const bundle = loadBundle(bytes, { allowUnsigned: true });
  checkContentForBoards(bundle, bundle.manifest.boards);
  const added = signManifest(bundle.manifestBytes, secretKey, role);
  const mine = parseSignatures(added)[0];
  const present = parseSignatures(bundle.signatures);
  if (present.some((r) => r.keyId === mine.keyId && r.role === role && r.manifestHash === mine.manifestHash)) {
    throw new BundleError(`key ${mine.keyId} has already signed this bundle as ${role}: a second signature by one key counts once; another person of that role signs with their own key`);
  }
  if (present.length >= MAX_SIGNATURES) throw new BundleError(`the bundle already holds ${present.length} signatures, the most it can carry`);
  const signatures = Buffer.concat([bundle.signatures, added]);
  return { bytes: assembleBundle(bundle.manifest, signatures, [bundle.module, bundle.policy, bundle.run]), manifest: bundle.manifest, signatures: present.length + 1 };
}

/** Writes next to the target and renames, so a crash never leaves half a bundle under the final name. */
export function writeFileAtomically(target: string, data: Buffer): void {
  const tmp = `${target}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, target);
}
