import { Command } from './command';

export const runCommand: Command = {
  name: 'run',
  summary: '(being built)',
  help: 'usage: sealtap run',
  async main() {
    process.stderr.write('sealtap run: not available in this build\n');
    return 1;
  },
};
