// Shared by the bundle tests: throwaway keys, firmware directories, bundles, hostile
// archives (built without the encoder's checks) and a way to run the real CLI.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as sodium from 'sodium-native';
import { assembleBundle, buildBundle } from '../../firmware/bundle/build';
import { MAGIC } from '../../firmware/bundle/format';
import { checkContentForBoards } from '../../firmware/bundle/content';
import { encodeManifest, makeManifest } from '../../firmware/bundle/manifest';
import { signManifest } from '../../firmware/bundle/signing-keys';
import { blake2b256 } from '../../firmware/bundle/hash';
import { closeMedium, commitSlotTable, openMedium, SlotRecord, writeSlotBytes } from '../../firmware/bundle/medium';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const SEALTAP = path.join(REPO_ROOT, 'bin/sealtap');

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sealtap-${tag}-`));
}

export interface TestKey { pk: Buffer; sk: Buffer }

/** A fresh in-memory Ed25519 key pair (secret key in secure memory). */
export function newKey(): TestKey {
  const pk = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES);
  const sk = sodium.sodium_malloc(sodium.crypto_sign_SECRETKEYBYTES);
  sodium.crypto_sign_keypair(pk, sk);
  return { pk, sk };
}

export interface FirmwareFiles {
  module?: string | Buffer;
  policy?: string;
  run?: string;
  bundleJson?: string;
}

/** Writes an analysis firmware directory (module.js, policy.json, run.json) and returns it. */
export function writeFirmwareDir(files: FirmwareFiles = {}): string {
  const dir = tempDir('fw');
  fs.writeFileSync(path.join(dir, 'module.js'), files.module ?? "module.exports = { name: 'test', version: '1.0.0', outputs: ['flows'] };\n");
  fs.writeFileSync(path.join(dir, 'policy.json'), files.policy ?? '{"extends": "default"}\n');
  fs.writeFileSync(path.join(dir, 'run.json'), files.run ?? '{"source": {"interface": "eth1"}, "outputs": ["flows"]}\n');
  if (files.bundleJson !== undefined) fs.writeFileSync(path.join(dir, 'bundle.json'), files.bundleJson);
  return dir;
}

export interface TestBundleOptions {
  key: TestKey | null;
  boards?: string[];
  version?: string;
  securityVersion?: number;
  module?: string | Buffer;
}

export function makeBundle(opts: TestBundleOptions): Buffer {
  const dir = writeFirmwareDir({ module: opts.module });
  return buildBundle({
    dir, boards: opts.boards ?? ['qemu-x86_64'], version: opts.version ?? '1.0.0', securityVersion: opts.securityVersion ?? 1,
    name: 'test', secretKey: opts.key ? opts.key.sk : null, created: new Date('2026-11-23T09:00:00Z'),
  }).bytes;
}

/**
 * A signed bundle whose content is not checked with the box's validators (buildBundle
 * refuses such content), to see that verify, flash and the box refuse it themselves.
 */
export function makeUncheckedBundle(key: Buffer, files: FirmwareFiles & { boards?: string[]; version?: string }): Buffer {
  const dir = writeFirmwareDir(files);
  const payloads = ['module.js', 'policy.json', 'run.json'].map((n) => fs.readFileSync(path.join(dir, n)));
  const boards = files.boards ?? ['qemu-x86_64'];
  // Content the box refuses has no privacy statement; any hash will do, it is refused first.
  let privacy = '00'.repeat(32);
  try {
    privacy = checkContentForBoards({ module: payloads[0], policy: payloads[1], run: payloads[2] }, boards).privacy;
  } catch { /* refused content: see above */ }
  const manifest = makeManifest({ name: 'test', boards, version: files.version ?? '1.0.0', securityVersion: 1, created: new Date('2026-11-23T09:00:00Z'), privacy }, payloads);
  return assembleBundle(manifest, signManifest(encodeManifest(manifest), key), payloads);
}

/**
 * Writes a bundle into the inactive slot and makes it active without any check, as a
 * flash tool that skipped them would: the box must refuse what it finds there itself.
 */
export function flashUnchecked(device: string, bundle: Buffer): void {
  const m = openMedium(device, true);
  try {
    const target: 0 | 1 = m.table.active === 0 ? 1 : 0;
    writeSlotBytes(m, target, bundle);
    const rec: SlotRecord = { length: bundle.length, hash: blake2b256(bundle) };
    const slots: [SlotRecord, SlotRecord] = target === 0 ? [rec, m.table.slots[1]] : [m.table.slots[0], rec];
    commitSlotTable(m, { slotBytes: m.table.slotBytes, active: target, minSecurityVersion: m.table.minSecurityVersion, slots });
  } finally {
    closeMedium(m);
  }
}

/** Encodes entries with no checks at all, to make archives the real encoder refuses to produce. */
export function rawArchive(entries: { name: string | Buffer; data: Buffer }[], opts: { endMarker?: boolean } = {}): Buffer {
  const parts: Buffer[] = [MAGIC];
  for (const e of entries) {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'latin1') : e.name;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(e.data.length);
    parts.push(Buffer.from([name.length]), name, len, e.data);
  }
  if (opts.endMarker !== false) parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function writeTemp(tag: string, name: string, data: Buffer): string {
  const p = path.join(tempDir(tag), name);
  fs.writeFileSync(p, data);
  return p;
}

/**
 * Runs bin/sealtap (the compiled CLI) and returns its exit status and output; a run
 * still going after timeoutMs is killed (status null) so a hang fails the test.
 */
export function runSealtap(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): SpawnSyncReturns<string> & { out: string; err: string } {
  const r = spawnSync(SEALTAP, args, { encoding: 'utf8', env: { ...process.env, ...env }, cwd: REPO_ROOT, timeout: timeoutMs });
  return Object.assign(r, { out: r.stdout, err: r.stderr });
}
