// The researcher's streams: STREAM records go to <stream>.jsonl, one `record` object per
// line as sent, and BOOT.streams, the declarations, to schema.json.
//
// The stream name becomes a file name in the researcher's results folder, and it comes
// from the line: it is checked before any file is opened. A record is written only if
// its name matches STREAM_NAME (no '/', '.', '-', no uppercase: it cannot leave the
// folder, and <name>-<session> below cannot collide with another stream), is not the
// stem of a file the receiver writes anyway (`reserved`, derived from outputs.ts), is
// declared in its session's BOOT, and if every field is a string, a finite number or a
// list of finite numbers. Anything else is refused: counted (per reason, and per
// session), one notice per session and reason, and no file is created.
//
// Sessions share files, as flows.jsonl: a reboot of the same firmware appends to the
// same <stream>.jsonl. A later session that declares a name differently gets
// <stream>-<session>.jsonl, so one file never mixes two declarations; schema.json maps
// each file's stem to its declaration (for one session: exactly BOOT.streams).
import * as path from 'node:path';
import * as fs from 'node:fs';
import { BufferedFile } from './buffered-file';
import { SessionState } from './session';
import { lineJson, quoteLineText } from './escape-text';

export const STREAM_NAME = /^[a-z][a-z0-9_]{0,31}$/;
export const SCHEMA_FILE = 'schema.json';
/** Stream files open at once (each holds a descriptor and a 64 KiB buffer): a hostile BOOT cannot exhaust either. */
export const MAX_STREAM_FILES = 64;

/** Why a STREAM record was not written (summary.json refusedStreamReasons). */
export type StreamRefusal = 'shape' | 'name' | 'reserved' | 'undeclared' | 'value' | 'limit';

const REFUSAL_TEXT: Record<StreamRefusal, string> = {
  shape: 'the body is not {"stream": name, "record": {…}}',
  name: `the stream name does not match ${STREAM_NAME.source}`,
  reserved: 'the stream name is the name of a file the receiver writes itself',
  undeclared: "the stream is not declared in the session's BOOT (streams)",
  value: 'a field is not a string, a finite number or a list of finite numbers',
  limit: `more than ${MAX_STREAM_FILES} stream files`,
};

/** What one session declared: stream name -> file stem, and the declarations it sent. */
interface SessionStreams {
  files: Map<string, string>;
  declarations: Map<string, string>;
  noticed: Set<string>;
}

export class StreamFiles {
  /** Open stream files by stem, with the declaration (JSON text) their records follow. */
  private readonly files = new Map<string, { declaration: string; file: BufferedFile }>();
  /** schema.json: file stem -> declaration. */
  private readonly schema: Record<string, unknown> = {};
  private schemaWritten = false;
  private readonly sessions = new Map<string, SessionStreams>();
  private readonly reservedStems: Set<string>;
  readonly refusedReasons: Partial<Record<StreamRefusal, number>> = {};

  constructor(
    readonly dir: string,
    /** Every file name the receiver writes besides stream files: their stems are refused as stream names. */
    reservedFiles: readonly string[],
    private readonly notice: (s: SessionState, severity: number, msg: string) => void,
  ) {
    this.reservedStems = new Set(reservedFiles.map((f) => f.split('.')[0]));
  }

  /** BOOT.streams of session `s` (every BOOT copy: names already declared are skipped). */
  declare(s: SessionState, streams: unknown): void {
    if (streams === undefined || streams === null) return;
    const mine = this.session(s);
    if (!isPlainObject(streams)) return this.noticeOnce(s, mine, 'streams', `session ${s.id}: BOOT.streams is not an object of declarations; no stream of this session is written`);
    for (const [name, declaration] of Object.entries(streams)) {
      const text = JSON.stringify(declaration) ?? 'null';
      const known = mine.declarations.get(name);
      if (known !== undefined) {
        if (known !== text) this.noticeOnce(s, mine, `redeclared ${name}`, `session ${s.id}: a later BOOT declares stream ${quoteLineText(name)} differently; its records keep following the first declaration`);
        continue;
      }
      if (mine.declarations.size >= 4 * MAX_STREAM_FILES) break; // the rest are undeclared
      mine.declarations.set(name, text);
      const why = this.nameRefusal(name);
      if (why) {
        this.noticeOnce(s, mine, `declared ${why}`, `session ${s.id}: BOOT declares stream ${quoteLineText(name)}, which is not written: ${REFUSAL_TEXT[why]}`);
        continue;
      }
      const stem = this.fileFor(name, text, declaration, s.id);
      if (stem) mine.files.set(name, stem);
      else this.noticeOnce(s, mine, 'declared limit', `session ${s.id}: BOOT declares stream ${quoteLineText(name)}, which is not written: ${REFUSAL_TEXT.limit}`);
    }
    if (!this.schemaWritten) this.writeSchema();
  }

