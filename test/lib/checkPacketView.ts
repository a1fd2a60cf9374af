// Invariants of a decoded PacketView that must hold for any input, however malformed.
import * as assert from 'uvu/assert';
import { DECODE_COUNTER_COUNT, MAX_LAYERS, PacketView } from '../../firmware/decode';

export function checkView(v: PacketView, where: string): void {
  if (v.lastParsedEnd < v.start || v.lastParsedEnd > v.end) assert.unreachable(`${where}: lastParsedEnd ${v.lastParsedEnd} outside [${v.start}, ${v.end}]`);
  if (v.depth > MAX_LAYERS) assert.unreachable(`${where}: depth ${v.depth}`);
  for (let i = 0; i < v.depth; i++) {
    if (v.off[i] < v.start || v.off[i] + v.len[i] > v.end) assert.unreachable(`${where}: layer ${i} [${v.off[i]}, +${v.len[i]}) outside the capture`);
  }
  if (v.ipOff >= 0 && v.ipDstOff + v.ipAddrLen > v.end) assert.unreachable(`${where}: IP addresses outside the capture`);
  if (v.payloadOff >= 0 && v.payloadOff + v.payloadLen > v.end) assert.unreachable(`${where}: payload outside the capture`);
  if (v.problem < 0 || v.problem >= DECODE_COUNTER_COUNT) assert.unreachable(`${where}: problem ${v.problem}`);
}
