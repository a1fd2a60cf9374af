// What each death of the analysis means, as transcripts: deaths in, verdicts out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CrashVerdicts } from '../../firmware/analysis/crash-verdict';
import { betweenPackets, position } from '../../firmware/analysis/ipc';

test('quarantines a packet named by two deaths in a row', () => {
  const v = new CrashVerdicts();
  const p = position(3, 17);
  assert.equal(v.died(p, 5, 2), { quarantined: -1, suspect: p });
  assert.equal(v.died(p, 5, 2), { quarantined: p, suspect: -1 });
  assert.equal(v.quarantine, [p]);
});

test('does not quarantine when the second death names another packet', () => {
  const v = new CrashVerdicts();
  v.died(position(3, 17), 5, 2);
  assert.equal(v.died(position(3, 18), 5, 2), { quarantined: -1, suspect: position(3, 18) });
  assert.equal(v.quarantine, []);
});

test('a death between packets names no packet and never quarantines the last one finished', () => {
  const v = new CrashVerdicts();
  const p = position(4, 9);
  v.died(p, 6, 3);
  // Killed twice while idle after finishing p: p did nothing wrong.
  assert.equal(v.died(betweenPackets, 6, 3), { quarantined: -1, suspect: p });
  assert.equal(v.died(betweenPackets, 6, 3), { quarantined: -1, suspect: p });
  assert.equal(v.quarantine, []);
});

test('a death that names a packet after a death that named none still needs a second one to quarantine', () => {
  const v = new CrashVerdicts();
  const p = position(2, 1);
  v.died(betweenPackets, 4, 1);
  assert.equal(v.died(p, 4, 1).quarantined, -1);
  assert.equal(v.died(p, 4, 1).quarantined, p);
});

test('an unknown death makes the next two unfinished segments careful, bounded by what is published', () => {
  const v = new CrashVerdicts();
  assert.is(v.carefulUntilSeq, -1);
  v.died(betweenPackets, 10, 4);
  assert.is(v.carefulUntilSeq, 6);
  const w = new CrashVerdicts();
  w.died(betweenPackets, 5, 4);
  assert.is(w.carefulUntilSeq, 5);
});

test('a named death makes its segment careful, and the careful window never shrinks', () => {
  const v = new CrashVerdicts();
  v.died(betweenPackets, 10, 7);
  assert.is(v.carefulUntilSeq, 9);
  v.died(position(8, 3), 10, 7);
  assert.is(v.carefulUntilSeq, 9);
  v.died(position(12, 3), 14, 11);
  assert.is(v.carefulUntilSeq, 12);
});

test.run();
