/** Generated traffic files for tests, in a temporary directory removed at exit. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_MARKER, Expectation, GenerateOptions, generate } from '../../tools/samplegen/generate';

let dir: string | null = null;

export function tempDir(): string {
  if (dir === null) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-samplegen-'));
    const d = dir;
    process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}

let n = 0;

/** Generates a file with the given options (defaults: sample, 2,000 packets, seed 1) and returns its path and ground truth. */
export function generated(o: Partial<GenerateOptions> = {}): { file: string; truth: Expectation } {
  const file = path.join(tempDir(), `gen-${process.pid}-${n++}.pcap`);
  const truth = generate({ out: file, kind: 'sample', packets: 2000, seed: 1, marker: DEFAULT_MARKER, ipv6: false, flows: 1024, ...o });
  return { file, truth };
}
