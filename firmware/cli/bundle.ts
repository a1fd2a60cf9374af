// sealtap bundle: keygen, build, sign, verify, inspect and flash analysis firmware
// bundles, and prepare bundle media. Workstation side; nothing here uses a network.
import * as fs from 'fs';
import { Command, parseArgs, UsageError, wantsHelp } from './command';
import { BundleError, MAX_BUNDLE_BYTES } from '../bundle/format';
import * as path from 'path';
import { buildBundle, readBundleDefaults, signBundle, writeFileAtomically } from '../bundle/build';
import { boardsDir } from '../supervisor/board';
import { freeSecretKey, readPublicKeyFile, readSecretKeyFile, writeKeyPair } from '../bundle/signing-keys';
import { verifyBundle } from '../bundle/verify';
import { inspectBundle } from '../bundle/inspect';
import { flashBundle, flashChunkDelayFromEnv } from '../bundle/flash';
import { initMedium, openMedium, closeMedium, readSlot, SLOT_NAMES, SLOTS_OFFSET } from '../bundle/medium';
import { blake2b256 } from '../bundle/hash';
import { isSecurityVersion } from '../bundle/manifest';
import { checkContentForBoards, ContentError } from '../bundle/content';

const HELP: Record<string, string> = {
  keygen: `usage: sealtap bundle keygen --out PREFIX
Creates an Ed25519 signing key pair: PREFIX.key (secret, mode 0600, never printed)
and PREFIX.pub (install it on the box as a trusted key). Refuses to overwrite.`,
  build: `usage: sealtap bundle build DIR --key PREFIX.key --board NAME --out FILE.sfw
                           [--version X] [--security-version N] [--name NAME] [--unsigned]
       sealtap bundle build --module M.js --policy P.json --run R.json --name NAME
                           --version X --key PREFIX.key --board NAME --out FILE.sfw
DIR holds module.js, policy.json and run.json; DIR/bundle.json may give defaults
({"name", "version", "securityVersion", "boards"}). The second form takes the three
files one by one (all three; with a DIR too, the files replace DIR's). --board takes
a board name from board/ (several: a,b). --unsigned builds without --key (sign it later).
Before anything is signed, the content is checked with the box's own validators
(policy, run.json merged with the board's wiring, stream declarations, module syntax):
refused content exits 2 with the box's message and nothing is written.`,
  sign: `usage: sealtap bundle sign FILE.sfw --key PREFIX.key --out FILE2.sfw
Signs an unsigned bundle, or re-signs one with another key. The manifest and
payload are checked first and kept byte for byte.`,
  verify: `usage: sealtap bundle verify FILE.sfw --pub PREFIX.pub [--pub OTHER.pub] [--board NAME]
Runs the box's checks offline: container, entry order, signature, manifest, board
(when given), payload hashes, then the content (policy, run.json, stream declarations,
module syntax). Exit 0 only for a valid bundle; 1 with the reason otherwise; 2 for
content the box would refuse.`,
  inspect: `usage: sealtap bundle inspect FILE.sfw [--pub PREFIX.pub]
Prints the entries, manifest, payload hashes and signature status. Exit 1 if a
check failed (the signature is checked only with --pub).`,
  flash: `usage: sealtap bundle flash FILE.sfw --device DEV-or-IMAGE [--pub PREFIX.pub] [--board NAME]
Writes the bundle into the inactive slot of the box's medium, reads it back, and
only then makes it active; an interrupted flash leaves the previous bundle active.
Content the box would refuse exits 2 and leaves the medium untouched.
The medium must have been prepared with \`sealtap bundle medium init\`.
(Test-only: SEALTAP_FLASH_CHUNK_DELAY_MS pauses between 64 KiB chunks.)`,
  medium: `usage: sealtap bundle medium init --device DEV-or-IMAGE [--size BYTES] [--force]
       sealtap bundle medium status --device DEV-or-IMAGE
init writes an empty slot table (an image file is created with --size bytes,
default ${SLOTS_OFFSET + 2 * MAX_BUNDLE_BYTES}); refuses to erase an initialised medium without --force.
status prints the slot table and what each slot holds.`,
};

