// The analysis firmware on the box: picked from the board's bundle medium (A/B slots)
// before any key exists, and turned into the run's configuration.
// What a bundle may decide and what it may not: its run.json chooses the analysis
// (outputs, stop, flows, analysis settings) and brings its module and policy; the
// wiring (source, spool, channel) stays the image's own run.json, so no bundle, signed
// or not, can point capture elsewhere or send results anywhere but the results line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { selectBundle, SelectResult } from '../bundle/boot-select';
import { readTrust, Trust, TrustError } from '../bundle/trust';
import { checkBundleContent, Wiring } from '../bundle/content';
import { RunConfig } from './config';
import type { Board } from './board';
import type { FirmwareIdentity } from './supervise';

/**
 * The trust configuration baked into the image: public keys, and trust.json naming the
 * roles that must approve a bundle (trust.ts). Without trust.json any one key approves.
 */
export const trustedKeysDir = '/etc/sealtap/trusted';

export class BundleRefused extends Error {}

export interface BundleBoot {
  config: RunConfig;
  firmware: FirmwareIdentity;
  /** Operator log lines: which slot, fallbacks, warnings. */
  notes: string[];
}

/** The image's trust configuration; a missing or broken one refuses every bundle (fail closed). */
export function readBoxTrust(dir: string): Trust {
  try {
    return readTrust(dir);
  } catch (e) {
    if (e instanceof TrustError) throw new BundleRefused(`${e.message}; build the image with the approvers' public keys (SEALTAP_TRUSTED_KEYS)`);
    throw new BundleRefused((e as Error).message);
  }
}

/**
 * Verifies the bundle on board.bundleDevice (active slot, then the other), its content
 * included (policy, run.json merged with the image's wiring, module syntax), and writes
 * its payload into workDir (module/module.js, policy.json, run.json) for the analysis to read.
 * Throws BundleRefused with every slot's reason when neither slot may run.
 */
export function bootFromBundle(board: Board, wiringFile: string, workDir: string, trustedDir = trustedKeysDir): BundleBoot {
  if (!board.bundleDevice) throw new BundleRefused(`board ${board.name} has no bundleDevice`);
  const trust = readBoxTrust(trustedDir);
  const wiring = readWiring(wiringFile);
  const moduleFile = path.join(workDir, 'module', 'module.js');
  const files = { module: moduleFile, policy: path.join(workDir, 'policy.json') };
  // The content is checked per slot, inside the selection: a slot whose policy, run.json
  // or module the box refuses falls back to the other slot like a bad signature would.
  const r: SelectResult = selectBundle({
    device: board.bundleDevice, trust, board: board.name,
    checkContent: (b) => { checkBundleContent(b, wiring, files); },
  });
  if (!r.ok) throw new BundleRefused(`analysis firmware refused on ${board.bundleDevice}: ${r.refusals.join('; ')}`);

  const notes = [...r.warnings];
  if (r.fellBack) notes.push(`active slot refused (${r.refusals.join('; ')}); falling back to slot ${r.slot}`);
  const id = r.identity;
  notes.push(`analysis firmware ${id.name} ${id.version} (security version ${id.securityVersion}) from slot ${r.slot}, manifest ${id.hash.slice(0, 16)}, approved by ${id.approvedBy}, privacy statement ${id.privacy.slice(0, 16)}`);
  // Already passed inside the selection; computed again here for the chosen slot.
  const { config } = checkBundleContent(r.bundle, wiring, files);

  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  // The module is read by its sandbox, which runs as an unprivileged uid: it gets a
  // folder of its own that others may read (the module is no secret: it is in the
  // signed bundle), inside a workDir others may pass through but not list.
  fs.chmodSync(workDir, 0o711);
  fs.mkdirSync(path.dirname(moduleFile));
  fs.writeFileSync(moduleFile, r.bundle.module);
  // Modes set after creation: the box's umask (077) would take them back at creation.
  fs.chmodSync(path.dirname(moduleFile), 0o755);
  fs.chmodSync(moduleFile, 0o644);
  fs.writeFileSync(files.policy, r.bundle.policy, { mode: 0o600 });
  fs.writeFileSync(path.join(workDir, 'run.json'), r.bundle.run, { mode: 0o600 });
  return { config, firmware: { name: id.name, version: id.version, hash: id.hash }, notes };
}

/** The image's run.json, whose source, spool and channel every bundle runs with. */
function readWiring(wiringFile: string): Wiring {
  let run: unknown;
  try {
    run = JSON.parse(fs.readFileSync(wiringFile, 'utf8'));
  } catch (e) {
    throw new BundleRefused(`the image's run.json ${wiringFile} cannot be read: ${(e as Error).message}`);
  }
  if (run === null || typeof run !== 'object' || Array.isArray(run)) throw new BundleRefused(`the image's run.json ${wiringFile} must be a JSON object`);
  return { run: run as Record<string, unknown>, baseDir: path.dirname(path.resolve(wiringFile)) };
}
