// The analysis firmware on the box: picked from the board's bundle medium (A/B slots)
// before any key exists, and turned into the run's configuration. A development host
// runs the same checks on a medium image or a single .sfw file (sealtap run --medium,
// --bundle).
// What a bundle may decide and what it may not: its run.json chooses the analysis
// (outputs, stop, flows, analysis settings) and brings its module and policy; the
// wiring (source, spool, channel) stays the image's own run.json, so no bundle, signed
// or not, can point capture elsewhere or send results anywhere but the results line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { identityOf, loadBundleFile, selectBundle, SelectResult } from '../bundle/boot-select';
import type { LoadedBundle } from '../bundle/verify';
import { readTrust, Trust, TrustError } from '../bundle/trust';
import { checkBundleContent, Wiring } from '../bundle/content';
import { RunConfig } from './config';
import type { FirmwareIdentity } from './supervise';
import { BundleRefused, BundleSource, trustedKeysDir } from './bundle-source';

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

/** A bundle that passed every check, and where it came from for the log. */
interface Chosen {
  bundle: LoadedBundle;
  from: string;
  notes: string[];
}

/**
 * Verifies the bundle from source (on a medium: the active slot, then the other) for
 * board, its content included (policy, run.json merged with the wiring of wiringFile,
 * module syntax), and writes its payload into workDir (module/module.js, policy.json,
 * run.json) for the analysis to read. Throws BundleRefused with every reason when no
 * bundle may run.
 */
export function bootFromBundle(source: BundleSource, board: string, wiringFile: string, workDir: string, trustedDir = trustedKeysDir): BundleBoot {
  const trust = readBoxTrust(trustedDir);
  const wiring = readWiring(wiringFile);
  const moduleFile = path.join(workDir, 'module', 'module.js');
  const files = { module: moduleFile, policy: path.join(workDir, 'policy.json') };
  // The content is checked inside the selection: a slot whose policy, run.json or module
  // the box refuses falls back to the other slot like a bad signature would.
  const checkContent = (b: LoadedBundle): void => { checkBundleContent(b, wiring, files); };
  const chosen = 'medium' in source
    ? fromMedium(source.medium, trust, board, checkContent)
    : fromFile(source.file, trust, board, checkContent);
  const id = identityOf(chosen.bundle);
  const notes = [...chosen.notes, `analysis firmware ${id.name} ${id.version} (security version ${id.securityVersion}) from ${chosen.from}, manifest ${id.hash.slice(0, 16)}, approved by ${id.approvedBy}, privacy statement ${id.privacy.slice(0, 16)}`];
  // Already passed inside the selection; computed again here for the chosen bundle.
  const { config } = checkBundleContent(chosen.bundle, wiring, files);

  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  // The module is read by its sandbox, which runs as an unprivileged uid: it gets a
  // folder of its own that others may read (the module is no secret: it is in the
  // signed bundle), inside a workDir others may pass through but not list.
  fs.chmodSync(workDir, 0o711);
  fs.mkdirSync(path.dirname(moduleFile));
  fs.writeFileSync(moduleFile, chosen.bundle.module);
  // Modes set after creation: the box's umask (077) would take them back at creation.
  fs.chmodSync(path.dirname(moduleFile), 0o755);
  fs.chmodSync(moduleFile, 0o644);
  fs.writeFileSync(files.policy, chosen.bundle.policy, { mode: 0o600 });
  fs.writeFileSync(path.join(workDir, 'run.json'), chosen.bundle.run, { mode: 0o600 });
  return { config, firmware: { name: id.name, version: id.version, hash: id.hash }, notes };
}

/** The box's A/B selection on a medium: warnings and a fallback are noted for the log. */
function fromMedium(device: string, trust: Trust, board: string, checkContent: (b: LoadedBundle) => void): Chosen {
  const r: SelectResult = selectBundle({ device, trust, board, checkContent });
  if (!r.ok) throw new BundleRefused(`analysis firmware refused on ${device}: ${r.refusals.join('; ')}`);
  const notes = [...r.warnings];
  if (r.fellBack) notes.push(`active slot refused (${r.refusals.join('; ')}); falling back to slot ${r.slot}`);
  return { bundle: r.bundle, from: `slot ${r.slot}`, notes };
}

/** One .sfw file: the same checks, with nothing to fall back to. */
function fromFile(file: string, trust: Trust, board: string, checkContent: (b: LoadedBundle) => void): Chosen {
  const r = loadBundleFile(file, { trust, board, checkContent });
  if (!r.ok) throw new BundleRefused(`analysis firmware refused in ${file}: ${r.reason}`);
  return { bundle: r.bundle, from: file, notes: [] };
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
