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
import { productVersion } from './version';

export const runCommand: Command = {
  name: 'run',
  summary: 'the supervisor: capture, seal, analyse, and send results down the line',
  help: `usage: sealtap run --config run.json [--board NAME]

Runs one capture: boot, volatile keys, sealed spool, capture and analysis, then stops
on the first stop condition in run.json (stop.seconds, stop.packets, stop.endOfSource)
or on SIGTERM/SIGINT, lets analysis finish, drains the results line, wipes the keys
and exits 0. A second SIGTERM/SIGINT while stopping stops at once (keys still wiped).

Options:
  --config FILE   the run configuration (JSON, see docs/run-config.md)
  --board NAME    board/NAME/board.json or a path to a board.json (default: dev)

The operator log goes to stderr and, as LOG records, down the results line.
Exit codes: 0 clean stop; 1 a fatal fault during the run; 2 a bad config, board or
command line, refused before any key was made or any packet read.`,
  async main(argv) {
    const { opts, rest } = parseArgs(argv, ['config', 'board']);
    if (rest.length > 0) throw new UsageError(`run takes no positional arguments (got ${rest.join(' ')})`);
    const configPath = opts.get('config');
    if (!configPath) throw new UsageError('run needs --config run.json');
    let config;
    let board;
    try {
      config = loadConfig(configPath);
      board = loadBoard(opts.get('board') ?? 'dev');
      preflight(config);
    } catch (e) {
      if (e instanceof ConfigError || e instanceof PreflightError || e instanceof Error) {
        // One line on the console; the operator in the field sees only the LEDs, so a
        // refused run shows the fatal state there too.
        process.stderr.write(`sealtap run: fatal: ${e.message}\n`);
        try {
          if (board) new Leds(realSys, board.leds).show('fatal');
        } catch (ledErr) {
          process.stderr.write(`sealtap run: cannot show the fatal state on the LEDs: ${(ledErr as Error).message}\n`);
        }
        return 2;
      }
      throw e;
    }
    const code = await supervise({
      config,
      board,
      sys: realSys,
      firmware: { name: 'dev', version: productVersion(), hash: 'unsigned' },
      version: productVersion(),
      signals: process,
    });
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
