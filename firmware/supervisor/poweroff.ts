// The end of a run. On the appliance the box powers off (or reboots) right away:
// everything it holds is already wiped or encrypted with a key that dies with the RAM.
// On a development host the supervisor just exits.
// Magic SysRq is off (kernel.sysrq=0) and there is no init system to ask, so the box
// uses `poweroff -f` / `reboot -f` (busybox in the image), which call reboot(2).
import type { CommandSys } from './commands';

export type AtExit = 'exit' | 'poweroff' | 'reboot';

export class PowerOffError extends Error {}

/**
 * Carries out the board's atExit. Returns only for 'exit' (the caller then exits);
 * for 'poweroff'/'reboot' reboot(2) does not return, so returning means it failed and
 * this throws (init powers the box off when the supervisor exits anyway).
 */
export function finish(atExit: AtExit, sys: CommandSys): void {
  if (atExit === 'exit') return;
  if (atExit !== 'poweroff' && atExit !== 'reboot') {
    throw new PowerOffError(`unknown atExit ${JSON.stringify(atExit)}: board.json allows exit, poweroff or reboot`);
  }
  try {
    // -f: straight to reboot(2) after sync; no init to signal, nothing left to stop.
    sys.run(atExit, ['-f']);
  } catch (e) {
    throw new PowerOffError(`${atExit} -f failed: ${(e as Error).message}; the image must ship /usr/sbin/${atExit} (busybox)`);
  }
  throw new PowerOffError(`${atExit} -f returned: the kernel refused reboot(2)`);
}
