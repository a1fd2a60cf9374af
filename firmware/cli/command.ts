// What every sealtap subcommand looks like to the dispatcher in main.ts.
export interface Command {
  name: string;
  /** The full text printed by `sealtap <name> --help`. */
  help: string;
  /** Returns the process exit code. */
  main(argv: string[]): Promise<number>;
}

/** A user mistake: printed as one line "sealtap: <message>", exit code 2. */
export class UsageError extends Error {}

export function wantsHelp(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/**
 * Parses `--name value` and `--flag` options; everything else is positional.
 * `flags` lists the options that take no value. Unknown options are refused
 * so that a typo never silently changes what the box does.
 */
export function parseArgs(argv: string[], valued: string[], flags: string[] = []): { opts: Map<string, string>; rest: string[] } {
  const opts = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { rest.push(a); continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (flags.includes(name)) { opts.set(name, 'true'); continue; }
    if (!valued.includes(name)) throw new UsageError(`unknown option --${name} (see --help)`);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`option --${name} needs a value`);
    opts.set(name, value);
  }
  return { opts, rest };
}
