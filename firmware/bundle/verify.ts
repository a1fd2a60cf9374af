// Decides whether a bundle may run: container, entry order, signature, manifest,
// board, security version, and every payload hash — in that order, so nothing from
// the manifest is believed before its signature is checked and nothing from the
// payload is handed out before its hash is checked.
import {
  ArchiveEntry, BundleError, decodeArchive, ENTRY_FORMAT, ENTRY_MANIFEST, ENTRY_SIGNATURE, FORMAT_MARKER, PAYLOAD_NAMES,
} from './format';
import { Manifest, parseManifest } from './manifest';
import { blake2b256Hex } from './hash';
import { parseSignatures } from './signing-keys';
import { Approval, checkApproval, Trust } from './trust';

export interface LoadedBundle {
  manifest: Manifest;
  /** The manifest exactly as signed. */
  manifestBytes: Buffer;
  /** manifest.sig as found: every signature record, counted or not. */
  signatures: Buffer;
  /** BLAKE2b-256 of manifest.json, hex: names this exact bundle (it covers every payload hash). */
  hash: string;
  /** The signatures that approve it under the trust configuration; empty when they were not checked. */
  approvals: Approval[];
  /** module.js source, policy.json and run.json, each checked against the manifest. */
  module: Buffer;
  policy: Buffer;
  run: Buffer;
}

export interface VerifyOptions {
  /** Who must have signed (trust.ts). Omit only on the workstation (inspect, sign, flash). */
  trust?: Trust;
  /** Accept an empty manifest.sig; used by `sealtap bundle sign` only. */
  allowUnsigned?: boolean;
  /** The board this bundle must be compatible with; omit to skip the check (workstation). */
  board?: string;
  /** Refuse a bundle whose security version is lower than this. */
  minSecurityVersion?: number;
}

export type VerifyResult = { ok: true; bundle: LoadedBundle } | { ok: false; reason: string };

const HEAD = [ENTRY_FORMAT, ENTRY_MANIFEST, ENTRY_SIGNATURE];
const EXPECTED_ORDER = [...HEAD, ...PAYLOAD_NAMES].join(', ');

/** The format, manifest and signature entries, checked for presence and order. */
export function readHead(entries: ArchiveEntry[]): { manifestBytes: Buffer; signature: Buffer } {
  for (let i = 0; i < HEAD.length; i++) {
    const e = entries[i];
    if (e === undefined) throw new BundleError(`the bundle ends after ${entries.length} entries; ${HEAD[i]} is missing (entries must be ${EXPECTED_ORDER})`);
    if (e.name !== HEAD[i]) throw new BundleError(`entry ${i + 1} is ${e.name}, expected ${HEAD[i]}: entries must be in the order ${EXPECTED_ORDER}`);
  }
  if (!entries[0].data.equals(FORMAT_MARKER)) {
    throw new BundleError(`unsupported bundle format ${JSON.stringify(entries[0].data.toString('latin1'))}: this firmware reads ${JSON.stringify(FORMAT_MARKER.toString('latin1'))}`);
  }
  return { manifestBytes: entries[1].data, signature: entries[2].data };
}

/** Checks the payload entries against the manifest: same names, same order, nothing extra, matching sizes and hashes. */
export function checkPayload(entries: ArchiveEntry[], manifest: Manifest): Buffer[] {
  const payload = entries.slice(HEAD.length);
  const listed = new Set(manifest.payload.map((p) => p.name));
  for (const e of payload) {
    if (!listed.has(e.name)) throw new BundleError(`the bundle holds ${e.name}, which the manifest does not list: only ${EXPECTED_ORDER} may appear`);
  }
  const out: Buffer[] = [];
  manifest.payload.forEach((p, i) => {
    const e = payload[i];
    if (e === undefined) throw new BundleError(`the bundle is missing ${p.name}, which the manifest lists`);
    if (e.name !== p.name) throw new BundleError(`entry ${HEAD.length + i + 1} is ${e.name}, expected ${p.name}: entries must be in the order ${EXPECTED_ORDER}`);
    if (e.data.length !== p.size) throw new BundleError(`${p.name} is ${e.data.length} bytes, the manifest says ${p.size}: the payload was altered`);
    if (blake2b256Hex(e.data) !== p.blake2b) throw new BundleError(`${p.name} does not match its BLAKE2b-256 hash in the manifest: the payload was altered after signing`);
    out.push(e.data);
  });
  if (payload.length > manifest.payload.length) throw new BundleError(`the bundle holds ${payload.length - manifest.payload.length} more entries than the manifest lists`);
  return out;
}

/** Throws a BundleError describing the first reason this bundle must not run. */
export function loadBundle(bytes: Buffer, opts: VerifyOptions): LoadedBundle {
  const entries = decodeArchive(bytes);
  const { manifestBytes, signature } = readHead(entries);
  let approvals: Approval[] = [];
  if (opts.trust) {
    approvals = checkApproval(manifestBytes, signature, opts.trust);
  } else if (parseSignatures(signature).length === 0 && !opts.allowUnsigned) {
    throw new BundleError('the bundle is not signed: sign it with `sealtap bundle sign FILE --key PREFIX.key --role ROLE --out FILE2`');
  }
  const manifest = parseManifest(manifestBytes);
  if (opts.board !== undefined && !manifest.boards.includes(opts.board)) {
    throw new BundleError(`the bundle is made for board ${manifest.boards.join(', ')}, not for this board (${opts.board}): rebuild it with --board ${opts.board}`);
  }
  const min = opts.minSecurityVersion ?? 0;
  if (manifest.securityVersion < min) {
    throw new BundleError(`the bundle has security version ${manifest.securityVersion}, below this box's minimum ${min}: downgrades are refused; build it with --security-version ${min} or higher`);
  }
  const [module, policy, run] = checkPayload(entries, manifest);
  // Copies, so the caller may drop or reuse the buffer the bundle was read into.
  return {
    manifest, manifestBytes: Buffer.from(manifestBytes), hash: blake2b256Hex(manifestBytes), approvals, signatures: Buffer.from(signature),
    module: Buffer.from(module), policy: Buffer.from(policy), run: Buffer.from(run),
  };
}

export function verifyBundle(bytes: Buffer, opts: VerifyOptions): VerifyResult {
  try {
    return { ok: true, bundle: loadBundle(bytes, opts) };
  } catch (err) {
    if (err instanceof BundleError) return { ok: false, reason: err.message };
    throw err;
  }
}
