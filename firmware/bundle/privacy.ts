// The privacy statement of an analysis firmware: what can leave the box, from the
// bundle alone. Every output and stream, every field with its type, unit and the
// transform the trusted exit applies under this policy, the rate limits and k
// thresholds, and the residual capacity bound of each stream (schema.ts).
//
// It is plain data with one canonical byte form; its BLAKE2b-256 is written into the
// manifest at build time, so the approving roles sign it with the manifest, and the
// box, which derives it again from the same policy and run.json, refuses a bundle
// whose statement is not the one that was signed. The supervisor announces the hash
// in BOOT; the receiver writes it to summary.json and each stream's part to schema.json.
import type { Action, FieldActions, FieldName, Policy } from '../anonymize/policy';
import type { RunConfig } from '../supervisor/config';
import { FieldDecl, fieldCapacityBits, formatBits, recordCapacityBits, StreamDecl } from '../analysis/streams/schema';
import { canonicalJson } from './canonical-json';
import { blake2b256Hex } from './hash';

export const STATEMENT_FORMAT = 'sealtap privacy statement v1';

/** A declared field as the receiver and the reviewer see it: declaration plus what the exit does. */
export type FieldStatement = FieldDecl & { unit: string; transform: string; bits: number };

export interface StreamStatement {
  fields: Record<string, FieldStatement>;
  maxPerSecond: number;
  minCount: StreamDecl['minCount'];
  /** Residual capacity bound: at most this many bits a record the module can choose… */
  bitsPerRecord: number;
  /** …and so at most this many bits per second of packet time. */
  bitsPerSecond: number;
}

export interface PrivacyStatement {
  format: string;
  /** The researcher's module (null: the built-ins alone). */
  module: { bytes: number; blake2b: string } | null;
  /** Built-in outputs the run enables; each carries the header fields below as the policy says. */
  outputs: string[];
  policy: {
    description: string | null;
    /** Every header field and its action, as text ("cryptopan", "truncate /24", ...). */
    fields: Record<string, string>;
    disclose: string[];
    dnsSuffixLabels: number;
  };
  streams: Record<string, StreamStatement>;
}

/** An action as one short text: "cryptopan", "truncate /24", "bucket 0,32,64", "coarsen 1000000us shifted". */
export function actionText(a: Action): string {
  switch (a.action) {
    case 'bucket': return `bucket ${a.edges.join(',')}`;
    case 'truncate': return `truncate /${a.prefixLen}`;
    case 'coarsen': return `coarsen ${a.granularityUs}us${a.shift ? ' shifted' : ''}`;
    default: return a.action;
  }
}

function addressTransform(a: Action, family: string): string {
  if (a.action === 'truncate') return `${family}: Crypto-PAn (keyed, prefix-preserving), then cut to /${a.prefixLen}`;
  if (a.action === 'cryptopan') return `${family}: Crypto-PAn (keyed, prefix-preserving)`;
  return `${family}: zeroed`;
}

function timeTransform(fields: FieldActions, shifted: boolean): string {
  const t = fields.time;
  if (t.action !== 'coarsen') return 'kept to the microsecond';
  return `${shifted && t.shift ? 'moved back by the run\'s secret origin, then ' : ''}rounded down to ${t.granularityUs} us`;
}

/** What the trusted exit (streams/exit.ts) does to a value of this declared type. */
function fieldStatement(f: FieldDecl, policy: Policy): FieldStatement {
  const fields = policy.fields;
  const base = (unit: string, transform: string): FieldStatement => ({ ...f, unit, transform, bits: Math.ceil(fieldCapacityBits(f)) });
  switch (f.type) {
    case 'address': return base('address', `${addressTransform(fields['ip4.src'], 'IPv4')}; ${addressTransform(fields['ip6.src'], 'IPv6')}`);
    case 'mac': return base('MAC', fields['eth.src'].action === 'mac' ? 'keyed permutation keeping the multicast and local bits' : 'zeroed');
    case 'port': return base('port', 'as emitted, 0 to 65535');
    case 'protocol': return base('IP protocol number', 'as emitted, 0 to 255');
    case 'count': return base('count', f.round > 1 ? `rounded down to a multiple of ${f.round}, 0 to ${f.max}` : `as emitted, 0 to ${f.max}`);
    case 'time': return base('microseconds since 1970', timeTransform(fields, true));
    case 'duration': return base('microseconds', `${timeTransform(fields, false)}, 0 to ${f.max}`);
    case 'name': {
      const keep = f.suffixes.length && policy.dnsSuffixLabels > 0
        ? `; up to ${policy.dnsSuffixLabels} final labels stay readable when they are one of ${f.suffixes.join(', ')}`
        : '';
      return base('DNS name', `last ${f.maxLabels} labels, each keyed-hashed${keep}`);
    }
    case 'enum': return base('word', `one of ${f.values.join(', ')}`);
    case 'histogram': return base('counts', `${f.bins} counts, each 0 to ${f.max}, as emitted`);
    case 'flags': return base('bit set', `${f.bits} bits, as emitted`);
  }
}

