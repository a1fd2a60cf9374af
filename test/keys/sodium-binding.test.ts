// libsodium's binding loaded by file name (keys/sodium-binding.ts): the same binding as
// require-addon would find, loaded without it, under the analysis' permissions too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../lib/run-box';
import { sandboxArgs } from '../../firmware/analysis/sandbox';

const preload = path.join(repoRoot, 'dist', 'firmware', 'keys', 'sodium-binding.js');

/** Runs `code` in a new node process (with `flags`) and returns what it printed as JSON. */
function inNode(code: string, flags: string[] = []): Record<string, unknown> {
  const r = spawnSync(process.execPath, [...flags, '-e', code], { cwd: repoRoot, encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0, `node exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

// What each process prints: the file the preload took (null when it left it to
// require-addon), whether require-addon was loaded, and libsodium's BLAKE2b of "abc".
const report = `
  const s = require('sodium-native');
  const out = Buffer.alloc(32);
  s.crypto_generichash(out, Buffer.from('abc'));
  const addonLoaded = Object.keys(require.cache).some((f) => f.includes('require-addon'));
  process.stdout.write(JSON.stringify({ file: typeof preloaded === 'undefined' ? null : preloaded, addonLoaded, digest: out.toString('hex') }));`;

test('the preload loads the packaged binding by name: require-addon never loads, and libsodium answers as through require-addon', () => {
  const plain = inNode(report);
  const fast = inNode(`const preloaded = require(${JSON.stringify(preload)}).sodiumBindingFile;` + report);
  assert.is(plain.addonLoaded, true, 'without the preload sodium-native goes through require-addon');
  assert.match(String(fast.file), new RegExp(`prebuilds/${process.platform}-${process.arch}/sodium-native\\.node$`));
  assert.is(fast.addonLoaded, false, 'require-addon was loaded after all');
  assert.is(fast.digest, plain.digest);
  assert.is(fast.digest, 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319');
});

test('a binding loaded already is left as it is', () => {
  const got = inNode(`require('sodium-native'); const preloaded = require(${JSON.stringify(preload)}).sodiumBindingFile;` + report);
  assert.is(got.file, null);
  assert.is(got.addonLoaded, true);
});

test('the analysis process, under its permissions, takes the binding by name', () => {
  const got = inNode(`const preloaded = require(${JSON.stringify(preload)}).sodiumBindingFile;` + report, sandboxArgs([]));
  assert.match(String(got.file), /sodium-native\.node$/);
  assert.is(got.addonLoaded, false);
});

test.run();
