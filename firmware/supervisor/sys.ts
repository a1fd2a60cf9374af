// The thin layer of side effects the supervisor's decisions go through, so that a
// run can be replayed in tests as a transcript ("given these events, it did these
// actions") while component tests exercise the real thing.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Sys {
  /** Monotonic milliseconds. */
  now(): number;
  writeFile(file: string, data: string): void;
  mkdirp(dir: string): void;
  /** One operator log line to the console (stderr: stdout stays free for machine output). */
  console(line: string): void;
}

export const realSys: Sys = {
  now: () => performance.now(),
  writeFile: (file, data) => fs.writeFileSync(file, data),
  mkdirp: (dir) => fs.mkdirSync(dir, { recursive: true }),
  console: (line) => process.stderr.write(line + '\n'),
};

/** Records every action instead of doing it; time is whatever the test sets. */
export class TranscriptSys implements Sys {
  readonly actions: string[] = [];
  readonly files = new Map<string, string>();
  clock = 0;

  now(): number { return this.clock; }
  writeFile(file: string, data: string): void {
    this.files.set(path.normalize(file), data);
    this.actions.push(`write ${file} ${JSON.stringify(data)}`);
  }
  mkdirp(dir: string): void { this.actions.push(`mkdir ${dir}`); }
  console(line: string): void { this.actions.push(`console ${line}`); }
}
