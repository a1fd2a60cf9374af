// sealtap run: the supervisor. On the box it is the only long-lived program; on a
// development host it runs the same pipeline and exits 0 after a clean stop.
import { Command, UsageError, parseArgs } from './command';
import { loadConfig, ConfigError, RunConfig } from '../supervisor/config';
import { preflight, PreflightError } from '../supervisor/preflight';
import { Board, loadBoard } from '../supervisor/board';
import { analysisStart, SpareAnalyses } from '../analysis/sandbox';
import { Leds } from '../supervisor/leds';
import { realCommands } from '../supervisor/commands';
import { finish } from '../supervisor/poweroff';
import { setUpUsbGadget, UsbGadgetError } from '../supervisor/usb-gadget';
import { openWriteOnlyTty } from '../channel/tty';
import { BundleRefused, BundleSource, trustedKeysDir } from '../supervisor/bundle-source';
import type { FirmwareIdentity } from '../supervisor/supervise';
import type { Sys } from '../supervisor/sys';
import type { SpareCaptureThreads } from '../capture/capture';
import { productVersion } from './version';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const runCommand: Command = {
  name: 'run',
  help: `usage: sealtap run --config run.json [--board NAME] [--trusted DIR] [--unsandboxed]
       sealtap run --config run.json --bundle FILE.sfw [--as-board NAME] [--trusted DIR]
       sealtap run --config run.json --medium IMAGE [--as-board NAME] [--trusted DIR]

Runs one capture: boot, volatile keys, sealed spool, capture and analysis, then stops
on the first stop condition in run.json (stop.seconds, stop.packets, stop.endOfSource)
or on SIGTERM/SIGINT, lets analysis finish, drains the results line, wipes the keys
and exits 0. A second SIGTERM/SIGINT while stopping stops at once (keys still wiped).

Options:
  --config FILE    the run configuration (JSON, see docs/run-config.md)
  --board NAME     board/NAME/board.json or a path to a board.json (default: dev)
  --trusted DIR    public keys (*.pub) a bundle must be signed with (default
                   ${trustedKeysDir}); used when the board has a bundleDevice,
                   and with --bundle or --medium
  --bundle FILE    development host: run the analysis firmware bundle FILE.sfw as
                   the box will (see below)
  --medium IMAGE   development host: take the bundle from a bundle medium image
                   (sealtap bundle medium init, then bundle flash) as the box takes it
                   from its bundleDevice: the active slot, else the other one
  --as-board NAME  with --bundle or --medium: the board whose box the bundle is
                   checked for (it must list NAME in its boards), e.g. your box's
                   qemu-x86_64, so the bundle you will flash runs unchanged here
                   (default: the name of --board, dev). Only the name is taken:
                   LEDs and devices stay those of --board
  --unsandboxed    development only: run the analysis module without its
                   operating-system sandbox (bubblewrap, seccomp, own uid). BOOT,
                   every STATUS and END say so; refused on a board with a
                   bundleDevice (the box) and with --bundle or --medium

The analysis module runs in its sandbox; when the sandbox cannot be built (bubblewrap
or the seccomp helper missing, no user namespaces) the run refuses to start (exit 1).

On a board with a bundleDevice (the box), the analysis firmware bundle is verified
first (signature, board, security version, payload hashes, then its policy, its
run.json merged with --config's wiring and its module's syntax; active slot, then the
other): its module, policy and run.json choose the analysis, while source, spool and
channel stay those of --config. When neither slot passes, the run is refused (exit 1).

Running a bundle as the box will, on a development host: --bundle and --medium go
through the same checks (the board checked is --as-board's), the same merge with
--config's source, spool and channel, and the same sandbox. The bundle's files are
unpacked into a private temporary directory, removed when the run ends, refused or
not. With --medium a refused active slot falls back to the other slot, and the
medium's minimum security version is raised as on the box. --bundle and --medium
exclude each other, and a board with a bundleDevice refuses both (exit 2): the box
reads only its own medium.

The operator log goes to stderr and, as LOG records, down the results line.
A board whose results line is a USB port (board.json usbGadget) gets its CDC-ACM
gadget made in configfs and bound to its controller once the analysis firmware is
verified and before the run configuration is checked; its tty is opened write-only
and raw before the controller is bound. If that fails the run is refused (exit 1).

Exit codes: 0 clean stop; 1 a fatal fault during the run, a refused bundle, a USB
gadget that cannot be set up, or a --bundle, --medium or --trusted path that does
not exist; 2 a bad config, board or
command line, refused before any key was made or any packet read.`,
  async main(argv) {
    const args = parseRunArgs(argv);
    const ready = prepare(args);
    if (typeof ready === 'number') return ready;
    const { config, board, firmware, firmwareDir } = ready;
    // The analysis processes start as soon as the configuration is known, before the
    // supervisor's own modules load: the start of node and of their modules in them
    // overlaps that loading and the boot's phases (docs/benchmarks.md, end to end).
    // Nothing is shared with them yet, no key exists yet; what the run did not take
    // is killed when it ends, however it ends. The capture threads start once those
    // modules are loaded (a thread's start, node's environment and its modules, then
    // overlaps the boot's phases instead of competing with that loading), and the
    // first one touches the capture slots meanwhile; they are handed their slots and
    // source when capture starts.
    let spares: SpareAnalyses | null = null;
    let captureSpares: SpareCaptureThreads | null = null;
    let code: number;
    try {
      const start = analysisStart(config);
      spares = new SpareAnalyses(start.readablePaths, start.spawnsModule, start.count);
      const { supervise } = require('../supervisor/supervise') as typeof import('../supervisor/supervise');
      const capture = require('../capture/capture') as typeof import('../capture/capture');
      const { captureSlots } = require('../supervisor/pipeline') as typeof import('../supervisor/pipeline');
      const { maxBodyBytes } = require('../spool/segment') as typeof import('../spool/segment');
      captureSpares = new capture.SpareCaptureThreads(capture.captureThreadCount(config.source), {
        slots: captureSlots(config.source, config.spool.segmentBytes),
        slotBytes: maxBodyBytes(config.spool.segmentBytes),
      });
      code = await supervise({
        config,
        board,
        sys: realSys(),
        spares,
        captureSpares,
        firmware,
        version: productVersion(),
        signals: process,
        unsandboxed: args.unsandboxed,
      });
    } finally {
      spares?.close();
      captureSpares?.close();
      removeFirmwareDir(firmwareDir);
    }
    // On the box the run ends in power-off (board atExit); on a host the process ends
    // here, so nothing of the run lingers (a probe timer of the health sampler, say).
    try {
      finish(board.atExit, realCommands);
    } catch (e) {
      process.stderr.write(`sealtap run: ${(e as Error).message}\n`);
    }
    process.stderr.write('', () => process.exit(code));
    return code;
  },
};

