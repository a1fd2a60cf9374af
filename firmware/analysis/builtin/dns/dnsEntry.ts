// One DNS transaction as the tracker hands it out, and its conversion into the DNS
// record of the results line.
import { DnsRecord } from '../../../channel/records';

export interface DnsEntry {
  /** Time of the query (or of the response when no query was seen), microseconds. */
  tsUs: number;
  /** Question name labels, ASCII lowercased, root label omitted. */
  labels: Buffer[];
  qtype: number;
  /** null: no response seen (unanswered, or an mDNS/unmatched query). */
  rcode: number | null;
  answers: number | null;
  latencyUs: number | null;
}

/** What formatDns needs from the anonymization policy. */
export interface DnsAnonymizer {
  name(labels: Buffer[] | string): string;
  time(us: number): number;
}

export function formatDns(entry: DnsEntry, anon: DnsAnonymizer): DnsRecord {
  return {
    tsUs: anon.time(entry.tsUs),
    qname: anon.name(entry.labels),
    qtype: entry.qtype,
    rcode: entry.rcode,
    answers: entry.answers,
    latencyUs: entry.latencyUs,
  };
}
