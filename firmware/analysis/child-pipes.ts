// The analysis process's two pipes besides IPC: its subkeys arrive once on stdin, and
// packet positions go out on fd 4 (crash-verdict.ts says what the supervisor makes of
// them). Position writes are synchronous on purpose: a position must be in the pipe
// before its packet is touched, or a crash on that packet would blame the one before.
import * as fs from 'node:fs';
import { SecretKey } from '../keys/secret-key';
import { childKeyOrder } from './ipc';

const POSITION_FD = 4;

export type Keys = Record<(typeof childKeyOrder)[number], SecretKey>;

export /** Writes one position (or betweenPackets) to the pipe; a full pipe only delays it. */
function writePosition(buf: Buffer, pos: number): void {
  buf.writeDoubleLE(pos, 0);
  for (;;) {
    try {
      fs.writeSync(POSITION_FD, buf);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

export async function readKeys(): Promise<Keys> {
  const want = childKeyOrder.length * 32;
  const chunks: Buffer[] = [];
  let have = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    have += (c as Buffer).length;
  }
  if (have !== want) throw new Error(`analysis expected ${want} key bytes on stdin, got ${have}`);
  const all = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  const keys = {} as Keys;
  childKeyOrder.forEach((name, i) => { keys[name] = SecretKey.fromBytes(all.subarray(i * 32, (i + 1) * 32)); });
  all.fill(0);
  return keys;
}
