import { Command } from './command';

export const bundleCommand: Command = {
  name: 'bundle',
  summary: '(being built)',
  help: 'usage: sealtap bundle',
  async main() {
    process.stderr.write('sealtap bundle: not available in this build\n');
    return 1;
  },
};
