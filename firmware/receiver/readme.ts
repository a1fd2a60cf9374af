// README.txt of a results folder: what each file holds, for whoever opens the folder
// later (a colleague, a reviewer) without the box, the command line or the docs at hand.
// Everything in it comes from summary.json; text that came from the line is escaped.
import type { Summary } from './summary';
import { escapeLineText } from './escape-text';
import { LINE_FILE } from './outputs';
import { SCHEMA_FILE } from './stream-files';

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function readmeText(s: Summary, receivedAt: Date): string {
  const fw = s.firmware;
  const lines: string[] = [
    'sealtap results',
    '===============',
    `Received ${receivedAt.toISOString()} by \`sealtap receive\`, from ${count(s.sessions.length, 'session')} of the box.`,
    '',
    `Board:             ${s.board === null ? 'not announced' : escapeLineText(s.board)}`,
    `Analysis firmware: ${fw ? `${escapeLineText(fw.name)} ${escapeLineText(fw.version)} (bundle manifest ${escapeLineText(fw.hash)})` : 'not announced'}`,
    `Module:            ${s.module ? `${s.module.bytes} bytes, BLAKE2b-256 ${s.module.blake2b}` : 'none (built-in analysis only)'}`,
    `Privacy statement: ${s.privacy ?? 'not announced'}`,
    '  What could leave the box under this run\'s policy and streams, with each field\'s',
    '  transform and each stream\'s capacity bound: `sealtap bundle inspect FILE.sfw --privacy`',
    '  prints it from the bundle; the same hash means the same statement.',
    ...(s.sandbox === 'off' ? ['Sandbox:           OFF - the module ran without its operating-system sandbox (development switch)'] : []),
    `Complete:          ${s.complete && s.missingFrames === 0 ? 'yes: the run\'s END arrived and no frame is missing' : `NO: ${s.complete ? '' : 'the run\'s END did not arrive; '}${count(s.missingFrames, 'frame')} missing, ${count(s.badFrames, 'bad frame')} (summary.json)`}`,
    '',
    'Files',
    `  report.html    the run on one page (open it in a browser; it needs no network): counters, charts over time, distributions`,
    `  summary.json   counters: packets captured, dropped and analysed, records by type, frames lost`,
    `  log.txt        the box's operator log as it arrived (text from the line escaped)`,
    `  flows.jsonl    ${count(s.outputs.flows, 'flow record')}, one JSON object a line`,
    `  flows.ipfix    the same flows as IPFIX (RFC 7011) messages, ${count(s.outputs.ipfixRecords, 'record')}; nfdump and tshark read it`,
    `  dns.jsonl      ${count(s.outputs.dns, 'DNS record')}, one JSON object a line`,
    `  trace.pcap     ${count(s.outputs.packets, 'packet')} with anonymized headers; tcpdump and tshark read it`,
  ];
  const streams = Object.keys(s.streams).sort();
  for (const name of streams) {
    lines.push(`  ${`${name}.jsonl`.padEnd(14)} ${count(s.streams[name], 'record')} of the module's stream ${name}, one JSON object a line`);
  }
  if (streams.length) lines.push(`  ${SCHEMA_FILE.padEnd(14)} each stream's fields: type, unit, the transform the box applied; rate limit, k, capacity bound`);
  lines.push(`  ${LINE_FILE.padEnd(14)} the bytes as they came off the line: \`sealtap receive ${LINE_FILE} --out DIR\` reads them again`);
  lines.push('');
  lines.push('Addresses, MACs and names were anonymized with keys that existed only on the box');
  lines.push('during the run and were wiped at its end; times are as the policy says (by');
  lines.push('default moved back by a secret origin and coarsened).');
  lines.push('Field meanings: docs/channel.md and docs/sdk.md of sealtap.');
  return lines.join('\n') + '\n';
}
