// The --follow screen: on a terminal, one status block redrawn in place under the
// operator log, which scrolls above it; anywhere else (a pipe, a file, a CI log), plain
// lines, so the log stays readable: the block as one "status:" line per update.
//
// In place means: before anything is written, the block drawn last is erased (cursor up
// to its first line, clear to the end of the screen), the log line is written, and the
// block is drawn again. Every block line is cut to the terminal's width: a line that
// wrapped would take two rows, and erasing by the count of lines would leave the top row
// of the old block on the screen. The lines hold only escaped text (live-view.ts), so no
// character from the line can move the cursor.
import { plainStatus } from './live-view';

const ERASE_TO_END = '\x1b[J';
const upToStartOf = (rows: number): string => `\x1b[${rows}F`;

export class StatusScreen {
  /** Rows of the block now on the screen (0: none drawn, or kept by keep()). */
  private drawn = 0;
  private block: string[] = [];

  constructor(
    private readonly write: (text: string) => void,
    /** Redraw in place (a terminal) or print plain lines. */
    readonly inPlace: boolean,
    private readonly columns: () => number = () => 100,
  ) {}

  /** An operator log line, above the block. */
  log(line: string): void {
    if (!this.inPlace) return this.write(line + '\n');
    this.write(this.erase() + line + '\n' + this.draw());
  }

  /** The block's new content. */
  show(lines: string[]): void {
    this.block = lines;
    if (!this.inPlace) return this.write(plainStatus(lines) + '\n');
    this.write(this.erase() + this.draw());
  }

  /**
   * Leaves the block on the screen as it is (a session that ended, before a new BOOT):
   * what comes next is written below it, and the next block is a new one.
   */
  keep(): void {
    this.drawn = 0;
    this.block = [];
  }

  private erase(): string {
    if (this.drawn === 0) return '';
    const s = upToStartOf(this.drawn) + ERASE_TO_END;
    this.drawn = 0;
    return s;
  }

  private draw(): string {
    if (this.block.length === 0) return '';
    const width = Math.max(20, this.columns() - 1);
    this.drawn = this.block.length;
    return this.block.map((l) => (l.length > width ? l.slice(0, width - 1) + '…' : l) + '\n').join('');
  }
}
