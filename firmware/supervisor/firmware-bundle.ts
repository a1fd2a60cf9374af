// The analysis firmware on the box: picked from the board's bundle medium (A/B slots)
// before any key exists, and turned into the run's configuration.
// What a bundle may decide and what it may not: its run.json chooses the analysis
// (outputs, stop, flows, analysis settings) and brings its module and policy; the
// wiring (source, spool, channel) stays the image's own run.json, so no bundle, signed
// or not, can point capture elsewhere or send results anywhere but the results line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { selectBundle, SelectResult } from '../bundle/boot-select';
import { readPublicKeyFile } from '../bundle/signing-keys';
import { ConfigError, RunConfig, validateConfig } from './config';
import type { Board } from './board';
import type { FirmwareIdentity } from './supervise';

/** Public keys baked into the image; a bundle must be signed by one of them. */
export const trustedKeysDir = '/etc/sealtap/trusted';

/** The fields of a bundle's run.json that the image's run.json keeps for itself. */
const wiring = ['source', 'spool', 'channel'] as const;

export class BundleRefused extends Error {}

export interface BundleBoot {
  config: RunConfig;
  firmware: FirmwareIdentity;
  /** Operator log lines: which slot, fallbacks, warnings. */
  notes: string[];
}

export function readTrustedKeys(dir: string): Buffer[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.pub')).sort();
  } catch (e) {
    throw new BundleRefused(`no trusted bundle keys: cannot read ${dir} (${(e as NodeJS.ErrnoException).code}); build the image with the researchers' public keys`);
  }
  if (names.length === 0) throw new BundleRefused(`no trusted bundle keys in ${dir}: build the image with the researchers' public keys (*.pub)`);
  return names.map((n) => readPublicKeyFile(path.join(dir, n)));
}

/**
 * Verifies the bundle on board.bundleDevice (active slot, then the other) and writes
 * its payload into workDir (module/module.js, policy.json, run.json) for the analysis to read.
 * Throws BundleRefused with every slot's reason when neither slot may run.
 */
export function bootFromBundle(board: Board, wiringFile: string, workDir: string, trustedDir = trustedKeysDir): BundleBoot {
  if (!board.bundleDevice) throw new BundleRefused(`board ${board.name} has no bundleDevice`);
  const trustedKeys = readTrustedKeys(trustedDir);
  const r: SelectResult = selectBundle({ device: board.bundleDevice, trustedKeys, board: board.name });
  if (!r.ok) throw new BundleRefused(`analysis firmware refused on ${board.bundleDevice}: ${r.refusals.join('; ')}`);

  const notes = [...r.warnings];
  if (r.fellBack) notes.push(`active slot refused (${r.refusals.join('; ')}); falling back to slot ${r.slot}`);
  const id = r.identity;
  notes.push(`analysis firmware ${id.name} ${id.version} (security version ${id.securityVersion}) from slot ${r.slot}, manifest ${id.hash.slice(0, 16)}, signed by ${id.signer}`);

  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const file = (name: string): string => path.join(workDir, name);
  // The module is read by its sandbox, which runs as an unprivileged uid: it gets a
  // folder of its own that others may read (the module is no secret: it is in the
  // signed bundle), inside a workDir others may pass through but not list.
  fs.chmodSync(workDir, 0o711);
  const moduleFile = path.join(workDir, 'module', 'module.js');
  fs.mkdirSync(path.dirname(moduleFile));
  fs.writeFileSync(moduleFile, r.bundle.module);
  // Modes set after creation: the box's umask (077) would take them back at creation.
  fs.chmodSync(path.dirname(moduleFile), 0o755);
  fs.chmodSync(moduleFile, 0o644);
  fs.writeFileSync(file('policy.json'), r.bundle.policy, { mode: 0o600 });
  fs.writeFileSync(file('run.json'), r.bundle.run, { mode: 0o600 });

  let bundleRun: Record<string, unknown>;
  let wiringRun: Record<string, unknown>;
  try {
    bundleRun = asObject(JSON.parse(r.bundle.run.toString('utf8')), 'the bundle\'s run.json');
    wiringRun = asObject(JSON.parse(fs.readFileSync(wiringFile, 'utf8')), wiringFile);
  } catch (e) {
    throw new BundleRefused(`analysis firmware ${id.name} ${id.version}: ${(e as Error).message}`);
  }
  const merged: Record<string, unknown> = { ...bundleRun };
  for (const k of wiring) merged[k] = wiringRun[k];
  merged.policy = file('policy.json');
  const analysis = bundleRun.analysis === undefined ? {} : asObject(bundleRun.analysis, 'the bundle\'s run.json analysis');
  // A module that only declares outputs (no analysis.module) runs the built-ins alone.
  merged.analysis = analysis.module === undefined ? analysis : { ...analysis, module: moduleFile };
  let config: RunConfig;
  try {
    // Relative wiring paths mean what they mean in the image's run.json; the bundle's
    // own files are absolute by now.
    config = validateConfig(merged, path.dirname(path.resolve(wiringFile)));
  } catch (e) {
    if (e instanceof ConfigError) throw new BundleRefused(`analysis firmware ${id.name} ${id.version}: its run.json is refused: ${e.message}`);
    throw e;
  }
  return { config, firmware: { name: id.name, version: id.version, hash: id.hash }, notes };
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}
