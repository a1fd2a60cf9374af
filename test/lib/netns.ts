/**
 * Live-capture test harness: a veth pair whose two ends sit in two fresh network
 * namespaces, fed with tcpreplay. Both namespaces are private to the test, so nothing
 * else on the host sends into them, and the peer end's rx counter measures exactly what
 * the capture end transmitted (it must stay 0: the box never transmits on the tap).
 *
 * Needs root, iproute2 and tcpreplay (scripts/setup.sh base). Namespaces are named
 * st-<pid>-<n>-cap / -peer; ones left by a dead process are removed before each pair
 * is made, those of live processes (a parallel test run) are left alone.
 */
import { until } from './until';
import { ChildProcess, execFile, spawn } from 'child_process';

export const NAMESPACE_PREFIX = 'st-';
const CAPTURE_IF = 'stcap0';
const PEER_IF = 'stpeer0';

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface LinkCounters {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  rxDropped: number;
  txDropped: number;
}

export interface ReplayOptions {
  /** Packets per second; default is --topspeed. */
  pps?: number;
  /** Megabits per second; default is --topspeed. */
  mbps?: number;
  /** Send the file this many times. */
  loop?: number;
}

export interface ReplayResult {
  sent: number;
  bytes: number;
  failed: number;
  seconds: number;
  output: string;
}

export interface VethPair {
  captureNs: string;
  captureIf: string;
  peerNs: string;
  peerIf: string;
  /** Runs argv inside ns (ip netns exec) and resolves with its exit; rejects only if it cannot start or times out. */
  exec(ns: string, argv: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running process inside ns; it is killed at cleanup if still running. */
  spawn(ns: string, argv: string[]): ChildProcess;
  counters(ns: string, ifname: string): Promise<LinkCounters>;
  /** tcpreplay of file out of the peer end, so the capture end receives it. */
  replay(file: string, opts?: ReplayOptions): Promise<ReplayResult>;
  /** Resolves once a packet socket (libpcap, tcpdump, sealtap) is bound to ifname in ns. */
  waitForCapture(ns: string, ifname: string, timeoutMs?: number): Promise<void>;
}

function run(argv: string[], timeoutMs = 60_000): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { killed?: boolean; signal?: NodeJS.Signals; code?: number | string }) | null;
      if (e && typeof e.code === 'string') return reject(new Error(`${argv[0]} could not start (${e.code}): install it with scripts/setup.sh`));
      if (e && e.killed) return reject(new Error(`${argv.join(' ')} did not finish within ${timeoutMs} ms`));
      resolve({ code: e ? ((e.code as number | undefined) ?? null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

async function must(argv: string[]): Promise<string> {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.trim()} — network namespace tests need root and iproute2`);
  return r.stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces named by this harness whose creating process has exited. Returns their names. */
export async function removeStaleNamespaces(prefix = NAMESPACE_PREFIX): Promise<string[]> {
  const list = await must(['ip', 'netns', 'list']);
  const removed: string[] = [];
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-\\d+-(cap|peer)$`);
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    const m = pattern.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    await run(['ip', 'netns', 'del', name]);
    removed.push(name);
  }
  return removed;
}

let pairs = 0;

