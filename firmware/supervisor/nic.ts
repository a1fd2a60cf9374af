// The capture NIC made receive-only: up and promiscuous, but with no address, no ARP,
// no IPv6, and a netdev table that drops every frame at ingress and egress.
// Ingress runs after the packet taps, so libpcap still sees every frame; egress drops
// anything the kernel might still try to send before it reaches the wire.
// The order below matters: everything is locked before the link comes up, so not even
// an IPv6 router solicitation or a DAD probe leaves during the first milliseconds.
import type { CommandSys } from './commands';

export class NicLockError extends Error {}

// IFNAMSIZ is 16 including the NUL; the name also becomes a /proc/sys path and part of
// an nft table name, so only the characters Linux interface names normally use.
const validName = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** The nft table that seals one capture NIC. */
export function captureTableName(name: string): string {
  return `sealtap_capture_${name.replace(/[.-]/g, '_')}`;
}

/** The ruleset for one NIC, as a single nft command line (nft accepts ';' separated commands). */
export function captureRuleset(name: string): string {
  const t = captureTableName(name);
  // priority -500: before anything else anyone might ever add to the hook.
  return [
    `add table netdev ${t}`,
    `add chain netdev ${t} ingress { type filter hook ingress device "${name}" priority -500 ; policy drop ; }`,
    `add chain netdev ${t} egress { type filter hook egress device "${name}" priority -500 ; policy drop ; }`,
  ].join(' ; ');
}

export function lockCaptureNic(name: string, sys: CommandSys): void {
  if (!validName.test(name)) {
    throw new NicLockError(`capture interface ${JSON.stringify(name)} is not a valid interface name (letters, digits, _ . -, at most 15): check captureInterface in board.json or source.interface in run.json`);
  }
  const step = (what: string, f: () => void): void => {
    try {
      f();
    } catch (e) {
      throw new NicLockError(`cannot lock capture interface ${name} (${what}): ${(e as Error).message}; check that the NIC exists (ip link) and the image loaded its driver`);
    }
  };
  step('down', () => sys.run('ip', ['link', 'set', 'dev', name, 'down']));
  step('IPv6 off', () => sys.writeFile(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '1'));
  step('no address', () => sys.run('ip', ['address', 'flush', 'dev', name]));
  step('ARP off, multicast off, promiscuous', () => sys.run('ip', ['link', 'set', 'dev', name, 'arp', 'off', 'multicast', 'off', 'promisc', 'on']));
  step('drop every frame in and out', () => sys.run('nft', [captureRuleset(name)]));
  step('up', () => sys.run('ip', ['link', 'set', 'dev', name, 'up']));
}
