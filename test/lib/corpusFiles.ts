// Paths of the shared capture corpus (tcpdump's test captures), outside the repository.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** ../shared/corpus/tcpdump-tests relative to the repository root (dist/test/lib is 3 levels down). */
export const corpusDir = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'corpus', 'tcpdump-tests');

/**
 * One capture of the corpus by name. A missing one fails the test that needs it, with
 * where it was looked for; it never stops the other tests of the group from loading.
 */
export function corpusFile(name: string): string {
  const file = path.join(corpusDir, name);
  if (!fs.existsSync(file)) throw new Error(`corpus capture ${name} not found in ${corpusDir}: the repository must sit next to ../shared, which holds tcpdump's test captures`);
  return file;
}

export function corpusFiles(): string[] {
  if (!fs.existsSync(corpusDir)) throw new Error(`capture corpus not found at ${corpusDir}: the repository must sit next to ../shared`);
  return fs.readdirSync(corpusDir).filter((f) => /\.(pcap|pcapng|cap)$/.test(f)).sort().map((f) => path.join(corpusDir, f));
}
