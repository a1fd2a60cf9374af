import * as fs from 'node:fs';
import * as path from 'node:path';

/** The product version from package.json (read once). */
export function productVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
    return String(pkg.version);
  } catch {
    return '0.0.0';
  }
}
