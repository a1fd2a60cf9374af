// The whole tcpdump corpus through the decoder, the flow table and the DNS tracker:
// no exception, and every IP packet is accounted in exactly one emitted flow.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePacket, PacketView } from '../../firmware/decode';
import { DnsTracker } from '../../firmware/analysis/builtin/dns';
import { FlowTable } from '../../firmware/analysis/builtin/flows';
import { corpusFiles } from '../lib/corpusFiles';
import { readCaptureFile } from '../lib/readCaptureFile';

test('every corpus capture: flows conserve IP packets, DNS tracker never throws', () => {
  const v = new PacketView();
  let ipPackets = 0;
  let flowPackets = 0;
  let flows = 0;
  let dnsRecords = 0;
  let dnsMessages = 0;
  let refused = 0;
  for (const file of corpusFiles()) {
    const cap = readCaptureFile(file);
    // Small table and short timeouts so that eviction and timeouts happen too.
    const table = new FlowTable({ maxFlows: 64, idleTimeoutUs: 5e6, activeTimeoutUs: 30e6 }, (f) => {
      flows++;
      flowPackets += f.packets + f.revPackets;
      if (f.packets < 1) assert.unreachable(`${file}: a flow whose first sender sent nothing`);
    });
    const dns = new DnsTracker({ maxPending: 16 }, () => dnsRecords++);
    let last = 0;
    for (const p of cap.packets) {
      decodePacket(p.linkType, p.data, p.off, p.caplen, p.origLen, v);
      if (v.ipOff >= 0) ipPackets++;
      table.onPacket(v, p.data, p.tsUs);
      dns.onPacket(v, p.data, p.tsUs);
      last = Math.max(last, p.tsUs);
    }
    table.flushAll(last);
    dns.flushAll(last);
    assert.is(table.size, 0);
    assert.is(dns.pendingCount, 0);
    dnsMessages += dns.counters.messages;
    refused += Object.values(dns.counters.refused).reduce((a, b) => a + b, 0);
  }
  assert.is(flowPackets, ipPackets);
  assert.ok(flows > 300, `only ${flows} flows`);
  assert.ok(dnsMessages > 20, `only ${dnsMessages} DNS messages`);
  assert.ok(refused > 0 && refused < dnsMessages, `refused ${refused} of ${dnsMessages}`);
  assert.ok(dnsRecords > 0);
});

test.run();
