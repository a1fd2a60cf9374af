// Workstation side: a human-readable account of a bundle — entries, manifest, payload
// hashes, signatures and whether they approve it. It reports as much as it can about a broken bundle
// instead of stopping at the first problem, and says whether everything it checked held.
import { BundleError, decodeArchive, ArchiveEntry } from './format';
import { blake2b256Hex } from './hash';
import { Manifest, parseManifest } from './manifest';
import { parseSignatures, SignatureRecord } from './signing-keys';
import { checkApproval, describeApprovals, describeTrust, Trust } from './trust';
import { readHead } from './verify';

export interface Inspection {
  text: string;
  /** False when any check inspect made failed (structure, manifest, hashes, or the signature when keys were given). */
  ok: boolean;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function inspectBundle(bytes: Buffer, trust?: Trust): Inspection {
  const lines: string[] = [];
  let ok = true;
  const problem = (s: string): void => { ok = false; lines.push(`  PROBLEM: ${s}`); };
  let entries: ArchiveEntry[];
  try {
    entries = decodeArchive(bytes);
  } catch (err) {
    return { text: `bundle: unreadable\n  PROBLEM: ${message(err)}\n`, ok: false };
  }
  lines.push(`bundle: ${bytes.length} bytes, BLAKE2b-256 of file ${blake2b256Hex(bytes)}`);
  lines.push('entries:');
  for (const e of entries) lines.push(`  ${e.name.padEnd(14)} ${String(e.data.length).padStart(9)} bytes`);
  let head: { manifestBytes: Buffer; signature: Buffer };
  try {
    head = readHead(entries);
  } catch (err) {
    problem(message(err));
    return { text: lines.join('\n') + '\n', ok };
  }
  let manifest: Manifest | null = null;
  try {
    manifest = parseManifest(head.manifestBytes);
  } catch (err) {
    problem(message(err));
  }
  if (manifest) {
    lines.push('manifest:');
    lines.push(`  name             ${manifest.name}`);
    lines.push(`  product          ${manifest.product}`);
    lines.push(`  boards           ${manifest.boards.join(', ')}`);
    lines.push(`  version          ${manifest.version}`);
    lines.push(`  security version ${manifest.securityVersion}`);
    lines.push(`  build id         ${manifest.buildId}`);
    lines.push(`  created          ${manifest.created}`);
    lines.push(`  bundle hash      ${blake2b256Hex(head.manifestBytes)} (BLAKE2b-256 of manifest.json)`);
    lines.push(`  privacy          ${manifest.privacy} (BLAKE2b-256 of the privacy statement: bundle inspect --privacy)`);
    lines.push('payload:');
    const payload = entries.slice(3);
    for (const p of manifest.payload) {
      const e = payload.find((x) => x.name === p.name);
      const status = !e ? 'MISSING' : e.data.length !== p.size ? `SIZE ${e.data.length} != ${p.size}` : blake2b256Hex(e.data) === p.blake2b ? 'ok' : 'HASH MISMATCH';
      lines.push(`  ${p.name.padEnd(12)} ${String(p.size).padStart(9)} bytes  blake2b ${p.blake2b}  ${status}`);
      if (status !== 'ok') ok = false;
    }
    payload.forEach((e, i) => {
      if (manifest!.payload[i]?.name !== e.name) problem(`entry ${i + 4} is ${e.name}, not where the manifest expects it (extra or out of order)`);
    });
  }
  lines.push('signatures:');
  let records: SignatureRecord[] = [];
  try {
    records = parseSignatures(head.signature);
  } catch (err) {
    problem(message(err));
  }
  if (records.length === 0) lines.push('  none (unsigned)');
  const manifestHash = blake2b256Hex(head.manifestBytes);
  records.forEach((r, i) => {
    const over = r.manifestHash === manifestHash ? 'over this manifest' : `over ANOTHER manifest (${r.manifestHash.slice(0, 16)})`;
    lines.push(`  ${i + 1}. key ${r.keyId} as ${r.role}, ${over}`);
  });
  if (trust) {
    lines.push(`approval required (${trust.source}): ${describeTrust(trust)}`);
    try {
      lines.push(`  approved by ${describeApprovals(checkApproval(head.manifestBytes, head.signature, trust))}`);
    } catch (err) {
      if (!(err instanceof BundleError)) throw err;
      problem(err.message);
    }
  } else {
    lines.push('approval: not checked (pass --trusted DIR or --pub PREFIX.pub to check it)');
  }
  lines.push(ok ? 'result: no problems found' : 'result: PROBLEMS FOUND — the box would refuse this bundle');
  return { text: lines.join('\n') + '\n', ok };
}