const SUMMARY_HELP = `usage: sealtap bundle <keygen|build|sign|verify|inspect|flash|medium> ...
Analysis firmware bundles: signed, board-specific, flashed onto the box's medium
from a workstation (never over a network).

  sealtap bundle keygen --out PREFIX
  sealtap bundle build DIR --key PREFIX.key --board NAME --out FILE.sfw
  sealtap bundle build --module M.js --policy P.json --run R.json --name NAME --version X --key ... --board ... --out ...
  sealtap bundle sign FILE.sfw --key PREFIX.key --out FILE2.sfw
  sealtap bundle verify FILE.sfw --pub PREFIX.pub [--board NAME]
  sealtap bundle inspect FILE.sfw [--pub PREFIX.pub]
  sealtap bundle flash FILE.sfw --device DEV-or-IMAGE
  sealtap bundle medium init --device DEV-or-IMAGE [--size BYTES]
  sealtap bundle medium status --device DEV-or-IMAGE

Run \`sealtap bundle <subcommand> --help\` for details. See docs/bundles.md.`;

function one(rest: string[], what: string): string {
  if (rest.length !== 1) throw new UsageError(`expected exactly one ${what}, got ${rest.length} (see --help)`);
  return rest[0];
}

function need(opts: Map<string, string>, name: string): string {
  const v = opts.get(name);
  if (v === undefined) throw new UsageError(`--${name} is required (see --help)`);
  return v;
}

/** Options that may repeat (--pub a --pub b) are collected here before parseArgs sees them. */
function takeRepeated(argv: string[], name: string): { values: string[]; argv: string[] } {
  const values: string[] = [];
  const restArgv: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) {
      if (argv[i + 1] === undefined) throw new UsageError(`option --${name} needs a value`);
      values.push(argv[++i]);
    } else if (argv[i].startsWith(`--${name}=`)) values.push(argv[i].slice(name.length + 3));
    else restArgv.push(argv[i]);
  }
  return { values, argv: restArgv };
}