/** The command line, with the mistakes that need no file refused. */
interface RunArgs {
  config: string;
  board: string;
  trusted: string;
  /** --bundle or --medium (development host), and the board it is checked for. */
  dev: { source: BundleSource; asBoard: string | undefined } | null;
  unsandboxed: boolean;
}

function parseRunArgs(argv: string[]): RunArgs {
  const { opts, rest } = parseArgs(argv, ['config', 'board', 'trusted', 'bundle', 'medium', 'as-board'], ['unsandboxed']);
  if (rest.length > 0) throw new UsageError(`run takes no positional arguments (got ${rest.join(' ')})`);
  const config = opts.get('config');
  if (!config) throw new UsageError('run needs --config run.json');
  const file = opts.get('bundle');
  const medium = opts.get('medium');
  if (file !== undefined && medium !== undefined) throw new UsageError('--bundle and --medium exclude each other: give one bundle file, or the medium image whose active slot is to run');
  const source: BundleSource | null = file !== undefined ? { file } : medium !== undefined ? { medium } : null;
  const asBoard = opts.get('as-board');
  if (asBoard !== undefined && !source) throw new UsageError('--as-board names the board a bundle is checked for: give it with --bundle FILE.sfw or --medium IMAGE');
  if (asBoard !== undefined) (require('./bundle') as typeof import('./bundle')).checkBoardsExist([asBoard], 'as-board');
  if (source && opts.has('unsandboxed')) throw new UsageError('--unsandboxed cannot be given with --bundle or --medium: a bundle\'s module runs in its sandbox, as on the box');
  return {
    config, board: opts.get('board') ?? 'dev', trusted: opts.get('trusted') ?? trustedKeysDir,
    dev: source && { source, asBoard }, unsandboxed: opts.has('unsandboxed'),
  };
}

/** The supervisor's system layer, loaded when it is needed (it loads the box's native addons). */
function realSys(): Sys {
  return (require('../supervisor/sys') as typeof import('../supervisor/sys')).realSys;
}

/** The USB gadget's tty, held open (write-only, raw) for the whole run; never written. */
const heldGadgetTty: number[] = [];

/** A path given to run that does not exist (exit 1, like any missing input). */
class MissingInput extends Error {}

/**
 * Everything before the first key: config, board, the verified analysis firmware
 * unpacked into a temporary directory. Returns the exit code when the run is refused;
 * a refused run leaves no temporary directory behind.
 */
