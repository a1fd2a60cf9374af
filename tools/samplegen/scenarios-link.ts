/** Link-local and ICMP scenarios of the sample: ARP, neighbour discovery, pings, a VLAN-tagged exchange. */
import { BROADCAST_MAC, ipv6MulticastMac, solicitedNode } from './addresses';
import { ETHERTYPE_ARP, VlanTag, ethernetFrame } from './ethernet';
import { ARP_REPLY, ARP_REQUEST, arpPacket } from './arp';
import { icmpEcho } from './icmp';
import { icmpv6Echo, neighborAdvertisement, neighborSolicitation } from './icmpv6';
import { PROTO_ICMP, PROTO_ICMPV6 } from './ipv4';
import { Endpoint, ipFrame } from './link';
import { Client, LanClient, router } from './plan';
import { Prng } from './prng';
import { Scenario } from './trace';

/** Payload of a ping: a timestamp-like prefix then the marker, 56 bytes like Linux ping. */
function pingData(marker: string, rng: Prng): Buffer {
  const d = Buffer.alloc(Math.max(56, 8 + marker.length), 0x2e);
  rng.bytes(8).copy(d, 0);
  d.write(marker, 8, 'ascii');
  return d;
}

/** A LAN client asks for its router's MAC and gets the reply: 2 packets. */
export function arpExchange(s: Scenario, client: Client): void {
  s.add(0, ethernetFrame(BROADCAST_MAC, client.v4.mac, ETHERTYPE_ARP, arpPacket(ARP_REQUEST, client.v4.mac, client.v4.ip, Buffer.alloc(6), router.v4.ip)));
  s.add(150, ethernetFrame(client.v4.mac, router.v4.mac, ETHERTYPE_ARP, arpPacket(ARP_REPLY, router.v4.mac, router.v4.ip, client.v4.mac, client.v4.ip)));
}

/** Neighbour solicitation for the router's global address, from the client's link-local address, and the advertisement: 2 packets. */
export function neighborDiscovery(s: Scenario, client: LanClient): void {
  const target = router.v6.ip;
  const group = solicitedNode(target);
  const groupEndpoint: Endpoint = { ip: group, mac: ipv6MulticastMac(group), ttl: 255 };
  const ns = neighborSolicitation(target, client.linkLocal.mac, client.linkLocal.ip, group);
  s.add(0, ipFrame(client.linkLocal, groupEndpoint, PROTO_ICMPV6, ns, { ipId: 0, hopLimit: 255 }));
  const na = neighborAdvertisement(target, router.linkLocal.mac, router.linkLocal.ip, client.linkLocal.ip);
  s.add(200, ipFrame(router.linkLocal, client.linkLocal, PROTO_ICMPV6, na, { ipId: 0, hopLimit: 255 }));
}

/** count echo requests and their replies, one second apart, ICMP or ICMPv6 by address family. */
export function ping(s: Scenario, rng: Prng, marker: string, from: Endpoint, to: Endpoint, count: number, vlan?: VlanTag): void {
  const id = rng.int(1, 0xffff);
  const v6 = from.ip.length === 16;
  for (let seq = 1; seq <= count; seq++) {
    const data = pingData(marker, rng);
    const request = v6 ? icmpv6Echo(true, id, seq, data, from.ip, to.ip) : icmpEcho(true, id, seq, data);
    const reply = v6 ? icmpv6Echo(false, id, seq, data, to.ip, from.ip) : icmpEcho(false, id, seq, data);
    const proto = v6 ? PROTO_ICMPV6 : PROTO_ICMP;
    s.add(seq === 1 ? 0 : 1_000_000, ipFrame(from, to, proto, request, { ipId: rng.u32(), dontFragment: true, vlan }));
    s.add(rng.int(300, 30000), ipFrame(to, from, proto, reply, { ipId: rng.u32(), vlan }));
  }
}
