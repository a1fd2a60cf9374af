// How many segment buffers capture gets: 64 MiB of them for a live interface (8 to 64
// buffers), 8 for a file replay.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { captureSlots } from '../../firmware/supervisor/pipeline';
import type { Source } from '../../firmware/supervisor/config';

const MiB = 1024 * 1024;
const live: Source = { kind: 'interface', name: 'mirror0', filter: '', snaplen: 65535, bufferBytes: 64 * MiB, threads: 1 };
const file: Source = { kind: 'pcap', path: 'in.pcap', speed: 'max' };

test('a live interface gets 64 MiB of buffers, at least 8 and at most 64 of them', () => {
  assert.is(captureSlots(live, 4 * MiB), 16);
  assert.is(captureSlots(live, 5 * MiB), 13, 'rounded up');
  assert.is(captureSlots(live, 64 * MiB), 8, 'never fewer than 8');
  assert.is(captureSlots(live, 64 * 1024), 64, 'never more than 64');
});

test('a file replay keeps 8 buffers whatever the segment size', () => {
  assert.is(captureSlots(file, 4 * MiB), 8);
  assert.is(captureSlots(file, 64 * 1024), 8);
});

test.run();
