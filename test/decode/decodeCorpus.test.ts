// Every capture of tcpdump's test suite (hundreds of link types, many malformed and
// truncated packets) goes through the decoder: no exception, and the view stays sane.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DECODE_COUNTER_COUNT, DecodeCounter, decodeCountersByName, decodePacket, PacketView } from '../../firmware/decode';
import { checkView } from '../lib/checkPacketView';
import { corpusFiles } from '../lib/corpusFiles';
import { readCaptureFile } from '../lib/readCaptureFile';

test('decodes every corpus capture without an exception and with sane views', () => {
  const v = new PacketView();
  let files = 0;
  let unreadable = 0;
  let packets = 0;
  let withIp = 0;
  let withPorts = 0;
  for (const file of corpusFiles()) {
    const cap = readCaptureFile(file);
    files++;
    if (cap.error !== null && cap.packets.length === 0) unreadable++;
    for (let i = 0; i < cap.packets.length; i++) {
      const p = cap.packets[i];
      decodePacket(p.linkType, p.data, p.off, p.caplen, p.origLen, v);
      checkView(v, `${file} packet ${i + 1}`);
      packets++;
      if (v.ipOff >= 0) withIp++;
      if (v.srcPort >= 0) withPorts++;
    }
  }
  assert.ok(files > 500, `only ${files} corpus files`);
  assert.ok(unreadable < files / 10, `${unreadable} of ${files} files unreadable`);
  assert.is(v.counters[DecodeCounter.packets], packets);
  assert.ok(withIp > packets / 2, `IP found in only ${withIp} of ${packets} packets`);
  assert.ok(withPorts > packets / 4, `ports found in only ${withPorts} of ${packets} packets`);
  const byName = decodeCountersByName(v.counters);
  // The corpus is full of truncated and exotic packets: these must have been seen and counted.
  for (const name of ['truncated', 'unknownLinkType', 'unknownEthertype', 'unknownIpProtocol', 'llcFrame']) {
    assert.ok((byName[name] ?? 0) > 0, `counter ${name} never counted`);
  }
  let anomalies = 0;
  for (let i = 1; i < DECODE_COUNTER_COUNT; i++) if (i !== DecodeCounter.truncated) anomalies += v.counters[i];
  assert.ok(anomalies < packets, 'more anomalies than packets');
});

test.run();
