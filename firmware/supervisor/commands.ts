// The box's system commands (cryptsetup, mkfs.ext4, mount, ip, nft, poweroff) behind
// one small interface, so the decisions of dmcrypt.ts, nic.ts and poweroff.ts can be
// tested as a transcript of commands while the image runs the real ones.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface CommandSys {
  /**
   * Runs a program to completion and throws if it fails. `stdin`, when given, is
   * written to the child's stdin pipe and the pipe closed: the only way a secret may
   * reach a child (never argv, never the environment, never a file).
   */
  run(cmd: string, args: readonly string[], stdin?: Uint8Array): void;
  writeFile(file: string, data: string): void;
}

export class CommandError extends Error {}

// Children get PATH and nothing else: the supervisor's environment is not theirs to
// read, and a fixed PATH keeps "cryptsetup" meaning /usr/sbin/cryptsetup.
const childEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

export const realCommands: CommandSys = {
  run(cmd, args, stdin) {
    const r = spawnSync(cmd, args, {
      env: childEnv,
      // spawnSync hands `input` to the child's pipe straight from this buffer: no copy
      // in a JS string, so a key stays in the caller's secure memory.
      input: stdin,
      stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'],
      timeout: 120_000,
      killSignal: 'SIGKILL',
    });
    if (r.error) {
      const code = (r.error as NodeJS.ErrnoException).code;
      throw new CommandError(code === 'ENOENT' ? `${cmd} is not installed: add its package to rootfs/packages.txt` : `${cmd} could not run: ${r.error.message}`);
    }
    if (r.status !== 0) {
      const why = r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
      const err = r.stderr ? r.stderr.toString('utf8').trim().split('\n').slice(-3).join(' / ') : '';
      throw new CommandError(`${cmd} ${args.join(' ')} failed (${why})${err ? `: ${err}` : ''}`);
    }
  },
  writeFile(file, data) {
    fs.writeFileSync(file, data);
  },
};
