// sealtap bundle: keygen, build, sign, verify, inspect and flash analysis firmware
// bundles, and prepare bundle media. Workstation side; nothing here uses a network.
import * as fs from 'fs';
import { Command, parseArgs, UsageError, wantsHelp } from './command';
import { BundleError, MAX_BUNDLE_BYTES } from '../bundle/format';
import * as path from 'path';
import { buildBundle, readBundleDefaults, signBundle, writeFileAtomically } from '../bundle/build';
import { boardsDir } from '../supervisor/board';
import { freeSecretKey, readPublicKeyFile, readSecretKeyFile, writeKeyPair } from '../bundle/signing-keys';
import { loadBundle, verifyBundle } from '../bundle/verify';
import { describeApprovals, describeTrust, readTrust, Trust, trustAnyOf, TrustError } from '../bundle/trust';
import { DEFAULT_ROLE, isRoleName } from '../bundle/signing-keys';
import { statementBytes, statementText } from '../bundle/privacy';
import { TRIAL_PACKETS, tryModule } from '../bundle/trial';
import type { BundleContent } from '../bundle/content';
import { inspectBundle } from '../bundle/inspect';
import { flashBundle, flashChunkDelayFromEnv } from '../bundle/flash';
import { initMedium, openMedium, closeMedium, readSlot, SLOT_NAMES, SLOTS_OFFSET } from '../bundle/medium';
import { blake2b256 } from '../bundle/hash';
import { isSecurityVersion } from '../bundle/manifest';
import { checkContentForBoards, ContentError } from '../bundle/content';

const TRIAL_TEXT = `When run.json names a module, it is also tried in its real sandbox (\`sealtap run\`
on a ${TRIAL_PACKETS}-packet generated trace): a module the box's log reports as failing
(it does not load, throws, breaks the protocol) exits 2 with that line; a host that
cannot build the sandbox exits 1. --no-trial skips the trial and says so.`;

const HELP: Record<string, string> = {
  keygen: `usage: sealtap bundle keygen --out PREFIX
Creates an Ed25519 signing key pair: PREFIX.key (secret, mode 0600, never printed)
and PREFIX.pub (install it on the box as a trusted key). Refuses to overwrite.`,
  build: `usage: sealtap bundle build DIR --key PREFIX.key --board NAME --out FILE.sfw
                           [--role ROLE] [--version X] [--security-version N] [--name NAME] [--unsigned] [--no-trial]
       sealtap bundle build --module M.js --policy P.json --run R.json --name NAME
                           --version X --key PREFIX.key --board NAME --out FILE.sfw
DIR holds module.js, policy.json and run.json; DIR/bundle.json may give defaults
({"name", "version", "securityVersion", "boards"}). The second form takes the three
files one by one (all three; with a DIR too, the files replace DIR's). --board takes
a board name from board/ (several: a,b). --key signs as --role (default ${DEFAULT_ROLE});
--unsigned builds without --key (sign it later). Before anything is signed, the content
is checked with the box's own validators (policy, run.json merged with the board's
wiring, stream declarations, module syntax): refused content exits 2 with the box's
message and nothing is written. The manifest records the hash of the bundle's privacy
statement (see inspect --privacy), so every signature approves that statement.
${TRIAL_TEXT}`,
  sign: `usage: sealtap bundle sign FILE.sfw --key PREFIX.key --role ROLE --out FILE2.sfw [--no-trial]
Adds an approval: this key's signature, in ROLE (default ${DEFAULT_ROLE}), to the ones
already in the bundle (a researcher builds and signs, a privacy officer countersigns
with --role privacy-officer after reading inspect --privacy). The manifest, payload
and earlier signatures are checked first and kept byte for byte; signing twice with
one key in one role is refused.
${TRIAL_TEXT}`,
  verify: `usage: sealtap bundle verify FILE.sfw --trusted DIR [--board NAME] [--no-trial]
       sealtap bundle verify FILE.sfw --pub PREFIX.pub [--pub OTHER.pub] [--board NAME] [--no-trial]
Runs the box's checks offline: container, entry order, approval, manifest, board (when
given), payload hashes, then the content (policy, run.json, stream declarations, module
syntax, privacy statement). --trusted DIR is a trust configuration like the image's
/etc/sealtap/trusted: public keys and a trust.json naming the roles that must approve
(docs/bundles.md); --pub accepts a signature by any one of the given keys.
Exit 0 only for a valid, approved bundle; 1 with the reason otherwise; 2 for content
the box would refuse or a broken trust configuration.
${TRIAL_TEXT}`,
  inspect: `usage: sealtap bundle inspect FILE.sfw [--trusted DIR | --pub PREFIX.pub]
       sealtap bundle inspect FILE.sfw --privacy [--json]
Prints the entries, manifest, payload hashes and signatures. Exit 1 if a check failed
(the approval is checked only with --trusted or --pub).
--privacy prints the privacy statement the approvers sign, from the bundle alone:
every output and declared stream, every field with its type, unit and transform,
rate limits, k thresholds and each stream's residual capacity bound; --json prints
it as data ({"hash", "statement"}). Exit 2 if the bundle's content is refused or its
statement is not the one its manifest names.`,
  flash: `usage: sealtap bundle flash FILE.sfw --device DEV-or-IMAGE [--trusted DIR | --pub PREFIX.pub] [--board NAME] [--no-trial]
Writes the bundle into the inactive slot of the box's medium, reads it back, and
only then makes it active (with --trusted or --pub, only an approved bundle); an interrupted flash leaves the previous bundle active.
Content the box would refuse exits 2 and leaves the medium untouched.
${TRIAL_TEXT}
The medium must have been prepared with \`sealtap bundle medium init\`.
(Test-only: SEALTAP_FLASH_CHUNK_DELAY_MS pauses between 64 KiB chunks.)`,
  trust: `usage: sealtap bundle trust DIR
Checks a trust configuration as the box reads it (the image's /etc/sealtap/trusted):
its public keys (*.pub) and, for approval by several parties, its trust.json naming
roles, their keys and thresholds (docs/bundles.md). Prints who must approve a bundle.
Exit 0 when the box would accept the configuration, 2 with the reason when not.`,
  medium: `usage: sealtap bundle medium init --device DEV-or-IMAGE [--size BYTES] [--force]
       sealtap bundle medium status --device DEV-or-IMAGE
init writes an empty slot table (an image file is created with --size bytes,
default ${SLOTS_OFFSET + 2 * MAX_BUNDLE_BYTES}); refuses to erase an initialised medium without --force.
status prints the slot table and what each slot holds.`,
};

