// For the image test: writes into a medium a signed bundle whose content the box's
// validators refuse (its policy keeps raw source addresses), as a flash tool that
// skipped the content check would, so the box must refuse it at boot itself and fall
// back to the other slot. `sealtap bundle build`, `sign` and `flash` refuse to make or
// write such a bundle, so it is made here from the library.
//   node dist/test/image/flash-refused-content.js KEY FIRMWARE-DIR BOARD VERSION MEDIUM
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assembleBundle } from '../../firmware/bundle/build';
import { encodeManifest, makeManifest } from '../../firmware/bundle/manifest';
import { freeSecretKey, readSecretKeyFile, signManifest } from '../../firmware/bundle/signing-keys';
import { flashUnchecked } from '../lib/bundle-fixtures';

const [key, dir, board, version, medium] = process.argv.slice(2);
if (!medium) {
  process.stderr.write('usage: flash-refused-content.js KEY FIRMWARE-DIR BOARD VERSION MEDIUM\n');
  process.exit(2);
}
const moduleJs = fs.readFileSync(path.join(dir, 'module.js'));
const policy = Buffer.from(JSON.stringify({ extends: 'default', fields: { 'ip4.src': 'keep' } }));
const run = fs.readFileSync(path.join(dir, 'run.json'));
const payloads = [moduleJs, policy, run];
const manifest = makeManifest({ name: 'image-test', boards: [board], version, securityVersion: 1, created: new Date(), privacy: '00'.repeat(32) }, payloads);
const sk = readSecretKeyFile(key);
try {
  flashUnchecked(medium, assembleBundle(manifest, signManifest(encodeManifest(manifest), sk), payloads));
} finally {
  freeSecretKey(sk);
}
