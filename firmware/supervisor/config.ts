// run.json: what one run of the box does. Validated before any key is made or any
// packet is read, so a bad config costs nothing but a clear one-line error.
// Unknown keys are refused everywhere: a typo must never silently change a run.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseStreams, StreamError, Streams } from '../analysis/streams/schema';
import { batchBinding } from '../capture/batch-binding';

const LINKTYPE_ETHERNET = 1;

export type Output = 'flows' | 'packets' | 'dns';
export const knownOutputs: readonly Output[] = ['flows', 'packets', 'dns'];

export type Source =
  | { kind: 'pcap'; path: string; speed: 'max' | 'original' }
  | { kind: 'interface'; name: string; filter: string; snaplen: number; bufferBytes: number; threads: number };

export interface RunConfig {
  /** Directory the config came from; relative paths in it are resolved against it. */
  baseDir: string;
  source: Source;
  spool: { dir: string; bytes: number; segmentBytes: number; device: string | null; onFull: 'drop' | 'wait' };
  channel: {
    path: string; baud: number; outboxBytes: number; drainSeconds: number; bootEverySeconds: number;
    /** The researcher's X25519 public key (64 hex digits) results are encrypted to; null = clear. */
    recipient: string | null;
    /** Reed-Solomon repair frames: {k, m}, false for none, null for the default (on for a tty, off for a file). */
    fec: { k: number; m: number } | false | null;
  };
  stop: { seconds: number | null; packets: number | null; endOfSource: boolean };
  outputs: Output[];
  /** Path of the policy file, or "default" for the built-in policy. */
  policy: string;
  analysis: {
    heartbeatSeconds: number; maxRestarts: number; module: string | null;
    /** What the module may emit (docs/sdk.md); empty without a module. */
    streams: Streams;
    /** Memory bound of the module's sandboxed process. */
    memoryBytes: number;
    /** Analysis processes, each analysing the flows of its shard (a keyed hash of the 5-tuple). */
    shards: number;
  };
  flows: { maxFlows: number; idleSeconds: number; activeSeconds: number };
  status: { everySeconds: number };
}

export class ConfigError extends Error {}

/** analysis.shards at most: each shard is a process that reads every segment. */
export const MAX_SHARDS = 16;

/**
 * analysis.shards "auto" (the default): a shard for each core beyond the two the
 * supervisor's main thread and the capture thread keep busy at line rate; 1 on a box
 * of one or two cores.
 */
export function autoShards(cores: number): number {
  return Math.max(1, Math.min(MAX_SHARDS, cores - 2));
}

const MiB = 1024 * 1024;

type Obj = Record<string, unknown>;

function fail(where: string, what: string): never {
  throw new ConfigError(`${where}: ${what}`);
}

function object(v: unknown, where: string, allowed: string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be a JSON object');
  for (const k of Object.keys(v as Obj)) {
    if (!allowed.includes(k)) fail(`${where}.${k}`, `unknown key; allowed here: ${allowed.join(', ')}`);
  }
  return v as Obj;
}

function str(o: Obj, key: string, where: string, def?: string): string {
  const v = o[key];
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'string' || v.length === 0) fail(`${where}.${key}`, 'must be a non-empty string');
  return v;
}

