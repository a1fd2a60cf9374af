// The status block's drawing, as the bytes a terminal gets: in place means erase what
// was drawn (cursor up N rows, clear to the end), write, draw again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StatusScreen } from '../../firmware/receiver/terminal-block';

function screen(inPlace: boolean, columns = 100): { s: StatusScreen; out: string[] } {
  const out: string[] = [];
  return { s: new StatusScreen((t) => out.push(t), inPlace, () => columns), out };
}

test('on a terminal: a log line goes above the block, which is erased and drawn again', () => {
  const { s, out } = screen(true);
  s.show(['a', 'b']);
  s.log('log 1');
  s.show(['c', 'd', 'e']);
  assert.equal(out, ['a\nb\n', '\x1b[2F\x1b[Jlog 1\na\nb\n', '\x1b[2F\x1b[Jc\nd\ne\n']);
});

test('keep() leaves the block on the screen: the next one is drawn below it', () => {
  const { s, out } = screen(true);
  s.show(['old']);
  s.keep();
  s.log('log');
  s.show(['new']);
  assert.equal(out, ['old\n', 'log\n', 'new\n']);
});

test('a row wider than the terminal is cut, so the count of rows to erase stays right', () => {
  const { s, out } = screen(true, 30);
  s.show(['x'.repeat(80)]);
  assert.is(out[0], 'x'.repeat(28) + '…\n');
});

test('not a terminal: the block is one plain status line, and no escape sequence is written', () => {
  const { s, out } = screen(false);
  s.show(['session 1 | state capturing', 'time     elapsed 0:05']);
  s.log('log');
  assert.equal(out, ['status: session 1 | state capturing | time elapsed 0:05\n', 'log\n']);
});

test.run();
