// sealtap run: the supervisor. On the box it is the only long-lived program; on a
// development host it runs the same pipeline and exits 0 after a clean stop.
import { Command, UsageError, parseArgs } from './command';
import { loadConfig, ConfigError } from '../supervisor/config';
import { preflight, PreflightError } from '../supervisor/preflight';
import { loadBoard } from '../supervisor/board';
import { supervise } from '../supervisor/supervise';
import { realSys } from '../supervisor/sys';
import { Leds } from '../supervisor/leds';
import { realCommands } from '../supervisor/commands';
import { finish } from '../supervisor/poweroff';
import { bootFromBundle, BundleRefused, trustedKeysDir } from '../supervisor/firmware-bundle';
import type { FirmwareIdentity } from '../supervisor/supervise';
import { productVersion } from './version';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const runCommand: Command = {
  name: 'run',
  summary: 'the supervisor: capture, seal, analyse, and send results down the line',
  help: `usage: sealtap run --config run.json [--board NAME] [--trusted DIR] [--unsandboxed]

Runs one capture: boot, volatile keys, sealed spool, capture and analysis, then stops
on the first stop condition in run.json (stop.seconds, stop.packets, stop.endOfSource)
or on SIGTERM/SIGINT, lets analysis finish, drains the results line, wipes the keys
and exits 0. A second SIGTERM/SIGINT while stopping stops at once (keys still wiped).

Options:
  --config FILE   the run configuration (JSON, see docs/run-config.md)
  --board NAME    board/NAME/board.json or a path to a board.json (default: dev)
  --trusted DIR   public keys (*.pub) a bundle must be signed with (default
                  ${trustedKeysDir}); used when the board has a bundleDevice
  --unsandboxed   development only: run the analysis module without its
                  operating-system sandbox (bubblewrap, seccomp, own uid). BOOT,
                  every STATUS and END say so; refused on a board with a
                  bundleDevice (the box)

The analysis module runs in its sandbox; when the sandbox cannot be built (bubblewrap
or the seccomp helper missing, no user namespaces) the run refuses to start (exit 1).

On a board with a bundleDevice (the box), the analysis firmware bundle is verified
first (signature, board, security version, payload hashes, then its policy, its
run.json merged with --config's wiring and its module's syntax; active slot, then the
other): its module, policy and run.json choose the analysis, while source, spool and
channel stay those of --config. When neither slot passes, the run is refused (exit 1).

The operator log goes to stderr and, as LOG records, down the results line.
Exit codes: 0 clean stop; 1 a fatal fault during the run; 2 a bad config, board or
command line, refused before any key was made or any packet read.`,
  async main(argv) {
    const { opts, rest } = parseArgs(argv, ['config', 'board', 'trusted'], ['unsandboxed']);
    if (rest.length > 0) throw new UsageError(`run takes no positional arguments (got ${rest.join(' ')})`);
    const configPath = opts.get('config');
    if (!configPath) throw new UsageError('run needs --config run.json');
    let config;
    let board;
    let firmware: FirmwareIdentity = { name: 'dev', version: productVersion(), hash: 'unsigned' };
    let firmwareDir: string | null = null;
    try {
      config = loadConfig(configPath);
      board = loadBoard(opts.get('board') ?? 'dev');
      if (opts.has('unsandboxed') && board.bundleDevice) throw new UsageError(`--unsandboxed is a development switch; board ${board.name} is an appliance and always sandboxes the analysis module`);
      if (board.bundleDevice) {
        process.stderr.write(`sealtap run: verifying the analysis firmware on ${board.bundleDevice}\n`);
        firmwareDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-firmware-'));
        const b = bootFromBundle({ medium: board.bundleDevice }, board.name, configPath, firmwareDir, opts.get('trusted') ?? trustedKeysDir);
        for (const n of b.notes) process.stderr.write(`sealtap run: ${n}\n`);
        config = b.config;
        firmware = b.firmware;
      }
      preflight(config);
    } catch (e) {
      if (firmwareDir) fs.rmSync(firmwareDir, { recursive: true, force: true });
      if (e instanceof ConfigError || e instanceof PreflightError || e instanceof Error) {
        // One line on the console; the operator in the field sees only the LEDs, so a
        // refused run shows the fatal state there too.
        process.stderr.write(`sealtap run: fatal: ${e.message}\n`);
        try {
          if (board) new Leds(realSys, board.leds).show('fatal');
        } catch (ledErr) {
          process.stderr.write(`sealtap run: cannot show the fatal state on the LEDs: ${(ledErr as Error).message}\n`);
        }
        return e instanceof BundleRefused ? 1 : 2;
      }
      throw e;
    }
    const code = await supervise({
      config,
      board,
      sys: realSys,
      firmware,
      version: productVersion(),
      signals: process,
      unsandboxed: opts.has('unsandboxed'),
    });
    if (firmwareDir) fs.rmSync(firmwareDir, { recursive: true, force: true });
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
