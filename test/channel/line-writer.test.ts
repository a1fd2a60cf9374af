import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LineWriter } from '../../firmware/channel/line-writer';
import type { Pacer } from '../../firmware/channel/pacer';

/** Unpaced, with small batches so that one run takes many writes. */
const smallBatches: Pacer = { batchBytes: 4096, allowance: (want) => want, spent: () => {}, msUntilRoom: () => 0, lineTimeMs: () => 0 };

function frames(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.alloc(100 + ((i * 389) % 3000), (i % 250) + 1));
}

async function writeAll(hooks: ConstructorParameters<typeof LineWriter>[4]): Promise<{ written: Buffer; want: Buffer; taken: Buffer[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-line-writer-'));
  const file = path.join(dir, 'line');
  const fd = fs.openSync(file, 'w');
  try {
    const fs_ = frames(400);
    let i = 0;
    const taken: Buffer[] = [];
    const w = new LineWriter(fd, smallBatches, () => (i < fs_.length ? fs_[i++] : null), Buffer.from([0]), hooks && { ...hooks, taken: hooks.taken && ((b) => { taken.push(b); hooks.taken?.(b); }) });
    w.wake();
    assert.ok(await w.whenIdle(Date.now() + 10_000, Date.now), 'the writer drained');
    await w.close();
    return { written: fs.readFileSync(file), want: Buffer.concat([Buffer.from([0]), ...fs_]), taken };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a line without hooks gets every frame in order through its reused batch buffer', async () => {
  const { written, want } = await writeAll({});
  assert.is(written.length, want.length);
  assert.ok(written.equals(want));
});

test('the bytes a hook is handed stay as they were after later writes (no reused buffer then)', async () => {
  const kept: Buffer[] = [];
  const { written, want, taken } = await writeAll({ taken: (b) => kept.push(Buffer.from(b)) });
  assert.ok(written.equals(want));
  assert.ok(taken.length > 10, `${taken.length} batches`);
  for (let k = 0; k < taken.length; k++) assert.ok(taken[k].equals(kept[k]), `batch ${k} unchanged`);
});

test.run();
