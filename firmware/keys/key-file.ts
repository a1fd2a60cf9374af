// Secret key files on the workstation (bundle signing keys, results keys): written once,
// mode 0600 from the moment the file exists, never over an existing file.
import * as fs from 'node:fs';

/** Writes magic ‖ secret to a new file `file`; throws if it exists (EEXIST). */
export function writeSecretKeyFile(file: string, magic: Buffer, secret: Buffer): void {
  // 'wx': never follow or reuse a file someone created in between; 0600 from creation on.
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.writeSync(fd, magic);
    fs.writeSync(fd, secret);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  // In case a umask or a default ACL widened it.
  fs.chmodSync(file, 0o600);
}
