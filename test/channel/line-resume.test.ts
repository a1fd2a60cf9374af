// When the line writer sends its recent frames again (line-resume.ts): decisions on a
// fake clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineResume, LINE_STALL_MS, RESUME_BYTES } from '../../firmware/channel/line-resume';

function clocked(): { r: LineResume; at: (ms: number) => void } {
  let t = 0;
  return { r: new LineResume(() => t), at: (ms) => { t = ms; } };
}

test('a line refused for a stall and then taking more than a gadget holds asks for the window once', () => {
  const { r, at } = clocked();
  assert.is(r.took(1000), false);
  r.full();
  at(LINE_STALL_MS);
  assert.is(r.took(8192), false, 'the gadget taking its buffer back is not yet the host reading');
  r.full();
  at(LINE_STALL_MS + 5000);
  assert.is(r.took(RESUME_BYTES - 1), false, 'counted again from the end of the last stall: the host opening its tty');
  assert.is(r.took(1), true, 'the host has read past its first bytes');
  assert.is(r.took(RESUME_BYTES), false, 'once');
});

test('short refusals (a host reading slower than the box writes) never ask for the window', () => {
  const { r, at } = clocked();
  for (let i = 0; i < 100; i++) {
    r.full();
    at(i * LINE_STALL_MS + LINE_STALL_MS - 1);
    assert.is(r.took(RESUME_BYTES), false, `refusal ${i}`);
    at((i + 1) * LINE_STALL_MS);
  }
});

test('a hangup asks for the window again once the host has read past its first bytes', () => {
  const { r } = clocked();
  r.hungUp();
  assert.is(r.took(RESUME_BYTES - 1), false);
  assert.is(r.took(1), true);
  assert.is(r.took(RESUME_BYTES), false);
});

test.run();
