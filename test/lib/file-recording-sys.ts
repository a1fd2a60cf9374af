// The file side of Sys, recorded instead of done: for the LEDs' sysfs writes.
import * as path from 'node:path';
import type { Sys } from '../../firmware/supervisor/sys';

export class FileRecordingSys implements Pick<Sys, 'writeFile' | 'mkdirp'> {
  readonly actions: string[] = [];
  readonly files = new Map<string, string>();

  writeFile(file: string, data: string): void {
    this.files.set(path.normalize(file), data);
    this.actions.push(`write ${file} ${JSON.stringify(data)}`);
  }

  mkdirp(dir: string): void {
    this.actions.push(`mkdir ${dir}`);
  }
}