const SUMMARY_HELP = `usage: sealtap bundle <keygen|build|sign|verify|inspect|flash|trust|medium> ...
Analysis firmware bundles: signed, board-specific, flashed onto the box's medium
from a workstation (never over a network).

  sealtap bundle keygen --out PREFIX
  sealtap bundle build DIR --key PREFIX.key --board NAME --out FILE.sfw
  sealtap bundle build --module M.js --policy P.json --run R.json --name NAME --version X --key ... --board ... --out ...
  sealtap bundle sign FILE.sfw --key PREFIX.key --role ROLE --out FILE2.sfw
  sealtap bundle verify FILE.sfw --trusted DIR | --pub PREFIX.pub [--board NAME]
  sealtap bundle inspect FILE.sfw [--trusted DIR | --pub PREFIX.pub] [--privacy [--json]]
  sealtap bundle flash FILE.sfw --device DEV-or-IMAGE [--trusted DIR | --pub PREFIX.pub]
  sealtap bundle trust DIR
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

/**
 * Who must have approved, from --trusted DIR (a trust configuration like the image's)
 * or --pub (any one of these keys); undefined when neither is given.
 */
function trustFrom(pubs: string[], dir: string | undefined): Trust | undefined {
  if (dir !== undefined && pubs.length) throw new UsageError('give --trusted DIR or --pub, not both');
  if (dir !== undefined) return readTrust(dir);
  return pubs.length ? trustAnyOf(pubs.map(readPublicKeyFile), '--pub') : undefined;
}

/** --role NAME, checked like a usage mistake; the default when not given. */
function roleOption(opts: Map<string, string>): string {
  const role = opts.get('role') ?? DEFAULT_ROLE;
  if (!isRoleName(role)) throw new UsageError(`--role ${JSON.stringify(role)} is not a role name: 1-32 lowercase letters, digits or "-", starting with a letter (e.g. researcher, privacy-officer)`);
  return role;
}

/**
 * The module tried in its sandbox on a generated trace (trial.ts), unless --no-trial,
 * which is said on stderr: the bundle then carries only the static checks.
 */
function trial(opts: Map<string, string>, content: BundleContent, sub: string): void {
  if (opts.has('no-trial')) {
    process.stderr.write(`sealtap bundle ${sub}: module trial skipped (--no-trial): the module was not run in its sandbox\n`);
    return;
  }
  tryModule(content);
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
  const { opts, rest } = parseArgs(argv, ['key', 'board', 'out', 'version', 'security-version', 'name', 'module', 'policy', 'run', 'role'], ['unsigned', 'no-trial']);
  const given = ['module', 'policy', 'run'].filter((k) => opts.has(k));
  if (given.length !== 0 && given.length !== 3) throw new UsageError('--module, --policy and --run go together: give all three files (or a DIR holding module.js, policy.json, run.json)');
  const files = given.length === 3 ? { module: opts.get('module')!, policy: opts.get('policy')!, run: opts.get('run')! } : undefined;
  const dir = files && rest.length === 0 ? '' : one(rest, 'analysis firmware directory');
  const out = need(opts, 'out');
  const sv = opts.get('security-version');
  if (sv !== undefined && !(/^\d+$/.test(sv) && isSecurityVersion(Number(sv)))) throw new UsageError('--security-version must be a non-negative integer');
  const role = roleOption(opts);
  if (!opts.has('key') && !opts.has('unsigned')) throw new UsageError('--key PREFIX.key is required (or --unsigned to sign later with `sealtap bundle sign`)');
  checkBoardsExist(boards(opts.get('board')) ?? (dir !== '' ? readBundleDefaults(dir).boards ?? [] : []));
  const run = (secretKey: Buffer | null) => buildBundle({
    dir, files, boards: boards(opts.get('board')), version: opts.get('version'), securityVersion: sv === undefined ? undefined : Number(sv), name: opts.get('name'), secretKey, role,
  });
  const built = opts.has('key') ? withSecretKey(opts.get('key')!, run) : run(null);
  trial(opts, loadBundle(built.bytes, { allowUnsigned: true }), 'build');
  writeFileAtomically(out, built.bytes);
  const m = built.manifest;
  say(`built ${out}: ${m.name} ${m.version} (security version ${m.securityVersion}) for ${m.boards.join(', ')}, ${built.bytes.length} bytes, ${opts.has('key') ? `signed as ${role}` : 'UNSIGNED'}; privacy statement ${m.privacy}`);
  return 0;
}

async function sign(argv: string[]): Promise<number> {
  const { opts, rest } = parseArgs(argv, ['key', 'out', 'role'], ['no-trial']);
  const file = one(rest, 'bundle file');
  const out = need(opts, 'out');
  const role = roleOption(opts);
  const bytes = readBundleFile(file);
  const signed = withSecretKey(need(opts, 'key'), (sk) => signBundle(bytes, sk, role));
  trial(opts, loadBundle(bytes, { allowUnsigned: true }), 'sign');
  writeFileAtomically(out, signed.bytes);
  say(`signed ${out} as ${role}: ${signed.manifest.name} ${signed.manifest.version}, ${signed.signatures} signature(s); privacy statement ${signed.manifest.privacy}`);
  return 0;
}

async function verify(argv: string[]): Promise<number> {
  const pubs = takeRepeated(argv, 'pub');
  const { opts, rest } = parseArgs(pubs.argv, ['board', 'trusted'], ['no-trial']);
  const file = one(rest, 'bundle file');
  const trust = trustFrom(pubs.values, opts.get('trusted'));
  if (!trust) throw new UsageError('--trusted DIR or --pub PREFIX.pub is required: a bundle is only valid for the keys you trust');
  const board = opts.get('board');
  const r = verifyBundle(readBundleFile(file), { trust, board });
  if (!r.ok) {
    process.stderr.write(`sealtap bundle verify: ${file} is INVALID: ${r.reason}\n`);
    return 1;
  }
  try {
    checkContentForBoards(r.bundle, board !== undefined ? [board] : r.bundle.manifest.boards);
    trial(opts, r.bundle, 'verify');
  } catch (err) {
    if (!(err instanceof ContentError)) throw err;
    process.stderr.write(`sealtap bundle verify: ${file} is INVALID: ${err.message}\n`);
    return 2;
  }
  const m = r.bundle.manifest;
  say(`${file}: valid — ${m.name} ${m.version} (security version ${m.securityVersion}) for ${m.boards.join(', ')}, approved by ${describeApprovals(r.bundle.approvals)}, bundle hash ${r.bundle.hash}, privacy statement ${m.privacy}`);
  return 0;
}

async function inspect(argv: string[]): Promise<number> {
  const pubs = takeRepeated(argv, 'pub');
  const { opts, rest } = parseArgs(pubs.argv, ['trusted'], ['privacy', 'json']);
  const file = one(rest, 'bundle file');
  if (opts.has('json') && !opts.has('privacy')) throw new UsageError('--json goes with --privacy');
  if (opts.has('privacy')) {
    if (pubs.values.length || opts.has('trusted')) throw new UsageError('--privacy prints the statement from the bundle alone; check the approval with inspect --trusted or verify');
    return privacy(readBundleFile(file), opts.has('json'));
  }
  const r = inspectBundle(readBundleFile(file), trustFrom(pubs.values, opts.get('trusted')));
  process.stdout.write(r.text);
  return r.ok ? 0 : 1;
}

/**
 * The privacy statement, derived from the payload with the box's validators and checked
 * against the hash the manifest (and so every signature) carries.
 */
function privacy(bytes: Buffer, json: boolean): number {
  const bundle = loadBundle(bytes, { allowUnsigned: true });
  const { statement, privacy: hash } = checkContentForBoards(bundle, bundle.manifest.boards);
  const m = bundle.manifest;
  if (json) {
    process.stdout.write(`{"hash":"${hash}","bundle":${JSON.stringify({ name: m.name, version: m.version, manifest: bundle.hash })},"statement":${statementBytes(statement).toString('utf8')}}\n`);
  } else {
    process.stdout.write(`bundle ${m.name} ${m.version} (manifest ${bundle.hash})\n${statementText(statement, hash)}`);
  }
  return 0;
}

async function flash(argv: string[]): Promise<number> {
  const pubs = takeRepeated(argv, 'pub');
  const { opts, rest } = parseArgs(pubs.argv, ['device', 'board', 'trusted'], ['no-trial']);
  const file = one(rest, 'bundle file');
  const device = need(opts, 'device');
  const chunkDelayMs = flashChunkDelayFromEnv(process.env);
  const bytes = readBundleFile(file);
  const r = flashBundle({
    device, bundle: bytes, beforeWrite: (b) => trial(opts, b, 'flash'), trust: trustFrom(pubs.values, opts.get('trusted')),
    board: opts.get('board'), chunkDelayMs,
  });
  const m = r.bundle.manifest;
  say(`flashed ${m.name} ${m.version} into slot ${r.slot} of ${device}; slot ${r.slot} is now active${r.previous ? ` (slot ${r.previous} kept as fallback)` : ''}`);
  return 0;
}

async function trust(argv: string[]): Promise<number> {
  const { rest } = parseArgs(argv, []);
  const dir = one(rest, 'trust configuration directory');
  say(`trust configuration ${dir}: a bundle needs ${describeTrust(readTrust(dir))}`);
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

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = { keygen, build, sign, verify, inspect, flash, trust, medium };

export const bundleCommand: Command = {
  name: 'bundle',
  help: SUMMARY_HELP,
  async main(argv: string[]): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      process.stdout.write(SUMMARY_HELP + '\n');
      return sub === undefined ? 2 : 0;
    }
    const run = SUBCOMMANDS[sub];
    if (!run || !Object.prototype.hasOwnProperty.call(SUBCOMMANDS, sub)) throw new UsageError(`unknown bundle subcommand ${JSON.stringify(sub)}: use keygen, build, sign, verify, inspect, flash, trust or medium (see sealtap bundle --help)`);
    if (wantsHelp(rest)) {
      process.stdout.write(HELP[sub] + '\n');
      return 0;
    }
    try {
      return await run(rest);
    } catch (err) {
      if (err instanceof BundleError) {
        process.stderr.write(`sealtap bundle ${sub}: ${err.message}\n`);
        // Content the box's validators refuse is the researcher's to fix, like a usage
        // mistake; so is a trust configuration that cannot be read as one.
        return err instanceof ContentError || err instanceof TrustError ? 2 : 1;
      }
      throw err;
    }
  },
};
