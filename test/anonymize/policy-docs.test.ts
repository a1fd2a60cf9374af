// docs/policy.md is what researchers write policies from: its examples must be valid
// and its field table must match the validator's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as path from 'path';
import { defaultPolicy, validatePolicy } from '../../firmware/anonymize/policy';
import { FIELD_NAMES, fieldSpec } from '../../firmware/anonymize/policy-fields';
import { REPO_ROOT } from '../lib/anonymize-fixtures';

const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs/policy.md'), 'utf8');

test('every JSON example in docs/policy.md is a valid policy', () => {
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 4, `found ${blocks.length} examples`);
  for (const b of blocks) validatePolicy(JSON.parse(b));
});

test('docs/policy.md lists every field with the actions and default the validator uses', () => {
  const d = defaultPolicy().fields;
  for (const f of FIELD_NAMES) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${f}\` |`));
    assert.ok(row, `no row for ${f}`);
    const cells = row!.split('|').map((c) => c.trim());
    assert.is(cells[3], fieldSpec(f).actions.join(', '), f);
    assert.ok(cells[4].startsWith(d[f].action), `${f}: default ${cells[4]} vs ${d[f].action}`);
  }
});

test.run();
