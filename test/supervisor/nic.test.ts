import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lockCaptureNic, captureRuleset } from '../../firmware/supervisor/nic';
import { RecordingCommands } from '../lib/recording-commands';

test('locks the capture NIC before it comes up: IPv6, address, ARP, promiscuous, nft, then up', () => {
  const sys = new RecordingCommands();
  lockCaptureNic('eth0', sys);
  assert.equal(sys.transcript, [
    'run ip link set dev eth0 down',
    'write /proc/sys/net/ipv6/conf/eth0/disable_ipv6 1',
    'run ip address flush dev eth0',
    'run ip link set dev eth0 arp off multicast off promisc on',
    `run nft ${captureRuleset('eth0')}`,
    'run ip link set dev eth0 up',
  ]);
});

test('the ruleset drops every frame at ingress and egress of that device only', () => {
  const r = captureRuleset('enp1s0');
  assert.match(r, /add table netdev sealtap_capture_enp1s0/);
  assert.match(r, /hook ingress device "enp1s0" priority -500 ; policy drop ;/);
  assert.match(r, /hook egress device "enp1s0" priority -500 ; policy drop ;/);
  assert.not.match(r, /accept/);
});

test('the link comes up last, after the drop rules', () => {
  const sys = new RecordingCommands();
  lockCaptureNic('eth1', sys);
  const up = sys.transcript.indexOf('run ip link set dev eth1 up');
  const nft = sys.transcript.findIndex((l) => l.startsWith('run nft '));
  const v6 = sys.transcript.findIndex((l) => l.includes('disable_ipv6'));
  assert.ok(nft >= 0 && v6 >= 0 && up > nft && up > v6);
  assert.is(up, sys.transcript.length - 1);
});

test('refuses an interface name that could escape /proc/sys or the nft command', () => {
  for (const bad of ['', '../all', 'eth0; flush ruleset', 'eth0"', 'a'.repeat(16), 'eth 0']) {
    const sys = new RecordingCommands();
    assert.throws(() => lockCaptureNic(bad, sys), /not a valid interface name.*board\.json/, bad);
    assert.is(sys.transcript.length, 0, bad);
  }
});

test('a missing NIC stops the lock at the first step with a message naming it', () => {
  const sys = new RecordingCommands(['ip link set dev eth9 down']);
  assert.throws(() => lockCaptureNic('eth9', sys), /cannot lock capture interface eth9 \(down\).*NIC exists/);
  assert.is(sys.transcript.length, 1);
});

test('if the drop rules cannot be loaded the link is never brought up', () => {
  const sys = new RecordingCommands(['nft']);
  assert.throws(() => lockCaptureNic('eth0', sys), /drop every frame/);
  assert.not.ok(sys.transcript.includes('run ip link set dev eth0 up'));
});

test.run();
