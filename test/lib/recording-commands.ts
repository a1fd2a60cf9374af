// A CommandSys that records instead of running: the transcript of what the box would
// have done. `failOn` makes the first command whose line starts with it throw.
import type { CommandSys } from '../../firmware/supervisor/commands';

export interface RecordedCommand {
  cmd: string;
  args: string[];
  stdin: Buffer | null;
}

export class RecordingCommands implements CommandSys {
  readonly commands: RecordedCommand[] = [];
  readonly files: { file: string; data: string }[] = [];
  /** One line per action, in order: "run ip link set ..." or "write FILE DATA". */
  readonly transcript: string[] = [];

  constructor(private readonly failOn: string[] = []) {}

  run(cmd: string, args: readonly string[], stdin?: Uint8Array): void {
    // Copy: the caller wipes its key buffer afterwards, the record must show what was sent.
    this.commands.push({ cmd, args: [...args], stdin: stdin ? Buffer.from(stdin) : null });
    const line = `${cmd} ${args.join(' ')}`;
    this.transcript.push(`run ${line}${stdin ? ` <stdin ${stdin.length} bytes>` : ''}`);
    const hit = this.failOn.find((f) => line.startsWith(f));
    if (hit !== undefined) throw new Error(`${cmd}: simulated failure`);
  }

  writeFile(file: string, data: string): void {
    this.files.push({ file, data });
    this.transcript.push(`write ${file} ${data}`);
  }
}
