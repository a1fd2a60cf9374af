// Text from the line, made safe to print and to write. Every string the receiver shows
// (console, log.txt) came from the box, and a hostile or damaged line can put terminal
// escape sequences in them: ESC [2J clears the operator's screen, ESC ]0;…BEL retitles
// the window, a lone CR overwrites a log line with a forged one, U+202E shows text
// backwards. escapeLineText turns each such character into visible text (\x1b,
// \u{202e}) and leaves printable text alone, so log lines read as before.
//
// The JSON files need less: JSON.stringify already escapes C0 controls, but not DEL, C1,
// the line and paragraph separators or the bidi controls, which `cat summary.json` would
// hand to the terminal raw. lineJson writes those as \uNNNN escapes, which parse back to
// the same string: nothing of the record changes.

/** C0, DEL, C1, U+2028/2029 (line/paragraph separators), bidi embeddings/overrides/isolates. */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');
/** The same minus C0, which JSON.stringify escapes itself (and whose \n is the indentation's). */
const UNSAFE_IN_JSON = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_IN_JSON_ALL = new RegExp(UNSAFE_IN_JSON.source, 'g');

/**
 * `value` as one line of printable text: control characters as `\xNN` (up to 0xff) or
 * `\u{NNNN}`. Never throws: a value that is not a string (a hostile BOOT can send
 * `"board": {"toString": 1}`, on which a template literal throws) is shown as JSON.
 */
export function escapeLineText(value: unknown): string {
  const text = lineString(value);
  if (!UNSAFE.test(text)) return text;
  return text.replace(UNSAFE_ALL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/**
 * The operator's message (LOG msg) as one line: its line breaks become one space, as
 * they always have in log.txt; a CR that is not part of a line break, and every other
 * control character, is escaped.
 */
export function escapeLineMessage(value: unknown): string {
  return escapeLineText(lineString(value).replace(/(?:\r?\n)+/g, ' '));
}

/** `value` as JSON (for .json/.jsonl files) with DEL, C1, U+2028/2029 and bidi controls as \uNNNN. */
export function lineJson(value: unknown, indent?: number): string {
  const json = JSON.stringify(value, null, indent);
  if (!UNSAFE_IN_JSON.test(json)) return json;
  // Outside strings JSON is plain ASCII: every match is inside a string, where \uNNNN is
  // the same character.
  return json.replace(UNSAFE_IN_JSON_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A short quote of a name from the line for a notice: at most `max` characters, escaped. */
export function quoteLineText(value: unknown, max = 40): string {
  const text = lineString(value);
  return `"${escapeLineText(text.length > max ? text.slice(0, max) : text)}"${text.length > max ? '…' : ''}`;
}

/**
 * A number field of a record from the line, as Number() reads it, without Number()'s
 * TypeError on a JSON object such as {"toString": 1} (NaN instead).
 */
export function lineNumber(v: unknown): number {
  return typeof v === 'object' && v !== null ? NaN : Number(v);
}

function lineString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'undefined';
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return '?';
  }
}
