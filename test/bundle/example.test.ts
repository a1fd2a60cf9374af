// examples/flows-basic builds into a bundle with a fresh key, and that bundle verifies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT, runSealtap, tempDir } from '../lib/bundle-fixtures';
import { loadBundleFile } from '../../firmware/bundle/boot-select';
import { readPublicKeyFile } from '../../firmware/bundle/signing-keys';
import { trustAnyOf } from '../../firmware/bundle/trust';

const EXAMPLE = path.join(REPO_ROOT, 'examples/flows-basic');

test('examples/flows-basic builds with a fresh key and verifies', () => {
  const dir = tempDir('example');
  const prefix = path.join(dir, 'fresh');
  const out = path.join(dir, 'flows-basic.sfw');
  assert.is(runSealtap(['bundle', 'keygen', '--out', prefix]).status, 0);
  const b = runSealtap(['bundle', 'build', EXAMPLE, '--key', `${prefix}.key`, '--board', 'qemu-x86_64', '--out', out]);
  assert.is(b.status, 0, b.err);
  const v = runSealtap(['bundle', 'verify', out, '--pub', `${prefix}.pub`, '--board', 'qemu-x86_64']);
  assert.is(v.status, 0, v.err);
  const defaults = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'bundle.json'), 'utf8'));
  assert.match(v.out, new RegExp(`flows-basic ${defaults.version.replace(/\./g, '\\.')} \\(security version ${defaults.securityVersion}\\)`));
  const loaded = loadBundleFile(out, { trust: trustAnyOf([readPublicKeyFile(`${prefix}.pub`)], 'test keys'), board: 'qemu-x86_64' });
  assert.ok(loaded.ok);
  if (!loaded.ok) return;
  assert.equal(loaded.bundle.run, fs.readFileSync(path.join(EXAMPLE, 'run.json')));
});

test('the example module declares the built-in flows analysis', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const mod = require(path.join(EXAMPLE, 'module.js'));
  assert.equal(mod, { name: 'flows-basic', version: '1.0.0', outputs: ['flows'] });
});

test('the example run config names its source, spool, channel, stop condition, outputs and policy', () => {
  const run = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'run.json'), 'utf8'));
  assert.equal(Object.keys(run).sort(), ['channel', 'outputs', 'policy', 'source', 'spool', 'stop']);
  assert.is(run.policy, 'policy.json');
  assert.equal(run.outputs, ['flows']);
  assert.equal(JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'policy.json'), 'utf8')), { extends: 'default' });
});

test.run();
