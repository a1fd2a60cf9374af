#!/usr/bin/env node
// sealtap: one binary for the box (run) and the workstation (receive, cryptopan, bundle).
import { Command, UsageError, wantsHelp } from './command';
import { runCommand } from './run';
import { receiveCommand } from './receive';
import { cryptopanCommand } from './cryptopan';
import { bundleCommand } from './bundle';

const commands: Command[] = [runCommand, receiveCommand, cryptopanCommand, bundleCommand];

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
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`sealtap: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
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
