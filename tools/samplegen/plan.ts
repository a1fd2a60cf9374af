/**
 * Who talks to whom in the sample: clients on a LAN (10.1.0.0/24 and 2001:db8:c::/64)
 * and a customer prefix (192.0.2.0/24), servers in 198.51.100.0/24, 203.0.113.0/24 and
 * 2001:db8:5::/64, all remote hosts behind one router whose MAC they carry on the link.
 */
import { ipv4, ipv6, mac } from './addresses';
import { Endpoint } from './link';
import { Prng } from './prng';

export const ROUTER_MAC = mac('02:53:54:00:00:01');

function remote(ip: Buffer, ttl = 52): Endpoint {
  return { ip, mac: ROUTER_MAC, ttl };
}

/** EUI-64 link-local address (RFC 4291 appendix A) of a MAC. */
export function linkLocal(m: Buffer): Buffer {
  const a = ipv6('fe80::');
  a[8] = m[0] ^ 0x02;
  a[9] = m[1];
  a[10] = m[2];
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = m[3];
  a[14] = m[4];
  a[15] = m[5];
  return a;
}

export const router = {
  v4: { ip: ipv4('10.1.0.1'), mac: ROUTER_MAC, ttl: 64 } as Endpoint,
  v6: { ip: ipv6('2001:db8:c::1'), mac: ROUTER_MAC, ttl: 64 } as Endpoint,
  linkLocal: { ip: linkLocal(ROUTER_MAC), mac: ROUTER_MAC, ttl: 255 } as Endpoint,
};

export const servers = {
  web: [remote(ipv4('198.51.100.80')), remote(ipv4('198.51.100.81')), remote(ipv4('203.0.113.80'))],
  web6: [remote(ipv6('2001:db8:5::80')), remote(ipv6('2001:db8:5::81'))],
  tls: [remote(ipv4('203.0.113.10')), remote(ipv4('203.0.113.11')), remote(ipv4('198.51.100.43'))],
  tls6: [remote(ipv6('2001:db8:5::443'))],
  resolver: remote(ipv4('198.51.100.53'), 60),
  resolver6: remote(ipv6('2001:db8:5::53'), 60),
  closedPort: remote(ipv4('203.0.113.99'), 60),
  ping: [remote(ipv4('198.51.100.1'), 250), remote(ipv4('203.0.113.1'), 250)],
  ping6: [remote(ipv6('2001:db8:5::1'), 60)],
};

export interface Client {
  v4: Endpoint;
  /** Only LAN clients have IPv6. */
  v6: Endpoint | null;
  linkLocal: Endpoint | null;
  onLan: boolean;
}

/** Client k of the pool: even k on the LAN (with IPv6), odd k in the customer prefix. */
export function client(k: number): Client {
  const n = 10 + (k % 40);
  const onLan = k % 2 === 0;
  const m = mac(`02:53:54:${onLan ? '01' : '02'}:00:${n.toString(16).padStart(2, '0')}`);
  if (!onLan) return { v4: { ip: ipv4(`192.0.2.${n}`), mac: m, ttl: 64 }, v6: null, linkLocal: null, onLan };
  return {
    v4: { ip: ipv4(`10.1.0.${n}`), mac: m, ttl: 64 },
    v6: { ip: ipv6(`2001:db8:c::${n.toString(16)}`), mac: m, ttl: 64 },
    linkLocal: { ip: linkLocal(m), mac: m, ttl: 255 },
    onLan,
  };
}

export type LanClient = Client & { v6: Endpoint; linkLocal: Endpoint };

export function lanClient(rng: Prng): LanClient {
  return client(2 * rng.int(0, 19)) as LanClient;
}

export function anyClient(rng: Prng): Client {
  return client(rng.int(0, 39));
}

export function ephemeralPort(rng: Prng): number {
  return rng.int(32768, 60999);
}
