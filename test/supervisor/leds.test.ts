import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Leds, runningState } from '../../firmware/supervisor/leds';
import { FileRecordingSys } from '../lib/file-recording-sys';

test('drives the sysfs files of both LEDs for each state, trigger first', () => {
  const sys = new FileRecordingSys();
  const leds = new Leds(sys, { status: '/leds/status', fault: '/leds/fault' });
  leds.show('booting');
  leds.show('capturing');
  leds.show('fatal');
  assert.equal(sys.actions, [
    'mkdir /leds/status',
    'mkdir /leds/fault',
    'write /leds/status/trigger "timer"',
    'write /leds/status/delay_on "1000"',
    'write /leds/status/delay_off "1000"',
    'write /leds/fault/trigger "none"',
    'write /leds/fault/brightness "0"',
    'write /leds/status/trigger "heartbeat"',
    'write /leds/fault/trigger "none"',
    'write /leds/fault/brightness "0"',
    'write /leds/status/trigger "none"',
    'write /leds/status/brightness "0"',
    'write /leds/fault/trigger "none"',
    'write /leds/fault/brightness "1"',
  ]);
  assert.equal(leds.history, ['booting', 'capturing', 'fatal']);
});

test('showing the same state twice writes nothing more', () => {
  const sys = new FileRecordingSys();
  const leds = new Leds(sys, { status: '/s', fault: null });
  leds.show('capturing');
  const n = sys.actions.length;
  leds.show('capturing');
  assert.is(sys.actions.length, n);
});

test('degraded blinks the fault LED while the status LED keeps its heartbeat', () => {
  const sys = new FileRecordingSys();
  const leds = new Leds(sys, { status: '/s', fault: '/f' });
  leds.show('degraded');
  assert.is(sys.files.get('/s/trigger'), 'heartbeat');
  assert.is(sys.files.get('/f/trigger'), 'timer');
  assert.is(sys.files.get('/f/delay_on'), '500');
});

test('running state follows the design table: degraded over backlog over capturing', () => {
  assert.is(runningState({ degraded: false, spoolFill: 0.1, channelStalled: false }), 'capturing');
  assert.is(runningState({ degraded: false, spoolFill: 0.8, channelStalled: false }), 'backlog');
  assert.is(runningState({ degraded: false, spoolFill: 0.1, channelStalled: true }), 'backlog');
  assert.is(runningState({ degraded: true, spoolFill: 0.9, channelStalled: true }), 'degraded');
});

test.run();