  /** One STREAM record: written to its stream's file, or refused and counted. */
  write(s: SessionState, body: Record<string, unknown>): void {
    const mine = this.session(s);
    const why = this.refusal(mine, body);
    if (why) {
      s.refusedStreamRecords++;
      this.refusedReasons[why] = (this.refusedReasons[why] ?? 0) + 1;
      const name = typeof body.stream === 'string' ? ` of stream ${quoteLineText(body.stream)}` : '';
      this.noticeOnce(s, mine, why, `session ${s.id}: a STREAM record${name} is refused: ${REFUSAL_TEXT[why]}; further refusals are only counted (summary.json refusedStreamRecords)`);
      return;
    }
    const name = body.stream as string;
    this.files.get(mine.files.get(name)!)!.file.write(lineJson(body.record) + '\n');
    s.streamRecords.set(name, (s.streamRecords.get(name) ?? 0) + 1);
  }

  flush(): void {
    for (const f of this.files.values()) f.file.flush();
  }

  close(): void {
    for (const f of this.files.values()) f.file.close();
  }

  private refusal(mine: SessionStreams, body: Record<string, unknown>): StreamRefusal | null {
    const keys = Object.keys(body);
    if (keys.length !== 2 || typeof body.stream !== 'string' || !isPlainObject(body.record)) return 'shape';
    const nameWhy = this.nameRefusal(body.stream);
    if (nameWhy) return nameWhy;
    if (!mine.files.has(body.stream)) return mine.declarations.has(body.stream) ? 'limit' : 'undeclared';
    for (const v of Object.values(body.record)) if (!isFieldValue(v)) return 'value';
    return null;
  }

  private nameRefusal(name: string): StreamRefusal | null {
    if (!STREAM_NAME.test(name)) return 'name';
    if (this.reservedStems.has(name)) return 'reserved';
    return null;
  }

  /** The stem of the file for stream `name` under `declaration`, opened if new; null past the limit. */
  private fileFor(name: string, text: string, declaration: unknown, session: string): string | null {
    const owner = this.files.get(name);
    if (owner?.declaration === text) return name;
    // STREAM_NAME has no '-': <name>-<session> is never another stream's name.
    const stem = owner ? `${name}-${session}` : name;
    if (this.files.has(stem)) return stem;
    if (this.files.size >= MAX_STREAM_FILES) return null;
    this.files.set(stem, { declaration: text, file: new BufferedFile(path.join(this.dir, `${stem}.jsonl`)) });
    this.schema[stem] = declaration;
    this.writeSchema();
    return stem;
  }

  private writeSchema(): void {
    fs.writeFileSync(path.join(this.dir, SCHEMA_FILE), lineJson(this.schema, 2) + '\n');
    this.schemaWritten = true;
  }

  private session(s: SessionState): SessionStreams {
    let mine = this.sessions.get(s.id);
    if (!mine) this.sessions.set(s.id, (mine = { files: new Map(), declarations: new Map(), noticed: new Set() }));
    return mine;
  }

  /** One notice per session and kind: a hostile line cannot flood log.txt. */
  private noticeOnce(s: SessionState, mine: SessionStreams, kind: string, msg: string): void {
    if (mine.noticed.has(kind) || mine.noticed.size >= 16) return;
    mine.noticed.add(kind);
    this.notice(s, 4, msg);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isFieldValue(v: unknown): boolean {
  if (typeof v === 'string') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}
