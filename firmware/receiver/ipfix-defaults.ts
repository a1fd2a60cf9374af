// The IPFIX forwarder's defaults, apart from the forwarder (ipfix-udp.ts): `sealtap
// receive --help` and the option checks need them, and the forwarder (with node's
// sockets and DNS) is loaded only with --ipfix.

/**
 * Data records per second by default. A stock nfcapd 1.7 on loopback, on a busy 2-core
 * workstation, stored every record at 5,000 and 10,000/s and lost up to 6% at 20,000/s
 * (its 208 KiB socket buffer holds about 90 messages: at 5,000/s it may stall 0.35 s);
 * a tty line delivers far fewer (115200 baud is about 11 KB/s). Measures: docs/channel.md.
 */
export const DEFAULT_RATE = 5000;
/** Templates again before a data message when this long passed since the last ones (RFC 7011 §8.4, §10.3.6). */
export const DEFAULT_TEMPLATE_SECONDS = 60;
/** Queued messages beyond which new ones are dropped and counted (at most 23 MB). */
export const MAX_QUEUED = 16384;
