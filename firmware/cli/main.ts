#!/usr/bin/env node
// sealtap: one binary for the box (run) and the workstation (receive, cryptopan, bundle).
//
// Only the command that runs is loaded: all four took 209 ms of require() (227
// modules), the receiver alone 78 ms and the supervisor 167 ms, and the box's run, the
// analysis and the receiver each start a process (docs/benchmarks.md, end to end).
/* eslint-disable @typescript-eslint/no-require-imports */
import { Command, UsageError, wantsHelp } from './command';

interface CommandEntry {
  name: string;
  /** One line for `sealtap --help`. */
  summary: string;
  load(): Command;
}

/**
 * Loads `file`'s export `name` when the command runs; libsodium's binding first, by its
 * file name, before any of the command's modules asks for it (keys/sodium-binding.ts).
 */
const lazy = (file: string, name: string) => (): Command => {
  require('../keys/sodium-binding');
  return (require(file) as Record<string, Command>)[name];
};

const commands: CommandEntry[] = [
  { name: 'run', summary: 'the supervisor: capture, seal, analyse, and send results down the line', load: lazy('./run', 'runCommand') },
  { name: 'receive', summary: 'read the results line (tty or recording) into pcap, IPFIX, JSON and log files', load: lazy('./receive', 'receiveCommand') },
  { name: 'cryptopan', summary: 'anonymize addresses from stdin with Crypto-PAn (interoperability checks)', load: lazy('./cryptopan', 'cryptopanCommand') },
  { name: 'bundle', summary: 'build, sign, verify, inspect and flash analysis firmware bundles', load: lazy('./bundle', 'bundleCommand') },
];

function usage(): string {
  const lines = commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`);
  return [
    'usage: sealtap <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'Run `sealtap <command> --help` for the options of one command.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`sealtap: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  const command = entry.load();
  if (wantsHelp(rest) && command.name !== 'bundle') {
    process.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  return command.main(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`sealtap: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`sealtap: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
