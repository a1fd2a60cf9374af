// Runs the supervisor in-process on a development board whose LEDs and spool live in a
// temporary directory, with the results line recorded to a file, then decodes the line
// with the real `sealtap receive`. What a test sees is what an operator and a
// researcher would see.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import { spawnSync } from 'node:child_process';
import { validateConfig } from '../../firmware/supervisor/config';
import { supervise, SuperviseOptions } from '../../firmware/supervisor/supervise';
import { realSys, Sys } from '../../firmware/supervisor/sys';
import type { Board } from '../../firmware/supervisor/board';
import type { Keyring } from '../../firmware/keys/keyring';
import { within } from './until';
import { RecordType, recordTypeName } from '../../firmware/channel/records';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const sealtap = path.join(repoRoot, 'bin', 'sealtap');

export interface BoxRun {
  code: number;
  dir: string;
  spoolDir: string;
  linePath: string;
  console: string[];
  /** LED sysfs writes in order, as "status/trigger=heartbeat". */
  ledWrites: string[];
  signals: EventEmitter;
}

export interface BoxOptions {
  /** run.json without spool/channel (filled in under the temp dir unless given). */
  config: Record<string, unknown>;
  /**
   * A keyring whose bytes the test knows (so it can scan every output for them), a
   * sandbox that cannot be built, a look at each published segment.
   */
  hooks?: SuperviseOptions['testHooks'] & { keyring?: () => Keyring; jailProblem?: () => string | null };
  /** Called once the run has started, e.g. to send signals when something happened. */
  during?: (signals: EventEmitter, box: BoxWatch) => void;
  /** The development switch: the module runs without its sandbox. */
  unsandboxed?: boolean;
}

/** What a test can wait for while the box runs. */
export interface BoxWatch {
  /** The recorded results line (growing while the box runs). */
  linePath: string;
  /** Resolves with the first console line matching `re`, past or future; fails after withinMs. */
  line(re: RegExp, withinMs?: number): Promise<string>;
  /** Resolves once the box has handed `n` records of `type` to its line; fails after withinMs. */
  sent(type: RecordType, n: number, withinMs?: number): Promise<void>;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `st-${prefix}-`));
}

export async function runBox(o: BoxOptions): Promise<BoxRun> {
  const dir = tempDir('box');
  const spoolDir = path.join(dir, 'spool');
  fs.mkdirSync(spoolDir);
  const linePath = path.join(dir, 'line.raw');
  // Spool and channel default to the temp dir; a test's own keys are laid over them.
  const over = (d: Record<string, unknown>, o2: unknown): Record<string, unknown> =>
    ({ ...d, ...Object.fromEntries(Object.entries((o2 ?? {}) as Record<string, unknown>).filter(([, v]) => v !== undefined)) });
  const raw = {
    ...o.config,
    spool: over({ dir: spoolDir, bytes: 16 * 1024 * 1024, segmentBytes: 1024 * 1024 }, o.config.spool),
    channel: over({ path: linePath, drainSeconds: 30 }, o.config.channel),
    // One analysis process unless a test asks for shards: "auto" would depend on the machine.
    analysis: over({ shards: 1 }, o.config.analysis),
  };
  const config = validateConfig(raw, dir);
  const board: Board = {
    name: 'dev',
    leds: { status: path.join(dir, 'leds', 'status'), fault: path.join(dir, 'leds', 'fault') },
    captureInterface: null, resultsTty: null, consoleTty: null, spoolDevice: null, bundleDevice: null, atExit: 'exit',
  };
  const lines: string[] = [];
  const ledWrites: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  const sent = new Map<number, number>();
  const sendWaiters: Array<() => void> = [];
  const watch: BoxWatch = {
    linePath,
    line: (re, withinMs = 60_000) => {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      let fire: (l: string) => void = () => {};
      const p = new Promise<string>((resolve) => { fire = resolve; });
      const waiter = (l: string): void => { if (re.test(l)) fire(l); };
      waiters.push(waiter);
      return within(p, `no console line ${re}`, withinMs).finally(() => waiters.splice(waiters.indexOf(waiter), 1));
    },
    sent: (type, n, withinMs = 60_000) => {
      let fire: () => void = () => {};
      const p = new Promise<void>((resolve) => { fire = resolve; });
      const waiter = (): void => { if ((sent.get(type) ?? 0) >= n) fire(); };
      sendWaiters.push(waiter);
      waiter();
      return within(p, `the box sent fewer than ${n} ${recordTypeName[type]} records`, withinMs).finally(() => sendWaiters.splice(sendWaiters.indexOf(waiter), 1));
    },
  };
  const sys: Sys = {
    ...realSys,
    generateKeyring: o.hooks?.keyring ?? realSys.generateKeyring,
    sandboxProblem: o.hooks?.jailProblem ?? realSys.sandboxProblem,
    writeFile: (f, d) => {
      realSys.writeFile(f, d);
      ledWrites.push(`${path.basename(path.dirname(f))}/${path.basename(f)}=${d}`);
    },
    // The real line, with a count of what the box hands it, for tests that wait for a record.
    openChannel: (opts) => {
      const ch = realSys.openChannel(opts);
      return {
        ...ch,
        send: (type, body) => {
          const ok = ch.send(type, body);
          sent.set(type, (sent.get(type) ?? 0) + 1);
          for (const w of sendWaiters.slice()) w();
          return ok;
        },
      };
    },
    console: (l) => {
      lines.push(l);
      for (const w of waiters.slice()) w(l);
    },
  };
  const signals = new EventEmitter();
  const running = supervise({ config, board, sys, firmware: { name: 'test', version: '0', hash: 'none' }, version: 'test', signals, testHooks: { published: o.hooks?.published }, unsandboxed: o.unsandboxed });
  o.during?.(signals, watch);
  const code = await running;
  return { code, dir, spoolDir, linePath, console: lines, ledWrites, signals };
}

export interface Received {
  summary: Record<string, any>;
  outDir: string;
  stdout: string;
}

/** Decodes a recorded line with the real receiver. */
export function receive(linePath: string, outDir = path.join(path.dirname(linePath), 'out')): Received {
  const r = spawnSync(sealtap, ['receive', linePath, '--out', outDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sealtap receive failed (${r.status}): ${r.stderr}`);
  return { summary: JSON.parse(fs.readFileSync(path.join(outDir, 'summary.json'), 'utf8')), outDir, stdout: r.stdout };
}

export function readLines(file: string): any[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

/** States the status LED went through, from the trigger writes. */
export function ledStates(writes: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i];
    if (!w.startsWith('status/trigger=')) continue;
    const trigger = w.slice('status/trigger='.length);
    let s = trigger;
    if (trigger === 'timer') s = writes[i + 1] === 'status/delay_on=1000' ? 'slow-blink' : 'fast-blink';
    if (trigger === 'none') s = writes[i + 1] === 'status/brightness=1' ? 'on' : 'off';
    if (out[out.length - 1] !== s) out.push(s);
  }
  return out;
}

/** Makes the sample trace with tools/samplegen; returns its path and ground truth. */
export function sampleTrace(dir: string, args: string[] = []): { file: string; expect: Record<string, any> } {
  const file = path.join(dir, 'sample.pcap');
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'tools', 'samplegen', 'main.js'), '--out', file, '--expect', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`samplegen failed: ${r.stderr}`);
  return { file, expect: JSON.parse(fs.readFileSync(file + '.expect.json', 'utf8')) };
}