export function streamStatement(decl: StreamDecl, policy: Policy): StreamStatement {
  const fields: Record<string, FieldStatement> = {};
  for (const [name, f] of Object.entries(decl.fields)) fields[name] = fieldStatement(f, policy);
  const bits = recordCapacityBits(decl);
  return {
    fields, maxPerSecond: decl.maxPerSecond, minCount: decl.minCount,
    bitsPerRecord: Math.ceil(bits), bitsPerSecond: Math.ceil(bits * decl.maxPerSecond),
  };
}

/** The statement for a run of this policy and configuration with this module (null: none). */
export function privacyStatement(policy: Policy, config: Pick<RunConfig, 'outputs' | 'analysis'>, module: Buffer | null): PrivacyStatement {
  const fields: Record<string, string> = {};
  for (const name of Object.keys(policy.fields).sort()) fields[name] = actionText(policy.fields[name as FieldName]);
  const streams: Record<string, StreamStatement> = {};
  for (const [name, decl] of Object.entries(config.analysis.streams)) streams[name] = streamStatement(decl, policy);
  return {
    format: STATEMENT_FORMAT,
    module: module && config.analysis.module !== null ? { bytes: module.length, blake2b: blake2b256Hex(module) } : null,
    outputs: config.outputs.slice(),
    policy: { description: policy.description ?? null, fields, disclose: policy.disclose.slice(), dnsSuffixLabels: policy.dnsSuffixLabels },
    streams,
  };
}

export function statementBytes(s: PrivacyStatement): Buffer {
  return Buffer.from(canonicalJson(s), 'utf8');
}

/** BLAKE2b-256 of the canonical statement, hex: what the manifest, BOOT and summary.json carry. */
export function statementHash(s: PrivacyStatement): string {
  return blake2b256Hex(statementBytes(s));
}

/** The statement for a person: what a reviewer reads before signing. */
export function statementText(s: PrivacyStatement, hash = statementHash(s)): string {
  const out: string[] = [];
  out.push(`privacy statement ${hash}`);
  out.push(s.module ? `module: ${s.module.bytes} bytes, BLAKE2b-256 ${s.module.blake2b}` : 'module: none (built-in analysis only)');
  out.push(`built-in outputs: ${s.outputs.length ? s.outputs.join(', ') : 'none'}${s.policy.description ? ` (policy: ${s.policy.description})` : ''}`);
  if (s.module && s.outputs.includes('packets')) {
    out.push('  trace.pcap: the packets the module picks (emit.packet), each rewritten by the policy below;');
    out.push('  which packets and how many of their headers is the module\'s choice, and can carry about a bit a packet');
  }
  if (s.outputs.length) {
    out.push('header fields in built-in outputs, by the policy:');
    for (const [f, a] of Object.entries(s.policy.fields)) out.push(`  ${f.padEnd(22)} ${a}`);
    out.push(`  DNS names keep ${s.policy.dnsSuffixLabels} readable final label(s); disclosed prefixes: ${s.policy.disclose.length ? s.policy.disclose.join(', ') : 'none'}`);
  } else {
    out.push('header fields: no built-in output carries them');
  }
  const names = Object.keys(s.streams);
  out.push(names.length ? 'streams declared by the module:' : 'streams declared by the module: none');
  for (const name of names) {
    const st = s.streams[name];
    const k = st.minCount ? `; records with ${st.minCount.field} below ${st.minCount.k} suppressed` : '';
    out.push(`  ${name}: at most ${st.maxPerSecond} records a second of packet time${k}`);
    out.push(`    residual capacity: at most ${st.bitsPerRecord} bits a record, ${formatBits(st.bitsPerSecond)}/s`);
    for (const [f, d] of Object.entries(st.fields)) out.push(`    ${f}: ${d.type} (${d.unit}; ${d.bits} bits): ${d.transform}`);
  }
  return out.join('\n') + '\n';
}
