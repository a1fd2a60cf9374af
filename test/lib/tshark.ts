/**
 * tshark as an independent judge of pcap files in tests. Checksum validation is off by
 * default in tshark for IPv4, TCP and UDP, and a bad ICMP/ICMPv6 checksum is only a
 * warning, so BAD_PACKETS names each check explicitly; without them, a broken checksum
 * passes silently (test/tools/samplegen-tshark.test.ts proves each one can fail).
 */
import { execFileSync } from 'child_process';

export const CHECKSUM_PREFS = ['-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE'];

export const BAD_PACKETS =
  '_ws.malformed || _ws.expert.severity >= error' +
  ' || ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0' +
  ' || icmp.checksum.status == 0 || icmpv6.checksum.status == 0';

/** Runs tshark -r file with args; returns stdout lines. Throws with tshark's stderr on failure. */
export function tshark(file: string, args: string[]): string[] {
  let out: string;
  try {
    out = execFileSync('tshark', ['-n', '-r', file, ...args], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`tshark -r ${file} ${args.join(' ')} failed (is tshark installed? scripts/setup.sh test): ${err.stderr ?? err.message}`);
  }
  return out.length === 0 ? [] : out.replace(/\n$/, '').split('\n');
}

/** Summary lines of every malformed packet, expert error or bad checksum tshark finds. */
export function badPackets(file: string): string[] {
  return tshark(file, [...CHECKSUM_PREFS, '-Y', BAD_PACKETS]);
}

/** Per-frame field values, tab-separated, one array per frame; a field with several occurrences is "a,b". */
export function tsharkFields(file: string, fields: string[]): string[][] {
  const args = ['-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of fields) args.push('-e', f);
  return tshark(file, args).map((l) => l.split('\t'));
}
