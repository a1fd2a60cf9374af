// The decoder's fixed table of counters: why a packet was not decoded to the end.
// The runtime reports them by name; adding a counter means appending a name here (the
// index of an existing counter must not change within a run, reports are by name).
import { LAYER_KIND_COUNT, layerNames } from './constants';

export const DecodeCounter = {
  /** Packets given to decodePacket. */
  packets: 0,
  unknownLinkType: 1,
  unknownEthertype: 2,
  /** 802.3 frames with a length instead of an ethertype (STP, CDP, ...): not decoded. */
  llcFrame: 3,
  unknownIpProtocol: 4,
  badIpVersion: 5,
  badIpv4HeaderLength: 6,
  badIpv4TotalLength: 7,
  badTcpHeaderLength: 8,
  /** GRE with routing present or an unknown version; ERSPAN of an unknown version. */
  unsupportedTunnel: 9,
  /** IPv4 fragments after the first and IPv6 fragments with a non-zero offset. */
  laterFragment: 10,
  /** More layers than PacketView holds (tunnels nested too deep). */
  tooManyLayers: 11,
  /** ESP: the rest is encrypted. */
  espEncrypted: 12,
  /** Any truncation; truncated.<layer> says where. */
  truncated: 13,
} as const;

const NAMED_COUNT = 14;
/** Index of the "truncated.<layer>" counter for a layer kind. */
export const TRUNCATED_BASE = NAMED_COUNT;
export const DECODE_COUNTER_COUNT = NAMED_COUNT + LAYER_KIND_COUNT;

export const decodeCounterNames: readonly string[] = (() => {
  const names: string[] = [];
  for (const [name, index] of Object.entries(DecodeCounter)) names[index] = name;
  for (let k = 0; k < LAYER_KIND_COUNT; k++) names[TRUNCATED_BASE + k] = `truncated.${layerNames[k]}`;
  return names;
})();

/** Non-zero counters by name, for STATUS/END reports. */
export function decodeCountersByName(counters: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < counters.length; i++) if (counters[i] !== 0) out[decodeCounterNames[i]] = counters[i];
  return out;
}