function num(o: Obj, key: string, where: string, def: number | null, min: number, max = Number.MAX_SAFE_INTEGER): number | null {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}.${key}`, `must be a number, got ${JSON.stringify(v)}`);
  if (v < min || v > max) fail(`${where}.${key}`, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

function int(o: Obj, key: string, where: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = num(o, key, where, def, min, max) as number;
  if (!Number.isInteger(v)) fail(`${where}.${key}`, `must be a whole number, got ${v}`);
  return v;
}

function bool(o: Obj, key: string, where: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') fail(`${where}.${key}`, 'must be true or false');
  return v;
}

/**
 * A capture filter is compiled by libpcap before the box starts, for Ethernet (what a
 * mirror port carries), so a typo is refused here rather than when the interface opens.
 */
function checkFilterSyntax(filter: string, snaplen: number): void {
  try {
    batchBinding.checkFilter(LINKTYPE_ETHERNET, snaplen, filter);
  } catch (e) {
    fail('source.filter', `libpcap cannot compile ${JSON.stringify(filter)}: ${(e as Error).message}`);
  }
}

function parseSource(v: unknown, baseDir: string): Source {
  const o = object(v, 'source', ['pcap', 'speed', 'interface', 'filter', 'snaplen', 'bufferBytes', 'threads']);
  if (o.pcap !== undefined && o.interface !== undefined) fail('source', 'give either "pcap" or "interface", not both');
  if (o.pcap !== undefined) {
    for (const k of ['filter', 'snaplen', 'bufferBytes', 'threads']) if (o[k] !== undefined) fail(`source.${k}`, 'only applies to an "interface" source');
    const speed = o.speed ?? 'max';
    if (speed !== 'max' && speed !== 'original') fail('source.speed', `must be "max" or "original", got ${JSON.stringify(speed)}`);
    return { kind: 'pcap', path: path.resolve(baseDir, str(o, 'pcap', 'source')), speed };
  }
  if (o.interface !== undefined) {
    if (o.speed !== undefined) fail('source.speed', 'only applies to a "pcap" source');
    const snaplen = int(o, 'snaplen', 'source', 65535, 64, 262144);
    const filter = o.filter === undefined ? '' : str(o, 'filter', 'source');
    if (filter !== '') checkFilterSyntax(filter, snaplen);
    return {
      kind: 'interface',
      name: str(o, 'interface', 'source'),
      filter,
      snaplen,
      bufferBytes: int(o, 'bufferBytes', 'source', 64 * MiB, MiB, 2048 * MiB),
      threads: int(o, 'threads', 'source', 1, 1, 16),
    };
  }
  return fail('source', 'needs "pcap": FILE or "interface": NAME');
}

/**
 * channel.recipient: the researcher's X25519 public key, inline as 64 hex digits (the
 * content of PREFIX.pub from `sealtap receive keygen`). Inline rather than a path so the
 * signed bundle's run.json alone says who can read the results. The value is never
 * echoed in the error: a secret key pasted by mistake must not reach the log.
 */
function recipientKey(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v.trim()) || /^0+$/.test(v.trim())) {
    fail('channel.recipient', 'must be the researcher\'s X25519 public key as 64 hex digits: the content of PREFIX.pub from `sealtap receive keygen --out PREFIX`');
  }
  return v.trim().toLowerCase();
}

/** channel.fec: {"k", "m"} (m repair frames after every k frames), or false for none. */
function fecParams(v: unknown): { k: number; m: number } | false | null {
  if (v === undefined || v === null) return null;
  if (v === false) return false;
  if (v === true) fail('channel.fec', 'must be {"k": N, "m": N} or false; leave it out for the default (k 16, m 2 on a tty, none on a file)');
  const o = object(v, 'channel.fec', ['k', 'm']);
  if (o.k === undefined || o.m === undefined) fail('channel.fec', 'needs both "k" (data frames per group) and "m" (repair frames per group)');
  return { k: int(o, 'k', 'channel.fec', 16, 1, 128), m: int(o, 'm', 'channel.fec', 2, 1, 16) };
}

/** Validates a parsed run.json. Throws ConfigError naming the field and the fix. */
export function validateConfig(raw: unknown, baseDir: string): RunConfig {
  const top = object(raw, 'run.json', ['source', 'spool', 'channel', 'stop', 'outputs', 'policy', 'analysis', 'flows', 'status']);
  if (top.source === undefined) fail('run.json.source', 'is required: {"pcap": FILE} or {"interface": NAME}');
  if (top.spool === undefined) fail('run.json.spool', 'is required: {"dir": DIR, "bytes": N}');
  if (top.channel === undefined) fail('run.json.channel', 'is required: {"path": TTY-or-FILE}');
  const source = parseSource(top.source, baseDir);

  const sp = object(top.spool, 'spool', ['dir', 'bytes', 'segmentBytes', 'device', 'onFull']);
  const segmentBytes = int(sp, 'segmentBytes', 'spool', 4 * MiB, 64 * 1024, 64 * MiB);
  const spoolBytes = int(sp, 'bytes', 'spool', 256 * MiB, 2 * segmentBytes);
  const onFullDefault = source.kind === 'pcap' ? 'wait' : 'drop';
  const onFull = sp.onFull ?? onFullDefault;
  if (onFull !== 'drop' && onFull !== 'wait') fail('spool.onFull', 'must be "drop" or "wait"');
  if (onFull === 'wait' && source.kind === 'interface') fail('spool.onFull', '"wait" is only possible for a pcap source: a live link cannot be paused');

  const ch = object(top.channel, 'channel', ['path', 'baud', 'outboxBytes', 'drainSeconds', 'bootEverySeconds', 'recipient', 'fec']);
  const st = object(top.stop ?? {}, 'stop', ['seconds', 'packets', 'endOfSource']);
  const stop = {
    seconds: num(st, 'seconds', 'stop', null, 0.1),
    packets: num(st, 'packets', 'stop', null, 1),
    endOfSource: bool(st, 'endOfSource', 'stop', source.kind === 'pcap'),
  };
  if (stop.packets !== null && !Number.isInteger(stop.packets)) fail('stop.packets', 'must be a whole number');
  if (source.kind === 'interface' && source.threads > 1 && stop.packets !== null) {
    fail('stop.packets', `counts packets in one capture thread: use stop.seconds with source.threads ${source.threads}, or source.threads 1`);
  }
  if (source.kind === 'interface' && stop.endOfSource) fail('stop.endOfSource', 'a live interface has no end: use stop.seconds or stop.packets');
  if (source.kind === 'interface' && stop.seconds === null && stop.packets === null) {
    // A live run with no stop condition runs until SIGTERM: allowed, that is how the box runs.
  }

  const outputs = top.outputs ?? ['flows'];
  if (!Array.isArray(outputs)) fail('outputs', `must be a list drawn from ${knownOutputs.join(', ')}`);
  for (const o of outputs) if (!knownOutputs.includes(o as Output)) fail('outputs', `unknown output ${JSON.stringify(o)}; known: ${knownOutputs.join(', ')}`);
  if (new Set(outputs).size !== outputs.length) fail('outputs', 'lists an output twice');

  let policy = 'default';
  if (top.policy !== undefined) {
    if (typeof top.policy !== 'string' || top.policy.length === 0) fail('policy', 'must be a file path or "default"');
    policy = top.policy === 'default' ? 'default' : path.resolve(baseDir, top.policy);
  }

  const an = object(top.analysis ?? {}, 'analysis', ['heartbeatSeconds', 'maxRestarts', 'module', 'streams', 'memoryBytes', 'shards']);
  if (an.streams !== undefined && an.module === undefined) fail('analysis.streams', 'declares what a researcher\'s module emits: set analysis.module too, or remove it');
  let streams: Streams;
  try {
    streams = parseStreams(an.streams);
  } catch (e) {
    if (e instanceof StreamError) throw new ConfigError(e.message);
    throw e;
  }
  if (an.shards !== undefined && an.shards !== 'auto' && typeof an.shards !== 'number') fail('analysis.shards', `must be a whole number from 1 to ${MAX_SHARDS}, or "auto"`);
  const fl = object(top.flows ?? {}, 'flows', ['maxFlows', 'idleSeconds', 'activeSeconds']);
  const stt = object(top.status ?? {}, 'status', ['everySeconds']);
  return {
    baseDir,
    source,
    spool: { dir: path.resolve(baseDir, str(sp, 'dir', 'spool')), bytes: spoolBytes, segmentBytes, device: sp.device === undefined ? null : str(sp, 'device', 'spool'), onFull },
    channel: {
      path: path.resolve(baseDir, str(ch, 'path', 'channel')),
      baud: int(ch, 'baud', 'channel', 115200, 300, 12_000_000),
      outboxBytes: int(ch, 'outboxBytes', 'channel', 64 * MiB, 4096),
      drainSeconds: num(ch, 'drainSeconds', 'channel', 60, 0) as number,
      bootEverySeconds: num(ch, 'bootEverySeconds', 'channel', 5, 0.1) as number,
      recipient: recipientKey(ch.recipient),
      fec: fecParams(ch.fec),
    },
    stop,
    outputs: outputs as Output[],
    policy,
    analysis: {
      heartbeatSeconds: num(an, 'heartbeatSeconds', 'analysis', 5, 0.2) as number,
      maxRestarts: int(an, 'maxRestarts', 'analysis', 50, 0),
      module: an.module === undefined ? null : path.resolve(baseDir, str(an, 'module', 'analysis')),
      streams,
      memoryBytes: int(an, 'memoryBytes', 'analysis', 512 * MiB, 128 * MiB, 8192 * MiB),
      shards: an.shards === undefined || an.shards === 'auto' ? autoShards(os.availableParallelism()) : int(an, 'shards', 'analysis', 1, 1, MAX_SHARDS),
    },
    flows: {
      maxFlows: int(fl, 'maxFlows', 'flows', 65536, 16),
      idleSeconds: num(fl, 'idleSeconds', 'flows', 60, 0.001) as number,
      activeSeconds: num(fl, 'activeSeconds', 'flows', 300, 0.001) as number,
    },
    status: { everySeconds: num(stt, 'everySeconds', 'status', 1, 0.1) as number },
  };
}

/** Reads and validates run.json. Throws ConfigError with a one-line message. */
export function loadConfig(file: string): RunConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? e}; pass --config PATH to an existing run.json`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return validateConfig(raw, path.dirname(path.resolve(file)));
}
