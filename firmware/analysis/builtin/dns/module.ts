// The built-in `dns` analysis: queries paired with their responses by the DNS tracker,
// each finished transaction formatted with this level's anonymizer (labels keyed-hashed,
// public suffix kept only if the policy says so) and emitted as a DNS record.
import { DnsTracker, formatDns } from '.';
import type { ModuleFactory } from '../api';
import { tableModule } from '../tracker-module';

export const dnsModule: ModuleFactory = (ctx) =>
  tableModule('dns', (current) => new DnsTracker({}, (e) => current()?.dns(formatDns(e, ctx.anon))));
