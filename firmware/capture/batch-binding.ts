// The project's own libpcap addon (native/capture/sealtap-capture.c, built by `make
// build`): one call copies a whole batch of packets into a caller's buffer as pcap
// records (16-byte little-endian header, then the bytes), so JavaScript runs once per
// batch instead of once per packet as with node-pcap's dispatch.
import * as os from 'node:os';
import * as path from 'node:path';

/** An open libpcap handle; only the addon can use it. */
export type CaptureHandle = { readonly __captureHandle: unique symbol };

export const enum BatchStatus {
  /** Nothing more right now (live), or maxPackets reached. */
  More = 0,
  EndOfFile = 1,
  /** The buffer is full; the next packet waits in the handle for the next call. */
  Full = 2,
  /** libpcap reported an error (a damaged file); the records before it are written. */
  Error = 3,
}

/** lastAt: where the last record written starts (the offset given when none was). */
export type BatchResult = [packets: number, end: number, status: BatchStatus, lastAt: number, error?: string];

export interface BatchBinding {
  /**
   * A savefile. Its records are read in blocks straight into dispatch's buffer where
   * they have the box's layout (pcap 2.4, this machine's byte order, microseconds), and
   * through libpcap one by one otherwise, or with blocks false.
   */
  openOffline(file: string, blocks?: boolean): CaptureHandle;
  openLive(device: string, snaplen: number, bufferBytes: number, timeoutMs: number, promisc: boolean): CaptureHandle;
  setFilter(h: CaptureHandle, bpf: string): void;
  /** Compiles a filter for a link type without a device; throws libpcap's message. */
  checkFilter(linkType: number, snaplen: number, bpf: string): void;
  /** A packet longer than maxCaplen is cut to it, its original length kept. */
  dispatch(h: CaptureHandle, buf: Buffer, offset: number, maxPackets: number, maxCaplen?: number): BatchResult;
  /** Joins a live handle to PACKET_FANOUT group groupId (hash by flow, defragmented). */
  joinFanout(h: CaptureHandle, groupId: number): void;
  /**
   * AES-256-GCM (the system's libcrypto) of body into out: ciphertext, then the 16-byte
   * tag. Returns countRecords(body), counted as each chunk is sealed.
   */
  gcmSeal(key: Buffer, iv: Buffer, ad: Buffer, body: Buffer, out: Buffer): number;
  /** False, out zeroed, when the tag does not verify. */
  gcmOpen(key: Buffer, iv: Buffer, ad: Buffer, cipher: Buffer, tag: Buffer, out: Buffer): boolean;
  /** spool/pcap-records.ts countRecords, in C. */
  countRecords(body: Buffer): number;
  /** Names the calling thread sealtap-capture and raises its priority; returns its nice value. */
  becomeCaptureThread(): number;
  /** Blocks until the capture descriptor is readable (true) or timeoutMs passes (false). */
  wait(h: CaptureHandle, timeoutMs: number): boolean;
  /** [received, dropped, interface dropped]: libpcap's 32-bit counters, which wrap. */
  stats(h: CaptureHandle): [number, number, number];
  linkType(h: CaptureHandle): number;
  snaplen(h: CaptureHandle): number;
  selectableFd(h: CaptureHandle): number;
  close(h: CaptureHandle): void;
  libVersion(): string;
  /** [file of the library gcmSeal's OpenSSL calls run in, its OpenSSL version]. */
  cryptoLibrary(): [file: string, version: string];
  /** fallocate(2) of [0, length): 0, or the errno (EOPNOTSUPP: the file system cannot). */
  allocate(fd: number, length: number): number;
  /** madvise(MADV_DONTFORK), or MADV_DOFORK when keep is false, over the buffer's whole pages: 0, or the errno. */
  keepFromChildren(buf: Buffer, keep: boolean): number;
  /** madvise(MADV_POPULATE_WRITE) over the buffer's whole pages: 0, or the errno (EINVAL before Linux 5.14). */
  prefault(buf: Buffer): number;
  /** COBS of src into out (room for cobsMaxEncodedLength(src.length)); the bytes written. */
  cobsEncode(src: Uint8Array, out: Uint8Array): number;
  /** channel/cobs.ts cobsDecode of src into out (room for src.length): the decoded length, or -1 for a bad block. */
  cobsDecode(src: Uint8Array, out: Uint8Array): number;
  /** channel/crc32c.ts crc32c(buf, start, end), in C (the SSE 4.2 instruction where the CPU has it). */
  crc32c(buf: Uint8Array, start: number, end: number): number;
  /** SHA-256 of buf[start, end) into out[0, 32), by OpenSSL (channel/checkpoint.ts frameDigest). */
  sha256(buf: Uint8Array, start: number, end: number, out: Uint8Array): void;
  /**
   * receiver/pcap-file.ts writePacked: the PACKET records of a frame body from `start`,
   * checked as writeRange checks them, copied to out[outStart..] while they fit; res
   * gets [body position, out position, records copied, records skipped].
   */
  pcapUnpack(body: Uint8Array, start: number, out: Uint8Array, outStart: number, res: Int32Array): void;
  /**
   * channel/sequencer.ts: up to `count` pcap records of a run from `off`, each behind
   * its u16 length, into body[bodyOff..] while each fits what is left of `room`; res
   * gets [records packed, run position after them, bytes written].
   */
  packRecords(run: Uint8Array, off: number, count: number, body: Uint8Array, bodyOff: number, room: number, res: Int32Array): void;
  /**
   * egress/guard.ts passesRunAt: up to `count` PACKET records of a run from `off` passed
   * while each is the common record the C check covers and its values are cached clean
   * in the guard's checked values (entries, shift) at table size `known`; res gets
   * [records passed, run position after them]. It never refuses a record.
   */
  guardRun(run: Uint8Array, off: number, count: number, linkType: number, entries: Uint32Array, shift: number, known: number, res: Int32Array): void;
  /** A context for rewriterRun (analysis/builtin/packets/commonRewrite.ts). */
  rewriterNew(): RewriterContext;
  /** The typed array of one of the context's slots (RewriterSlot). */
  rewriterBind(ctx: RewriterContext, slot: number, array: Uint8Array | Int32Array | Uint32Array | Uint16Array | Float64Array): void;
  /** Rewrites the packet its io cells describe; io[4] gets the record's length or -1. */
  rewriterRun(ctx: RewriterContext): void;
  /** The packets output's loop over a run of a segment's common records (analysis/builtin/packets/commonRewrite.ts run()). */
  packetsRun(ctx: RewriterContext): void;
  /** The flows output's loop over a run of a segment's records that join open flows (analysis/builtin/flows/flowsRun.ts). */
  flowsRun(ctx: RewriterContext): void;
  /** The first `length` bytes of an open spool slot file, mapped shared and read-only (analysis/child.ts readSealed). */
  mapSlotFile(fd: number, length: number): Buffer;
  /** Maps in (read true) or lets go of (false) the pages of a mapped slot file up to `end`; 0 or an errno. */
  slotPages(map: Buffer, end: number, read: boolean): number;
}

/** An opaque rewriter context of the addon. */
export type RewriterContext = { readonly __rewriterContext: unique symbol };

export const ADDON_PATH = path.join(__dirname, '..', '..', '..', 'build', 'sealtap-capture.node');

/**
 * Loaded with RTLD_DEEPBIND: the addon's own dependencies (libpcap, the system's
 * libcrypto.so.3) come before the global scope when its symbols are bound. The addon is
 * compiled against the system's OpenSSL headers, and a plain require() would bind its
 * EVP_* calls to the OpenSSL that the node binary exports under the same names instead,
 * a library of another build than the headers describe. Node-API's symbols, found only
 * in node, still bind there.
 */
function loadAddon(): BatchBinding {
  const m = { exports: {} as BatchBinding };
  const { RTLD_NOW, RTLD_DEEPBIND } = os.constants.dlopen as { RTLD_NOW: number; RTLD_DEEPBIND?: number };
  process.dlopen(m, ADDON_PATH, RTLD_NOW | (RTLD_DEEPBIND ?? 0));
  return m.exports;
}

export const batchBinding: BatchBinding = loadAddon();

/** The record headers of one batch, as the addon wrote them. */
export const RECORD_HEADER_BYTES = 16;
