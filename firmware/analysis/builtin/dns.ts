// The built-in `dns` analysis: queries paired with their responses by the DNS tracker,
// each finished transaction formatted with this level's anonymizer (labels keyed-hashed,
// public suffix kept only if the policy says so) and emitted as a DNS record.
import { DnsTracker, formatDns } from '../dns';
import type { Emit, ModuleFactory } from '../sdk';

export const dnsModule: ModuleFactory = (ctx) => {
  // The tracker calls back from inside onPacket/onTimer/onEnd: the emitter of that call.
  let emitNow: Emit | null = null;
  const tracker = new DnsTracker({}, (e) => emitNow?.dns(formatDns(e, ctx.anon)));
  return {
    name: 'dns',
    onPacket(view, buf, tsUs, emit) {
      emitNow = emit;
      tracker.onPacket(view, buf, tsUs);
    },
    onTimer(tsUs, emit) {
      emitNow = emit;
      tracker.expire(tsUs);
    },
    onEnd(tsUs, emit) {
      emitNow = emit;
      tracker.flushAll(tsUs);
    },
  };
};