function readBundleFile(path: string): Buffer {
  let size: number;
  try {
    size = fs.statSync(path).size;
  } catch (err) {
    throw new BundleError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (size > MAX_BUNDLE_BYTES) throw new BundleError(`${path} is ${size} bytes, over the ${MAX_BUNDLE_BYTES}-byte bundle limit`);
  return fs.readFileSync(path);
}

function withSecretKey<T>(path: string, use: (sk: Buffer) => T): T {
  const sk = readSecretKeyFile(path);
  try {
    return use(sk);
  } finally {
    freeSecretKey(sk);
  }
}

function boards(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').filter((b) => b !== '');
}

/**
 * A bundle for a board that does not exist would be refused by every box; a typo in
 * --board (or run's --as-board) is the likely cause, so the known boards are listed.
 */
export function checkBoardsExist(names: string[], option = 'board'): void {
  const known = fs.existsSync(boardsDir) ? fs.readdirSync(boardsDir).filter((b) => fs.existsSync(path.join(boardsDir, b, 'board.json'))).sort() : [];
  for (const b of names) {
    if (!known.includes(b)) throw new UsageError(`--${option} ${b}: no such board (there is no board/${b}/board.json); known boards: ${known.join(', ') || 'none'}`);
  }
}

function say(s: string): void { process.stdout.write(s + '\n'); }

async function keygen(argv: string[]): Promise<number> {
  const { opts, rest } = parseArgs(argv, ['out']);
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]} (see --help)`);
  const k = writeKeyPair(need(opts, 'out'));
  say(`wrote ${k.pubPath} and ${k.keyPath} (mode 0600); key id ${k.keyId}`);
  return 0;
}

async function build(argv: string[]): Promise<number> {
  const { opts, rest } = parseArgs(argv, ['key', 'board', 'out', 'version', 'security-version', 'name', 'module', 'policy', 'run'], ['unsigned']);
  const given = ['module', 'policy', 'run'].filter((k) => opts.has(k));
  if (given.length !== 0 && given.length !== 3) throw new UsageError('--module, --policy and --run go together: give all three files (or a DIR holding module.js, policy.json, run.json)');
  const files = given.length === 3 ? { module: opts.get('module')!, policy: opts.get('policy')!, run: opts.get('run')! } : undefined;
  const dir = files && rest.length === 0 ? '' : one(rest, 'analysis firmware directory');
  const out = need(opts, 'out');
  const sv = opts.get('security-version');
  if (sv !== undefined && !(/^\d+$/.test(sv) && isSecurityVersion(Number(sv)))) throw new UsageError('--security-version must be a non-negative integer');
  if (!opts.has('key') && !opts.has('unsigned')) throw new UsageError('--key PREFIX.key is required (or --unsigned to sign later with `sealtap bundle sign`)');
  checkBoardsExist(boards(opts.get('board')) ?? (dir !== '' ? readBundleDefaults(dir).boards ?? [] : []));
  const run = (secretKey: Buffer | null) => buildBundle({
    dir, files, boards: boards(opts.get('board')), version: opts.get('version'), securityVersion: sv === undefined ? undefined : Number(sv), name: opts.get('name'), secretKey,
  });
  const built = opts.has('key') ? withSecretKey(opts.get('key')!, run) : run(null);
  writeFileAtomically(out, built.bytes);
  const m = built.manifest;
  say(`built ${out}: ${m.name} ${m.version} (security version ${m.securityVersion}) for ${m.boards.join(', ')}, ${built.bytes.length} bytes${opts.has('key') ? '' : ', UNSIGNED'}`);
  return 0;
}

async function sign(argv: string[]): Promise<number> {
  const { opts, rest } = parseArgs(argv, ['key', 'out']);
  const file = one(rest, 'bundle file');
  const out = need(opts, 'out');
  const signed = withSecretKey(need(opts, 'key'), (sk) => signBundle(readBundleFile(file), sk));
  writeFileAtomically(out, signed.bytes);
  say(`signed ${out}: ${signed.manifest.name} ${signed.manifest.version}`);
  return 0;
}

async function verify(argv: string[]): Promise<number> {
  const pubs = takeRepeated(argv, 'pub');
  const { opts, rest } = parseArgs(pubs.argv, ['board']);
  const file = one(rest, 'bundle file');
  if (pubs.values.length === 0) throw new UsageError('--pub PREFIX.pub is required: a bundle is only valid for a key you trust');
  const board = opts.get('board');
  const r = verifyBundle(readBundleFile(file), { trustedKeys: pubs.values.map(readPublicKeyFile), board });
  if (!r.ok) {
    process.stderr.write(`sealtap bundle verify: ${file} is INVALID: ${r.reason}\n`);
    return 1;
  }
  try {
    checkContentForBoards(r.bundle, board !== undefined ? [board] : r.bundle.manifest.boards);
  } catch (err) {
    if (!(err instanceof ContentError)) throw err;
    process.stderr.write(`sealtap bundle verify: ${file} is INVALID: ${err.message}\n`);
    return 2;
  }
  const m = r.bundle.manifest;
  say(`${file}: valid — ${m.name} ${m.version} (security version ${m.securityVersion}) for ${m.boards.join(', ')}, signed by key ${r.bundle.signer}, bundle hash ${r.bundle.hash}`);
  return 0;
}

async function inspect(argv: string[]): Promise<number> {
  const pubs = takeRepeated(argv, 'pub');
  const { rest } = parseArgs(pubs.argv, []);
  const file = one(rest, 'bundle file');
  const r = inspectBundle(readBundleFile(file), pubs.values.length ? pubs.values.map(readPublicKeyFile) : undefined);
  process.stdout.write(r.text);
  return r.ok ? 0 : 1;
}

async function flash(argv: string[]): Promise<number> {
  const pubs = takeRepeated(argv, 'pub');
  const { opts, rest } = parseArgs(pubs.argv, ['device', 'board']);
  const file = one(rest, 'bundle file');
  const device = need(opts, 'device');
  const chunkDelayMs = flashChunkDelayFromEnv(process.env);
  const r = flashBundle({
    device, bundle: readBundleFile(file), trustedKeys: pubs.values.length ? pubs.values.map(readPublicKeyFile) : undefined,
    board: opts.get('board'), chunkDelayMs,
  });
  const m = r.bundle.manifest;
  say(`flashed ${m.name} ${m.version} into slot ${r.slot} of ${device}; slot ${r.slot} is now active${r.previous ? ` (slot ${r.previous} kept as fallback)` : ''}`);
  return 0;
}

async function medium(argv: string[]): Promise<number> {
  const [action, ...more] = argv;
  if (action === 'init') {
    const { opts, rest } = parseArgs(more, ['device', 'size'], ['force']);
    if (rest.length) throw new UsageError(`unexpected argument ${rest[0]} (see --help)`);
    const size = opts.get('size');
    if (size !== undefined && !/^\d+$/.test(size)) throw new UsageError('--size must be a number of bytes');
    const device = need(opts, 'device');
    const t = initMedium(device, { size: size === undefined ? undefined : Number(size), force: opts.has('force') });
    say(`initialised ${device}: two ${t.slotBytes}-byte slots, no active bundle`);
    return 0;
  }
  if (action === 'status') {
    const { opts, rest } = parseArgs(more, ['device']);
    if (rest.length) throw new UsageError(`unexpected argument ${rest[0]} (see --help)`);
    const m = openMedium(need(opts, 'device'), false);
    try {
      const t = m.table;
      say(`medium ${m.path}: ${m.bytes} bytes, slot table generation ${t.generation} (copy ${m.copy})`);
      if (m.damagedCopy) say(`  warning: ${m.damagedCopy}`);
      say(`  active slot: ${t.active === null ? 'none' : SLOT_NAMES[t.active]}`);
      say(`  minimum security version: ${t.minSecurityVersion}`);
      for (const i of [0, 1] as const) {
        const rec = t.slots[i];
        if (rec.length === 0) { say(`  slot ${SLOT_NAMES[i]}: empty`); continue; }
        const bytes = readSlot(m, i);
        const intact = bytes.length === rec.length && blake2b256(bytes).equals(rec.hash);
        const v = verifyBundle(bytes, { allowUnsigned: true });
        const what = v.ok ? `${v.bundle.manifest.name} ${v.bundle.manifest.version} (security version ${v.bundle.manifest.securityVersion})` : `unusable: ${v.reason}`;
        say(`  slot ${SLOT_NAMES[i]}: ${rec.length} bytes, ${intact ? 'matches' : 'DOES NOT MATCH'} the recorded hash; ${what}`);
      }
    } finally {
      closeMedium(m);
    }
    return 0;
  }
  throw new UsageError(`unknown medium action ${action === undefined ? '(none)' : JSON.stringify(action)}: use init or status`);
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = { keygen, build, sign, verify, inspect, flash, medium };

export const bundleCommand: Command = {
  name: 'bundle',
  summary: 'build, sign, verify, inspect and flash analysis firmware bundles',
  help: SUMMARY_HELP,
  async main(argv: string[]): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      process.stdout.write(SUMMARY_HELP + '\n');
      return sub === undefined ? 2 : 0;
    }
    const run = SUBCOMMANDS[sub];
    if (!run || !Object.prototype.hasOwnProperty.call(SUBCOMMANDS, sub)) throw new UsageError(`unknown bundle subcommand ${JSON.stringify(sub)}: use keygen, build, sign, verify, inspect, flash or medium (see sealtap bundle --help)`);
    if (wantsHelp(rest)) {
      process.stdout.write(HELP[sub] + '\n');
      return 0;
    }
    try {
      return await run(rest);
    } catch (err) {
      if (err instanceof BundleError) {
        process.stderr.write(`sealtap bundle ${sub}: ${err.message}\n`);
        // Content the box's validators refuse is the researcher's to fix, like a usage mistake.
        return err instanceof ContentError ? 2 : 1;
      }
      throw err;
    }
  },
};
