import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WrappingCounter } from '../../firmware/capture/slots';

test('adds increments of a 32-bit kernel counter', () => {
  const c = new WrappingCounter();
  c.update(10);
  c.update(250);
  assert.is(c.total, 250);
});

test('counts across a wrap of the 32-bit kernel drop counter', () => {
  const c = new WrappingCounter();
  c.update(0xffff_fff0);
  c.update(0x10);
  assert.is(c.total, 0xffff_fff0 + 0x20);
});

test('treats negative raw values (signed in the binding) as unsigned', () => {
  const c = new WrappingCounter();
  c.update(-16); // 0xfffffff0 read as int32
  assert.is(c.total, 0xffff_fff0);
});

test.run();