function prepare(args: RunArgs): { config: RunConfig; board: Board; firmware: FirmwareIdentity; firmwareDir: string | null } | number {
  let board: Board | undefined;
  let firmwareDir: string | null = null;
  try {
    let config = loadConfig(args.config);
    board = loadBoard(args.board);
    if (args.unsandboxed && board.bundleDevice) throw new UsageError(`--unsandboxed is a development switch; board ${board.name} is an appliance and always sandboxes the analysis module`);
    const wanted = firmwareSource(args, board);
    let firmware: FirmwareIdentity = { name: 'dev', version: productVersion(), hash: 'unsigned' };
    if (wanted) {
      process.stderr.write(`sealtap run: verifying the analysis firmware ${'medium' in wanted.source ? `on ${wanted.source.medium}` : `in ${wanted.source.file}`} for board ${wanted.board}${wanted.hint}\n`);
      firmwareDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-firmware-'));
      // Loaded here: a run that verifies no bundle does not load the verification.
      const { bootFromBundle } = require('../supervisor/firmware-bundle') as typeof import('../supervisor/firmware-bundle');
      const b = bootFromBundle(wanted.source, wanted.board, args.config, firmwareDir, args.trusted);
      for (const n of b.notes) process.stderr.write(`sealtap run: ${n}\n`);
      config = b.config;
      firmware = b.firmware;
    }
    // A board whose results line is a USB gadget makes it before the line is checked.
    // Its tty is opened write-only and raw before the controller is bound, so the raw
    // mode is in place before any host can send a byte, and held open until the process
    // ends, so it cannot lapse before the channel opens the tty again.
    const gadget = board.usbGadget;
    if (gadget) {
      const bound = setUpUsbGadget(gadget, undefined, () => { heldGadgetTty.push(openWriteOnlyTty(gadget.tty, config.channel.baud).fd); });
      process.stderr.write(`sealtap run: ${bound}\n`);
    }
    preflight(config);
    return { config, board, firmware, firmwareDir };
  } catch (e) {
    removeFirmwareDir(firmwareDir);
    if (e instanceof ConfigError || e instanceof PreflightError || e instanceof Error) {
      // One line on the console; the operator in the field sees only the LEDs, so a
      // refused run shows the fatal state there too.
      process.stderr.write(`sealtap run: fatal: ${e.message}\n`);
      try {
        if (board) new Leds(realSys(), board.leds).show('fatal');
      } catch (ledErr) {
        process.stderr.write(`sealtap run: cannot show the fatal state on the LEDs: ${(ledErr as Error).message}\n`);
      }
      return e instanceof BundleRefused || e instanceof MissingInput || e instanceof UsbGadgetError ? 1 : 2;
    }
    throw e;
  }
}

/**
 * The analysis firmware to verify, and the board name its compatibility is checked
 * for: the box's own medium, or --bundle/--medium on a development host; null for a
 * development run without a bundle.
 */
function firmwareSource(args: RunArgs, board: Board): { source: BundleSource; board: string; hint: string } | null {
  if (board.bundleDevice) {
    if (args.dev) throw new UsageError(`${'medium' in args.dev.source ? '--medium' : '--bundle'} is for a development host; board ${board.name} is an appliance and runs only the bundle on its own medium ${board.bundleDevice}`);
    return { source: { medium: board.bundleDevice }, board: board.name, hint: '' };
  }
  if (!args.dev) return null;
  requireInputs(args.dev.source, args.trusted);
  // A bundle made for the researcher's box names that box's board, not this host's:
  // say how to check it for that board before the refusal tells them to rebuild it.
  const asBoard = args.dev.asBoard;
  return { source: args.dev.source, board: asBoard ?? board.name, hint: asBoard ? '' : ' (--as-board NAME checks it for your box\'s board)' };
}

/** The researcher's paths, named with their option and the fix before anything is read. */
function requireInputs(source: BundleSource, trusted: string): void {
  if ('file' in source && !fs.existsSync(source.file)) {
    throw new MissingInput(`--bundle ${source.file}: no such file; give a bundle built with \`sealtap bundle build DIR --key PREFIX.key --board NAME --out FILE.sfw\``);
  }
  if ('medium' in source && !fs.existsSync(source.medium)) {
    throw new MissingInput(`--medium ${source.medium}: no such file; make one with \`sealtap bundle medium init --device ${source.medium}\` and \`sealtap bundle flash FILE.sfw --device ${source.medium}\``);
  }
  if (!fs.existsSync(trusted)) {
    throw new MissingInput(`--trusted ${trusted}: no such directory; give --trusted DIR holding the public key (PREFIX.pub from \`sealtap bundle keygen\`) the bundle is signed with`);
  }
}

function removeFirmwareDir(dir: string | null): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
