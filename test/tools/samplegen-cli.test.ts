import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs } from '../../tools/samplegen/main';

test('defaults to 2,000 sample packets and a million bench packets', () => {
  assert.is(parseArgs(['--out', 'x.pcap']).packets, 2000);
  assert.is(parseArgs(['--out', 'x.pcap', '--kind', 'imix']).packets, 1_000_000);
});

test.run();
