// The DNS analysis' public surface.
export { DnsTracker, DnsTrackerOptions, DnsCounters, dnsDefaults } from './dnsTracker';
export { DnsEntry, DnsAnonymizer, formatDns } from './dnsEntry';
export { parseDnsMessage, DnsParse, DnsRefusal, dnsRefusalNames, MAX_LABELS } from './dnsMessage';
