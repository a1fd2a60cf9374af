import { Command } from './command';

export const receiveCommand: Command = {
  name: 'receive',
  summary: '(being built)',
  help: 'usage: sealtap receive',
  async main() {
    process.stderr.write('sealtap receive: not available in this build\n');
    return 1;
  },
};
