// Workstation side: the module of a bundle, tried in its real sandbox before the bundle
// is signed, verified as good or flashed. The syntax check (content.ts) cannot see a
// module that requires what the sandbox refuses, throws when it starts or on a packet,
// or breaks the protocol with the trusted process; the box would find out at boot and
// run nothing. Here `sealtap run` runs the bundle's analysis (its run.json, policy and
// module, merged as the box merges them) on a small generated trace, and any trouble
// the box's operator log reports about the analysis refuses the bundle, with the box's
// own line.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BundleError } from './format';
import { BundleContent, ContentError } from './content';

/** Packets of the generated trace: TCP, UDP, DNS, ICMP, IPv6, ARP, VLAN (tools/samplegen). */
export const TRIAL_PACKETS = 300;
const TRIAL_TIMEOUT_MS = 60_000;
const SAMPLEGEN = path.join(__dirname, '..', '..', 'tools', 'samplegen', 'main.js');
const CLI = path.join(__dirname, '..', 'cli', 'main.js');

/** True when run.json names a module: only then is there anything to try. */
export function hasModule(run: Buffer): boolean {
  const v = JSON.parse(run.toString('utf8')) as { analysis?: { module?: unknown } };
  return v.analysis?.module !== undefined;
}

/**
 * Why the trial run shows a failing module, or null: the run's last line counts
 * restarts, quarantined packets and packets analysed, and the first warning about the
 * analysis says what happened, in the box's words. Records refused by the trusted exit
 * are not a failure: limits are there to refuse.
 */
export function analysisTrouble(log: string): string | null {
  const end = /run finished \(.*\): captured ([\d,]+), .* analysed ([\d,]+), quarantined ([\d,]+), .* analysis restarts (\d+)/.exec(log);
  if (!end) return 'the trial run did not finish';
  const [captured, analysed, quarantined, restarts] = end.slice(1).map((v) => Number(v.replace(/,/g, '')));
  if (restarts === 0 && quarantined === 0 && analysed === captured) return null;
  const first = log.split('\n')
    .map((l) => /^\[ *[\d.]+\] (?:WARN|ERROR) +(.*)$/.exec(l)?.[1])
    .find((l) => l !== undefined && !l.startsWith('the analysis module\'s records refused'));
  // The trial allows no restart: the box's advice on restarts does not apply here.
  return (first ?? `analysed ${analysed} of ${captured} packets, ${quarantined} quarantined, ${restarts} restarts`).replace(/; (it died|restart) .*$/, '');
}

/**
 * Runs the bundle's analysis on a generated trace in the sandbox. Throws a ContentError
 * with the box's message when the module fails there, and a BundleError when the trial
 * itself cannot run (no sandbox on this host, no samplegen).
 */
export function tryModule(content: BundleContent): void {
  if (!hasModule(content.run)) return;
  if (!fs.existsSync(SAMPLEGEN)) throw new BundleError(`cannot try module.js in its sandbox: ${SAMPLEGEN} is missing (the trial needs a sealtap checkout built with make build); pass --no-trial to skip it`);
  // The jail's uid must pass through the folder and read the module, as on the box.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealtap-trial-'));
  try {
    fs.chmodSync(dir, 0o711);
    const moduleDir = path.join(dir, 'module');
    fs.mkdirSync(moduleDir);
    fs.chmodSync(moduleDir, 0o755);
    fs.writeFileSync(path.join(moduleDir, 'module.js'), content.module);
    fs.chmodSync(path.join(moduleDir, 'module.js'), 0o644);
    fs.writeFileSync(path.join(dir, 'policy.json'), content.policy);
    const trace = path.join(dir, 'trace.pcap');
    const gen = spawnSync(process.execPath, [SAMPLEGEN, '--out', trace, '--packets', String(TRIAL_PACKETS)], { encoding: 'utf8' });
    if (gen.status !== 0) throw new BundleError(`cannot try module.js in its sandbox: the trial trace was not written (${gen.stderr.trim().split('\n')[0]})`);
    const run = JSON.parse(content.run.toString('utf8')) as Record<string, unknown>;
    const analysis = run.analysis as Record<string, unknown>;
    const config = {
      ...run,
      source: { pcap: trace },
      spool: { dir: path.join(dir, 'spool'), bytes: 16 * 1048576, segmentBytes: 1048576 },
      channel: { path: path.join(dir, 'line.raw') },
      stop: { endOfSource: true },
      policy: path.join(dir, 'policy.json'),
      // Every failure shows at once: no restart hides a module that dies on a packet.
      analysis: { ...analysis, module: path.join(moduleDir, 'module.js'), maxRestarts: 0 },
    };
    fs.mkdirSync(config.spool.dir);
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(config));
    const r = spawnSync(process.execPath, [CLI, 'run', '--config', path.join(dir, 'run.json')], { encoding: 'utf8', timeout: TRIAL_TIMEOUT_MS, killSignal: 'SIGKILL' });
    const log = `${r.stdout}\n${r.stderr}`;
    if (r.error || r.status === null) {
      throw new ContentError(`module.js did not finish a ${TRIAL_PACKETS}-packet trial trace in its sandbox within ${TRIAL_TIMEOUT_MS / 1000} s`);
    }
    if (r.status !== 0) {
      const fatal = /ERROR +(.*)$/m.exec(log)?.[1] ?? log.trim().split('\n').pop();
      // The run refused before any module code ran: the host cannot build the sandbox.
      throw new BundleError(`cannot try module.js in its sandbox on this host: ${fatal}; run where \`sealtap run\` can (root, bubblewrap), or pass --no-trial to skip the trial`);
    }
    const trouble = analysisTrouble(log);
    if (trouble !== null) throw new ContentError(`module.js fails in its sandbox on a ${TRIAL_PACKETS}-packet generated trace: ${trouble}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
