import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { finish } from '../../firmware/supervisor/poweroff';
import { RecordingCommands } from '../lib/recording-commands';

test('exit (development host) runs nothing and returns', () => {
  const sys = new RecordingCommands();
  finish('exit', sys);
  assert.is(sys.transcript.length, 0);
});

test('poweroff runs poweroff -f, and a return from it is an error', () => {
  const sys = new RecordingCommands();
  assert.throws(() => finish('poweroff', sys), /returned/);
  assert.equal(sys.transcript, ['run poweroff -f']);
});

test('reboot runs reboot -f', () => {
  const sys = new RecordingCommands();
  assert.throws(() => finish('reboot', sys), /returned/);
  assert.equal(sys.transcript, ['run reboot -f']);
});

test('a missing poweroff binary names the fix', () => {
  const sys = new RecordingCommands(['poweroff']);
  assert.throws(() => finish('poweroff', sys), /busybox/);
});

test('refuses an unknown atExit without running anything', () => {
  const sys = new RecordingCommands();
  assert.throws(() => finish('halt' as 'exit', sys), /exit, poweroff or reboot/);
  assert.is(sys.transcript.length, 0);
});

test.run();
