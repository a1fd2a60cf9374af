// sealtap receive: the workstation end of the results line.
import { Command, parseArgs, UsageError } from './command';
import { receive } from '../receiver/receive';
import { OutDirRefused } from '../receiver/out-dir';
import { DEFAULT_RATE, DEFAULT_TEMPLATE_SECONDS, MAX_QUEUED } from '../receiver/ipfix-defaults';
import type { ForwardReport } from '../receiver/ipfix-udp';
import { summaryText } from '../receiver/summary-text';

const help = `usage: sealtap receive <tty|file> --out DIR [--force] [--key PREFIX.key] [--baud N] [--follow] [--until-end]
                      [--ipfix udp://host:port [--ipfix-rate N] [--ipfix-template-secs S]]
       sealtap receive keygen --out PREFIX

Reads the box's results line — a tty wired to the box, or a recording of the line —
and writes into DIR:
  trace.pcap    anonymized packet headers (link type from the box's BOOT record)
  flows.ipfix   flows as IPFIX (RFC 7011) messages, standard information elements
  flows.jsonl   one flow record (JSON) per line
  dns.jsonl     one DNS record (JSON) per line
  STREAM.jsonl  one record per line of each stream the analysis firmware declared
  schema.json   those streams' fields: type, unit, the transform applied; limits (BOOT)
  log.txt       the box's operator log, RFC 5424 lines (host time, device uptime)
  summary.json  box counters from END, records per type, frames, bad and missing frames,
                the firmware, module and privacy statement hash the box announced;
                rewritten every 3 s while the line is read (whole at every moment)
  report.html   the run on one page, for a browser, offline: counters, STATUS over
                time, flow and DNS distributions, frames and checkpoints (docs/report.md)
  README.txt    what the run was and what each file holds, for whoever opens DIR later
  line.raw      a raw recording of everything read (can be given back to receive)

A file is read to its end. A tty is read until Ctrl-C / SIGTERM (the files are
finished, a short summary is printed and the exit code is 0), or with --until-end
until the box's END record.
Frames lost or damaged on the line are rebuilt from the box's FEC repair frames
where the loss is within what they cover (run.json channel.fec; on by default on
a tty); summary.json counts repairedFrames and unrepairableGroups.

If the input held no sealtap frame at all (an empty file, a pcap, anything that is
not a recording of the line; a tty on which nothing arrived) receive says so, writes
nothing (DIR is left as it was) and exits 1.

options:
  --out DIR        output directory, created if missing; it must be empty
  --force          write into a DIR that is not empty: files of the same names are
                   replaced, other files stay (an earlier run's stream files too)
  --baud N         tty speed, default 115200
  --follow         print the operator log as it arrives, under a status block (state,
                   time left, packets/s, Mbit/s, drops by cause, records per type, the
                   box's own CPU, line use of the baud rate, frames, checkpoints)
                   redrawn in place on a terminal, as plain "status:" lines otherwise;
                   after END it shows the final counters and stops counting;
                   report.html is refreshed every 3 s too
  --until-end      stop after the END record of the session
  --ipfix URL      also send the IPFIX messages to a collector, e.g. udp://127.0.0.1:4739
                   (a host name is resolved once, at the start)
  --ipfix-rate N   send at most N IPFIX records (one per direction of a flow) a
                   second, in bursts of N/50 or one message; default ${DEFAULT_RATE}. UDP has
                   no flow control: a collector sent more than it reads loses the rest
                   unseen. Messages wait in a queue; reading a file pauses while it is
                   long, so a file loses nothing; a tty cannot pause, and beyond ${MAX_QUEUED}
                   queued messages (about 300,000 records) new ones are dropped and
                   counted. At the end receive waits until the queue is sent.
  --ipfix-template-secs S
                   send the templates again after S seconds, default ${DEFAULT_TEMPLATE_SECONDS} (RFC 7011
                   8.4, 10.3.6: over UDP they are resent periodically): flow records
                   sent S seconds or more after the last templates are preceded by a
                   message of the templates alone. The first and every 10th message
                   carry them too, as in flows.ipfix. A collector that starts late, or
                   restarts, reads the records sent after the next templates.
  --key FILE       the researcher's results key (PREFIX.key), to read results the box
                   encrypted to it (run.json channel.recipient). Without it the
                   encrypted frames are counted as undecryptable and their records
                   are not written.

Exit status: 0 the line was read (even with bad or missing frames: see summary.json),
1 a runtime failure (no frame in the input, an input or DIR that cannot be read or
written, an --ipfix host that does not resolve; DIR is left as it was if no frame had
arrived), 2 a usage mistake (a missing argument, an unknown option or option value, a
DIR that is not empty without --force).

With --ipfix, a last line says how many records were forwarded and how many were not
(summary.json ipfixForward): "IPFIX: R records forwarded to URL in M messages (T of
them templates only), at most N records/s; none dropped" or "...; D dropped (queue
full: the line delivered faster than --ipfix-rate), F not sent (socket errors)".

sealtap receive keygen --out PREFIX
  creates the researcher's X25519 key pair for encrypted results: PREFIX.key
  (secret, mode 0600, stays on this workstation) and PREFIX.pub (64 hex digits,
  also printed: put them into run.json as "channel": {"recipient": "<hex>"}).
  Never overwrites. (A recording named keygen is given as ./keygen.)
`;

