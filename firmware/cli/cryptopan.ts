// `sealtap cryptopan --key <64 hex>`: anonymizes addresses read from stdin, one a
// line, with the same Crypto-PAn code the box uses, so output can be compared with
// other implementations (traceanon, published vectors) on a workstation. The key is
// never echoed: errors say what is wrong with it, not what it was.
import * as fs from 'fs';
import * as readline from 'readline';
import { Command, UsageError, parseArgs } from './command';
import { CryptoPan } from '../anonymize/cryptopan';

const HELP = `usage: sealtap cryptopan --key <64 hex digits>

Reads IPv4 or IPv6 addresses from stdin, one a line, and writes each one
anonymized with Crypto-PAn to stdout, in the same order: IPv4 stays dotted
quad, IPv6 is printed in RFC 5952 form. The result matches the reference
implementation (and its published vectors) bit for bit; IPv6 uses the same
construction over 128 bits.

  --key HEX   the 32-byte key as 64 hex digits: AES-128 key, then pad seed

Blank lines are passed through as blank lines. A line that is not an address
gets an error on stderr (line N: "x" is not an IPv4 or IPv6 address), an
empty line on stdout so that output lines stay aligned with input lines, and
processing goes on. Spaces around an address are ignored.

Exit status: 0 when every line was an address or blank, 1 when a line was
refused or stdin cannot be read (a directory, a closed stdin, a read error),
2 for a missing or malformed key.

The key is on the command line, where other local users can see it: use
this for interoperability checks and test keys, never for a run's key (the
box generates those itself and never lets them out).`;

export const cryptopanCommand: Command = {
  name: 'cryptopan',
  help: HELP,
  async main(argv: string[]): Promise<number> {
    const { opts, rest } = parseArgs(argv, ['key']);
    if (rest.length > 0) throw new UsageError(`cryptopan takes no arguments, addresses come on stdin (see --help)`);
    const key = parseKey(opts.get('key'));
    checkStdin();
    const pan = new CryptoPan(key);
    key.fill(0);
    try {
      return await anonymizeLines(pan, process.stdin, process.stdout, process.stderr);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`cannot read stdin (${code ?? (e as Error).message}): give the addresses on stdin, one a line, e.g. sealtap cryptopan --key K < addresses.txt`);
    } finally {
      pan.destroy();
    }
  },
};

/**
 * Node reads a directory on stdin as an empty input (it swallows EISDIR) and would exit 0
 * having done nothing: `sealtap cryptopan --key K < somedir` is refused up front.
 */
function checkStdin(): void {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(0);
  } catch (e) {
    throw new Error(`stdin is not open (${(e as NodeJS.ErrnoException).code}): give the addresses on stdin, e.g. sealtap cryptopan --key K < addresses.txt`);
  }
  if (st.isDirectory()) throw new Error('stdin is a directory, not a file of addresses: give a file, one address a line (sealtap cryptopan --key K < addresses.txt)');
}

function parseKey(hex: string | undefined): Buffer {
  if (hex === undefined) throw new UsageError('missing --key <64 hex digits> (the 32-byte Crypto-PAn key)');
  if (hex.length !== 64) throw new UsageError(`--key must be 64 hex digits (32 bytes), got ${hex.length} characters`);
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new UsageError('--key must be 64 hex digits (32 bytes) and contains a character that is not a hex digit');
  return Buffer.from(hex, 'hex');
}

/**
 * Streams lines from input to output; returns the exit code. Stops quietly when the
 * reader of the output goes away (`... | head`), like other filters.
 */
export async function anonymizeLines(pan: CryptoPan, input: NodeJS.ReadableStream, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let closed = false;
  let wake: (() => void) | null = null;
  const onGone = (): void => {
    closed = true;
    if (wake) wake();
  };
  out.on('error', onGone);
  out.on('close', onGone);
  let lineNo = 0;
  let refused = 0;
  let pending: string[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0 || closed) return;
    const chunk = pending.join('');
    pending = [];
    if (!out.write(chunk)) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        out.once('drain', resolve);
      });
      wake = null;
    }
  };
  for await (const raw of lines) {
    if (closed) break;
    lineNo++;
    const text = raw.trim();
    if (text === '') {
      pending.push('\n');
    } else {
      try {
        pending.push(pan.anonymizeText(text) + '\n');
      } catch {
        refused++;
        const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
        err.write(`sealtap cryptopan: line ${lineNo}: ${JSON.stringify(shown)} is not an IPv4 or IPv6 address\n`);
        pending.push('\n');
      }
    }
    if (pending.length >= 1024) await flush();
  }
  lines.close();
  await flush();
  out.off('error', onGone);
  out.off('close', onGone);
  return refused > 0 ? 1 : 0;
}
