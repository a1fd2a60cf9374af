import { Command } from './command';

export const cryptopanCommand: Command = {
  name: 'cryptopan',
  summary: '(being built)',
  help: 'usage: sealtap cryptopan',
  async main() {
    process.stderr.write('sealtap cryptopan: not available in this build\n');
    return 1;
  },
};