function keygen(argv: string[]): number {
  const { opts, rest } = parseArgs(argv, ['out']);
  if (rest.length !== 0) throw new UsageError(`receive keygen takes no other arguments, got ${rest.join(' ')} (see --help)`);
  const prefix = opts.get('out');
  if (!prefix) throw new UsageError('receive keygen needs --out PREFIX');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const k = (require('../receiver/results-key') as typeof import('../receiver/results-key')).writeResultsKeyPair(prefix);
  process.stdout.write(`wrote ${k.keyPath} (secret, keep it on this workstation) and ${k.pubPath}\n` +
    `run.json: "channel": { ..., "recipient": "${k.publicHex}" }\n`);
  return 0;
}

/** An --ipfix-* option's value: a whole number above 0 (only with --ipfix). */
function wholeNumber(opts: Map<string, string>, name: string, unit: string, byDefault: number): number {
  const v = opts.get(name);
  if (v === undefined) return byDefault;
  if (!opts.has('ipfix')) throw new UsageError(`--${name} is only for forwarding: give --ipfix udp://host:port too`);
  if (!/^[0-9]+$/.test(v) || !(Number(v) > 0) || !Number.isSafeInteger(Number(v))) {
    throw new UsageError(`--${name} ${v}: expected a whole number of ${unit} above 0, e.g. --${name} ${byDefault}`);
  }
  return Number(v);
}

function forwardLine(f: ForwardReport): string {
  const notSent = f.droppedRecords === 0 && f.failedRecords === 0 ? 'none dropped'
    : `${f.droppedRecords} dropped (queue full: the line delivered faster than --ipfix-rate), ${f.failedRecords} not sent (socket errors)`;
  return `IPFIX: ${f.records} records forwarded to ${f.collector} in ${f.messages} messages (${f.templateMessages} of them templates only), at most ${f.recordsPerSecond} records/s; ${notSent}\n`;
}

export const receiveCommand: Command = {
  name: 'receive',
  help,
  async main(argv: string[]): Promise<number> {
    if (argv[0] === 'keygen') return keygen(argv.slice(1));
    const { opts, rest } = parseArgs(argv, ['out', 'baud', 'ipfix', 'ipfix-rate', 'ipfix-template-secs', 'key'], ['follow', 'until-end', 'force']);
    if (rest.length !== 1) throw new UsageError('receive needs exactly one tty or file (see --help)');
    const out = opts.get('out');
    if (!out) throw new UsageError('receive needs --out DIR');
    const baud = opts.has('baud') ? Number(opts.get('baud')) : 115200;
    if (!Number.isInteger(baud) || baud <= 0) throw new UsageError(`--baud ${opts.get('baud')} is not a positive integer`);
    if (opts.has('ipfix')) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        (require('../receiver/ipfix-udp') as typeof import('../receiver/ipfix-udp')).IpfixForwarder.parse(opts.get('ipfix')!);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const ipfixRate = wholeNumber(opts, 'ipfix-rate', 'IPFIX records per second', DEFAULT_RATE);
    const ipfixTemplateSeconds = wholeNumber(opts, 'ipfix-template-secs', 'seconds', DEFAULT_TEMPLATE_SECONDS);
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      const s = await receive({
        input: rest[0], out, baud, follow: opts.has('follow'), untilEnd: opts.has('until-end'),
        // A terminal gets the status block redrawn in place; a pipe or file gets plain lines.
        terminal: process.stdout.isTTY ? { write: (text) => process.stdout.write(text), columns: () => process.stdout.columns || 100 } : undefined,
        ipfix: opts.get('ipfix'), ipfixRate, ipfixTemplateSeconds, signal: ac.signal, key: opts.get('key'), force: opts.has('force'),
      }).catch((e: unknown) => {
        throw e instanceof OutDirRefused ? new UsageError(e.message) : e;
      });
      process.stdout.write(summaryText(s, out));
      if (s.ipfixForward) process.stdout.write(forwardLine(s.ipfixForward));
      if (s.channel.undecryptableFrames > 0) {
        const wrong = s.sessions.some((x) => x.encrypted === 'wrong key');
        process.stderr.write(`sealtap: ${s.channel.undecryptableFrames} frames are encrypted and were not read: ` +
          (wrong ? 'the --key given is not the one run.json channel.recipient names; give the matching .key file\n'
            : 'run sealtap receive again with --key PREFIX.key (the key whose .pub is run.json channel.recipient)\n'));
      }
      return 0;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