export async function withVethPair<T>(fn: (pair: VethPair) => Promise<T>, opts: { mtu?: number } = {}): Promise<T> {
  if (process.getuid && process.getuid() !== 0) throw new Error('live capture tests need root: run the tests as root (network namespaces, veth, tcpreplay)');
  await removeStaleNamespaces();
  const base = `${NAMESPACE_PREFIX}${process.pid}-${pairs++}`;
  const captureNs = `${base}-cap`;
  const peerNs = `${base}-peer`;
  const children: ChildProcess[] = [];
  const made: string[] = [];
  try {
    for (const ns of [captureNs, peerNs]) {
      await must(['ip', 'netns', 'add', ns]);
      made.push(ns);
      // Before the link exists, so it is born without IPv6: no DAD, router or MLD packets from the kernel.
      await must(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    await must(['ip', '-n', captureNs, 'link', 'add', 'name', CAPTURE_IF, 'mtu', String(opts.mtu ?? 1500), 'type', 'veth', 'peer', 'name', PEER_IF, 'netns', peerNs]);
    for (const [ns, ifname] of [[captureNs, CAPTURE_IF], [peerNs, PEER_IF]]) {
      await must(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
      await must(['ip', '-n', ns, 'link', 'set', ifname, 'arp', 'off', 'multicast', 'off', 'up']);
    }
    const pair: VethPair = {
      captureNs,
      captureIf: CAPTURE_IF,
      peerNs,
      peerIf: PEER_IF,
      exec: (ns, argv, o) => run(['ip', 'netns', 'exec', ns, ...argv], o?.timeoutMs),
      spawn(ns, argv) {
        const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        return child;
      },
      counters: (ns, ifname) => linkCounters(ns, ifname),
      replay: (file, o) => replay(peerNs, PEER_IF, file, o),
      waitForCapture: (ns, ifname, t) => waitForPacketSocket(ns, ifname, t),
    };
    return await fn(pair);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of made) {
      // Anything the test started inside the namespace, by pid; a namespace with processes in it outlives `ip netns del`.
      const pids = (await run(['ip', 'netns', 'pids', ns])).stdout.split('\n').filter((p) => /^\d+$/.test(p));
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await run(['ip', 'netns', 'del', ns]);
    }
  }
}

export async function linkCounters(ns: string, ifname: string): Promise<LinkCounters> {
  const out = await must(['ip', '-n', ns, '-s', '-j', 'link', 'show', 'dev', ifname]);
  const s = (JSON.parse(out) as Array<{ stats64: { rx: Record<string, number>; tx: Record<string, number> } }>)[0].stats64;
  return { rxPackets: s.rx.packets, txPackets: s.tx.packets, rxBytes: s.rx.bytes, txBytes: s.tx.bytes, rxDropped: s.rx.dropped, txDropped: s.tx.dropped };
}

export function parseTcpreplayOutput(output: string): ReplayResult {
  const actual = /Actual:\s+(\d+)\s+packets\s+\((\d+)\s+bytes\)\s+sent in\s+([\d.]+)\s+seconds/.exec(output);
  const failed = /Failed packets:\s+(\d+)/.exec(output);
  if (!actual) throw new Error(`tcpreplay printed no "Actual:" line; its output was:\n${output}`);
  return { sent: Number(actual[1]), bytes: Number(actual[2]), seconds: Number(actual[3]), failed: failed ? Number(failed[1]) : 0, output };
}

async function replay(ns: string, ifname: string, file: string, o: ReplayOptions = {}): Promise<ReplayResult> {
  const rate = o.pps ? [`--pps=${o.pps}`] : o.mbps ? [`--mbps=${o.mbps}`] : ['--topspeed'];
  const loop = o.loop ? [`--loop=${o.loop}`] : [];
  const r = await run(['ip', 'netns', 'exec', ns, 'tcpreplay', '-i', ifname, ...rate, ...loop, file], 600_000);
  if (r.code !== 0) throw new Error(`tcpreplay -i ${ifname} ${file} failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
  return parseTcpreplayOutput(r.stdout + r.stderr);
}

/** /proc/net/packet lists packet sockets of the reader's namespace with the ifindex they are bound to. */
async function waitForPacketSocket(ns: string, ifname: string, timeoutMs = 10_000): Promise<void> {
  const index = (await must(['ip', 'netns', 'exec', ns, 'cat', `/sys/class/net/${ifname}/ifindex`])).trim();
  // Columns of /proc/net/packet: sk RefCnt Type Proto Iface R Rmem User Inode
  const bound = (table: string): boolean => table.split('\n').slice(1).some((l) => l.trim().split(/\s+/)[4] === index);
  await until(`no capture opened ${ifname} in ${ns}`, async () => bound(await must(['ip', 'netns', 'exec', ns, 'cat', '/proc/net/packet'])), timeoutMs, 50);
}
