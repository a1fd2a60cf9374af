// What is inside a bundle, checked with the box's own validators: the policy
// (validatePolicy), the run.json the box would run (validateConfig on the bundle's
// run.json merged with the image's wiring, which also checks analysis.streams with
// parseStreams) and the module's syntax (compiled, never run).
//
// One function serves both ends, so the workstation refuses exactly what the box would
// refuse, with the same message: `sealtap bundle build`, `sign`, `verify` and `flash`
// call it before anything is signed or written, and the box calls it from selectBundle
// for each slot, so a bundle refused for its content falls back to the other slot just
// like a bad signature. If it were only checked after selection, a signed bundle with a
// typo in run.json would leave the box without analysis although the previous bundle
// still sits intact in the other slot.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { BundleError } from './format';
import { Policy, PolicyError, validatePolicy } from '../anonymize/policy';
import { PrivacyStatement, privacyStatement, statementHash } from './privacy';
import { ConfigError, RunConfig, validateConfig } from '../supervisor/config';
import { boardsDir } from '../supervisor/board';

/** A bundle's content refused by the box's validators (the CLI exits 2 for it). */
export class ContentError extends BundleError {}

export interface BundleContent {
  module: Buffer;
  policy: Buffer;
  run: Buffer;
  /** When given (a built bundle), its privacy statement hash must be the one derived here. */
  manifest?: { privacy: string };
}

/** What the box runs, and the privacy statement that describes it (privacy.ts). */
export interface CheckedContent {
  config: RunConfig;
  statement: PrivacyStatement;
  /** BLAKE2b-256 of the statement, hex. */
  privacy: string;
}

/**
 * The image's run.json: its source, spool and channel are the ones the box uses, whatever
 * the bundle's run.json says, so no bundle can point capture or results elsewhere.
 */
export interface Wiring {
  run: Record<string, unknown>;
  /** Relative paths in the image's run.json are taken from here. */
  baseDir: string;
}

/** The fields of a bundle's run.json that the image's run.json keeps for itself. */
export const WIRING_KEYS = ['source', 'spool', 'channel'] as const;

/**
 * Stands in for the image's run.json on a workstation that does not have the board's.
 * A box always captures from a live interface, so a bundle that only works on a pcap
 * source (stop.endOfSource) is refused here as the box would refuse it.
 */
export const PLACEHOLDER_WIRING: Wiring = {
  run: {
    source: { interface: 'eth0' },
    spool: { dir: '/var/spool/sealtap', bytes: 33554432, segmentBytes: 1048576 },
    channel: { path: '/dev/ttyS1' },
  },
  baseDir: '/',
};

/** Where the box unpacks the module and the policy; the run config names these files. */
export interface UnpackedFiles {
  module: string;
  policy: string;
}

const PLACEHOLDER_FILES: UnpackedFiles = { module: '/run/sealtap/firmware/module/module.js', policy: '/run/sealtap/firmware/policy.json' };

/** The wrapper Node (and the sandbox's loader) puts around CommonJS code. */
const COMMONJS_PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'];

function jsonObject(data: Buffer, name: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw new ContentError(`${name} is not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ContentError(`${name} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** policy.json, through the box's validatePolicy. */
export function checkPolicy(policy: Buffer): Policy {
  const obj = jsonObject(policy, 'policy.json');
  try {
    return validatePolicy(obj);
  } catch (e) {
    if (e instanceof PolicyError) throw new ContentError(`policy.json is refused: ${e.message}`);
    throw e;
  }
}

/**
 * module.js compiled as the sandbox's loader compiles it (a CommonJS function body), and
 * never called: no line of the module runs outside its sandbox. The message gives V8's
 * reason and the line, not the source text.
 */
export function checkModuleSyntax(module: Buffer): void {
  try {
    vm.compileFunction(module.toString('utf8'), COMMONJS_PARAMS, { filename: 'module.js' });
  } catch (e) {
    const err = e as Error;
    const line = /^module\.js:(\d+)/.exec(String(err.stack ?? ''));
    const reason = String(err.message).slice(0, 200);
    throw new ContentError(`module.js does not compile: ${err.name}: ${reason}${line ? ` (line ${line[1]})` : ''}`);
  }
}

/**
 * The run config the box runs: the bundle's run.json with the image's wiring, its own
 * policy and module files, through validateConfig (which checks analysis.streams).
 */
export function bundleRunConfig(run: Buffer, wiring: Wiring, files: UnpackedFiles = PLACEHOLDER_FILES): RunConfig {
  const bundleRun = jsonObject(run, 'run.json');
  const merged: Record<string, unknown> = { ...bundleRun };
  for (const k of WIRING_KEYS) merged[k] = wiring.run[k];
  merged.policy = files.policy;
  const analysis = bundleRun.analysis;
  // A bundle that only declares outputs (no analysis.module) runs the built-ins alone.
  if (analysis !== null && typeof analysis === 'object' && !Array.isArray(analysis) && (analysis as Record<string, unknown>).module !== undefined) {
    merged.analysis = { ...analysis, module: files.module };
  }
  try {
    // Relative wiring paths mean what they mean in the image's run.json; the bundle's
    // own files are absolute.
    return validateConfig(merged, wiring.baseDir);
  } catch (e) {
    if (e instanceof ConfigError) throw new ContentError(`run.json is refused: ${e.message}`);
    throw e;
  }
}

/**
 * Throws a ContentError with the box's reason when the box would refuse this content:
 * its policy, its run.json with this wiring, its module's syntax, and (for a built
 * bundle) a privacy statement other than the one its manifest names, which is what
 * the approving roles signed.
 */
export function checkBundleContent(content: BundleContent, wiring: Wiring, files?: UnpackedFiles): CheckedContent {
  const policy = checkPolicy(content.policy);
  const config = bundleRunConfig(content.run, wiring, files);
  checkModuleSyntax(content.module);
  const statement = privacyStatement(policy, config, content.module);
  const privacy = statementHash(statement);
  if (content.manifest && content.manifest.privacy !== privacy) {
    throw new ContentError(`the privacy statement this firmware derives from the bundle (${privacy.slice(0, 16)}) is not the one in its manifest (${content.manifest.privacy.slice(0, 16)}), which is what was approved: rebuild the bundle with this sealtap and have it signed again`);
  }
  return { config, statement, privacy };
}

/**
 * The image's wiring for each board that has a board/<name>/run.json in this tree, or
 * the placeholder when none has: a workstation checks against what the box will merge.
 */
export function workstationWirings(boards: readonly string[]): Wiring[] {
  const out: Wiring[] = [];
  for (const b of boards) {
    const file = path.join(boardsDir, b, 'run.json');
    if (!fs.existsSync(file)) continue;
    let run: unknown;
    try {
      run = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new BundleError(`${file} is not valid JSON: ${(e as Error).message}`);
    }
    if (run !== null && typeof run === 'object' && !Array.isArray(run)) out.push({ run: run as Record<string, unknown>, baseDir: path.dirname(file) });
  }
  return out.length ? out : [PLACEHOLDER_WIRING];
}

/**
 * The workstation's check: the content against every target board's wiring. Returns
 * the privacy statement, which does not depend on the wiring.
 */
export function checkContentForBoards(content: BundleContent, boards: readonly string[]): CheckedContent {
  let checked: CheckedContent | null = null;
  for (const w of workstationWirings(boards)) checked = checkBundleContent(content, w);
  return checked!;
}
