// The results folder of `sealtap receive` (--out DIR): made if missing, refused when it
// already holds something (results of two runs mixed in one folder cannot be told apart:
// an earlier run's stream files or trace-<session>.pcap would sit beside this run's),
// and emptied again of everything this run wrote when the run fails, so a failure
// leaves the folder as it found it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RECEIVER_FILES } from './outputs';

/** A refusal that is the user's to fix on the command line (the CLI exits 2). */
export class OutDirRefused extends Error {}

export interface OutDir {
  dir: string;
  /** Entries the folder held before this run (kept by removeWhatWasWritten). */
  before: Set<string>;
  /** The first folder mkdir created (DIR itself or a parent), or undefined if DIR existed. */
  created: string | undefined;
}

/**
 * Makes DIR if missing and checks it can take the results. A folder that is not empty
 * is refused unless `force` (then files of the same names are replaced, others stay).
 */
export function openOutDir(dir: string, force: boolean): OutDir {
  let created: string | undefined;
  try {
    created = fs.mkdirSync(dir, { recursive: true });
    if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') throw new Error(`output directory ${dir} is a file, not a directory: choose another --out`);
    throw new Error(`output directory ${dir} is not writable (${code || (e as Error).message}): choose another --out or fix its permissions`);
  }
  const before = fs.readdirSync(dir);
  if (before.length > 0 && !force) {
    throw new OutDirRefused(`output directory ${dir} is not empty (${before.length} entries): give a new or empty --out, or add --force to write over it`);
  }
  return { dir, before: new Set(before), created };
}

/**
 * Refuses an input that is one of the files receive writes in DIR (`receive out/line.raw
 * --out out --force`): opening the outputs would truncate the input before it is read.
 */
export function refuseOwnOutput(input: string, dir: string): void {
  let inDir: string;
  let file: string;
  try {
    file = fs.realpathSync(input);
    inDir = fs.realpathSync(dir);
  } catch {
    return; // DIR not made yet: it holds nothing to overwrite
  }
  if (path.dirname(file) !== inDir) return;
  const name = path.basename(file);
  if (RECEIVER_FILES.includes(name) || name.endsWith('.jsonl') || /^trace-.*\.pcap$/.test(name)) {
    throw new OutDirRefused(`${input} is in the output directory ${dir} and receive would overwrite it: copy it elsewhere or choose another --out`);
  }
}

/** Removes what this run added to DIR, and DIR (and the parents it made) if it made them. */
export function removeWhatWasWritten(o: OutDir): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync(o.dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!o.before.has(name)) fs.rmSync(path.join(o.dir, name), { force: true, recursive: true });
  }
  if (o.created === undefined) return;
  // From DIR up to the first folder mkdir made; rmdir refuses a folder someone else filled meanwhile.
  const top = path.resolve(o.created);
  for (let d = path.resolve(o.dir); ; d = path.dirname(d)) {
    try {
      fs.rmdirSync(d);
    } catch {
      return;
    }
    if (d === top || path.dirname(d) === d) return;
  }
}
