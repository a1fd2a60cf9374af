/*
 * sealtap-capture: libpcap batch delivery for the capture thread, as a Node-API addon.
 *
 * node-pcap's dispatch calls into JavaScript once per packet, and the JavaScript then
 * copies the packet into the segment slot. Here one call of dispatch() runs
 * pcap_dispatch() for a bounded batch and its C callback copies every packet straight
 * into a caller's buffer (the slot), back to back as pcap file records: a 16-byte
 * record header (seconds, microseconds, captured length, original length; little
 * endian) and the captured bytes. JavaScript runs once per batch, never per packet.
 *
 * The room is filled exactly: a packet that does not fit is kept in the handle (the
 * callback then breaks libpcap's loop) and written first by the next call, so none is
 * cut or lost and a slot is filled to its end whatever the snap length. (Until
 * 2026-12-03 the loop called pcap_next_ex, one libpcap read per packet. It measured the
 * same: 0.075 against 0.073 CPU-s for 1M 64-byte packets from a file, and 0.11
 * CPU-s per million for the capture thread of a live capture, either way.)
 *
 * Exported: openOffline(path[, blocks]) (a savefile in the box's record layout is read in
 * blocks straight into the room, bulk_read), openLive(device, snaplen, bufferBytes, timeoutMs,
 * promisc), setFilter(h, bpf), checkFilter(linkType, snaplen, bpf),
 * dispatch(h, buf, offset, maxPackets[, maxCaplen]), wait(h, timeoutMs), stats(h),
 * joinFanout(h, groupId), gcmSeal(key, iv, ad, body, out), gcmOpen(key, iv, ad, cipher,
 * tag, out), countRecords(body), becomeCaptureThread(),
 * linkType(h), snaplen(h), selectableFd(h), close(h), libVersion(), cryptoLibrary(),
 * allocate(fd, length) (the spool's slot files: Node has no fallocate),
 * keepFromChildren(buffer, keep) (the capture slots: no copy-on-write faults after a fork),
 * prefault(buffer) (the capture slots' pages mapped in one call before capture starts),
 * cobsEncode(src, out) (the line's framing: 1.8 GB/s on a packets line's frames, where a byte loop
 * managed 1 and JavaScript 0.15-0.35),
 * cobsDecode(src, out) and crc32c(buf, start, end) (the receiver's checks of each frame),
 * sha256(buf, start, end, out) (the digest of each frame, box and receiver),
 * pcapUnpack(body, start, out, outStart, res) (the receiver's trace.pcap),
 * packRecords(run, off, count, body, bodyOff, room, res) (the box's PACKET frames).
 * Errors are thrown as JavaScript Errors with libpcap's message.
 */
#define _GNU_SOURCE /* dladdr, fallocate */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <math.h>
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/socket.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define RECORD_HEADER 16
/* stdio buffer of a savefile opened by openOffline. */
#define OFFLINE_STDIO_BYTES (256 * 1024)

typedef struct {
  pcap_t *p;
  int closed;
  /* A savefile: pcap_dispatch returning fewer packets than asked means its end. */
  int offline;
  /* A packet read that did not fit the caller's room: written first by the next call. */
  uint8_t *pending;
  size_t pendingLen;
  size_t pendingCap;
  /* A savefile's stdio buffer (see open_offline); freed after pcap_close has closed the FILE. */
  char *fileBuf;
  /* A savefile read in blocks straight into the caller's room (bulk_read): set for a
     pcap 2.4 file in this machine's byte order with microsecond times, no filter. */
  int bulk;
  /* bulk: the file offset of the next record, and the file header's snapshot length. */
  off_t off;
  uint32_t snapshot;
} handle_t;

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error((env), NULL, "sealtap-capture: Node-API call failed"); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static void put32le(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
  b[2] = (uint8_t)(v >> 16);
  b[3] = (uint8_t)(v >> 24);
}

static uint32_t get32le(const uint8_t *b) {
  return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

/* One record (header and caplen bytes) at r; the caller checked the room. */
static void put_record(uint8_t *r, const struct pcap_pkthdr *h, uint32_t caplen, const u_char *bytes) {
  put32le(r, (uint32_t)h->ts.tv_sec);
  put32le(r + 4, (uint32_t)h->ts.tv_usec);
  put32le(r + 8, caplen);
  put32le(r + 12, h->len);
  memcpy(r + RECORD_HEADER, bytes, caplen);
}

/*
 * libpcap's DLT_ values and the LINKTYPE_ numbers written in pcap files are equal but
 * for a few old values that differ between systems; libpcap keeps its own mapping
 * private, so the ones the box can meet are here, one table for both directions.
 */
static const struct { int dlt, linktype; } dlt_linktypes[] = {
#ifdef DLT_RAW
  { DLT_RAW, 101 },
#endif
#ifdef DLT_ATM_RFC1483
  { DLT_ATM_RFC1483, 100 },
#endif
#ifdef DLT_SLIP_BSDOS
  { DLT_SLIP_BSDOS, 102 },
#endif
#ifdef DLT_PPP_BSDOS
  { DLT_PPP_BSDOS, 103 },
#endif
#ifdef DLT_ATM_CLIP
  { DLT_ATM_CLIP, 106 },
#endif
};
#define DLT_LINKTYPES (sizeof dlt_linktypes / sizeof dlt_linktypes[0])

static int linktype_of(int dlt) {
  for (size_t i = 0; i < DLT_LINKTYPES; i++)
    if (dlt_linktypes[i].dlt == dlt) return dlt_linktypes[i].linktype;
  return dlt;
}

static int dlt_of(int linktype) {
  for (size_t i = 0; i < DLT_LINKTYPES; i++)
    if (dlt_linktypes[i].linktype == linktype) return dlt_linktypes[i].dlt;
  return linktype;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  handle_t *h = (handle_t *)data;
  if (!h->closed && h->p) pcap_close(h->p);
  free(h->fileBuf);
  free(h->pending);
  free(h);
}

/*
 * becomeCaptureThread() -> the nice value the calling thread now has. The capture
 * thread calls it first. It takes the name "sealtap-capture", so top -H, /proc and the
 * capture benchmark tell it from node's other threads, and a higher scheduling priority
 * than the process's other threads (nice -10, where the process may; otherwise it keeps
 * its own): when the box is short of CPU the kernel's ring must be emptied first, while
 * sealing and writing can lag into the segment slots. Measured: under a 25% CPU quota
 * the zero-loss rate of 1518-byte frames went from 35,000 to 50,000 packets/s.
 */
static napi_value num(napi_env env, double d);

static napi_value become_capture_thread(napi_env env, napi_callback_info info) {
  (void)info;
  prctl(PR_SET_NAME, "sealtap-capture", 0, 0, 0);
  pid_t tid = (pid_t)syscall(SYS_gettid);
  (void)setpriority(PRIO_PROCESS, (id_t)tid, -10);
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, (id_t)tid);
  return num(env, errno == 0 ? nice : 0);
}

/*
 * A savefile is read in blocks straight into the caller's room (bulk_read) when its
 * records are laid out as the box's: pcap 2.4, this machine's byte order, microsecond
 * times (magic a1b2c3d4 as written here). Anything else (pcapng, swapped, nanosecond,
 * other versions) goes through libpcap packet by packet, which converts it.
 */
static void choose_bulk(handle_t *h) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  FILE *f = pcap_file(h->p);
  uint8_t head[4];
  if (!f || pcap_is_swapped(h->p) || pcap_major_version(h->p) != 2 || pcap_minor_version(h->p) != 4) return;
  if (pread(fileno(f), head, sizeof head, 0) != (ssize_t)sizeof head || get32le(head) != 0xa1b2c3d4u) return;
  off_t off = ftello(f);
  int snap = pcap_snapshot(h->p);
  if (off < 0 || snap <= 0) return;
  h->off = off;
  h->snapshot = (uint32_t)snap;
  h->bulk = 1;
#else
  (void)h;
#endif
}

static napi_value wrap(napi_env env, pcap_t *p, int offline, int blocks, char *fileBuf) {
  handle_t *h = calloc(1, sizeof *h);
  if (!h) {
    pcap_close(p);
    free(fileBuf);
    napi_throw_error(env, NULL, "sealtap-capture: out of memory");
    return NULL;
  }
  h->p = p;
  h->offline = offline;
  h->fileBuf = fileBuf;
  if (offline && blocks) choose_bulk(h);
  napi_value ext;
  if (napi_create_external(env, h, finalize_handle, NULL, &ext) != napi_ok) {
    /* No JavaScript object owns the handle: nothing would ever close it. */
    finalize_handle(env, h, NULL);
    napi_throw_error(env, NULL, "sealtap-capture: Node-API call failed");
    return NULL;
  }
  return ext;
}

static handle_t *unwrap(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "sealtap-capture: not a capture handle");
    return NULL;
  }
  handle_t *h = (handle_t *)data;
  if (h->closed) {
    napi_throw_error(env, NULL, "sealtap-capture: the handle is closed");
    return NULL;
  }
  return h;
}

/*
 * The call's arguments (at most *argc of them) and the first one as an open handle;
 * NULL with a JavaScript exception pending when there is none.
 */
static handle_t *handle_args(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  if (napi_get_cb_info(env, info, argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "sealtap-capture: Node-API call failed");
    return NULL;
  }
  if (*argc < 1) {
    napi_throw_type_error(env, NULL, "sealtap-capture: a capture handle is required");
    return NULL;
  }
  return unwrap(env, argv[0]);
}

static int get_string(napi_env env, napi_value v, char *out, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, size, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "sealtap-capture: expected a string");
    return -1;
  }
  if (len >= size - 1) {
    napi_throw_range_error(env, NULL, "sealtap-capture: string too long");
    return -1;
  }
  return 0;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static napi_value open_offline(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  if (argc < 1 || get_string(env, argv[0], path, sizeof path) < 0) return NULL;
  /* blocks false: every packet through libpcap (the tests' reference for bulk_read). */
  bool blocks = true;
  if (argc >= 2 && napi_get_value_bool(env, argv[1], &blocks) != napi_ok) {
    napi_throw_type_error(env, NULL, "sealtap-capture: openOffline(path[, blocks]) takes a path and a boolean");
    return NULL;
  }
  /* libpcap reads a savefile through stdio, 16 bytes of header and then the packet per
     read; with glibc's default buffer (the file's block size, 4 KiB) that is a read(2)
     every few packets. A larger buffer: 1M IMIX packets cost 0.09 CPU-s instead of
     0.23 (docs/benchmarks.md). */
  /* "e": close-on-exec, so no process started later (an analysis restart) inherits it. */
  FILE *f = fopen(path, "rbe");
  if (!f) {
    char msg[4200];
    snprintf(msg, sizeof msg, "%s: %s", path, strerror(errno));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  char *buf = malloc(OFFLINE_STDIO_BYTES);
  if (buf) setvbuf(f, buf, _IOFBF, OFFLINE_STDIO_BYTES);
  char err[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, err);
  if (!p) {
    /* libpcap takes f over only on success (pcap_close closes it then). */
    fclose(f);
    free(buf);
    char msg[4200];
    snprintf(msg, sizeof msg, "%s: %s", path, err);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  return wrap(env, p, 1, blocks, buf);
}

static napi_value open_live(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "sealtap-capture: openLive(device, snaplen, bufferBytes, timeoutMs, promisc)");
    return NULL;
  }
  char dev[256];
  if (get_string(env, argv[0], dev, sizeof dev) < 0) return NULL;
  int32_t snaplen = 0, buffer = 0, timeout = 0;
  bool promisc = false;
  CHECK(env, napi_get_value_int32(env, argv[1], &snaplen));
  CHECK(env, napi_get_value_int32(env, argv[2], &buffer));
  CHECK(env, napi_get_value_int32(env, argv[3], &timeout));
  CHECK(env, napi_get_value_bool(env, argv[4], &promisc));
  char err[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_create(dev, err);
  if (!p) {
    napi_throw_error(env, NULL, err);
    return NULL;
  }
  /* A positive timeout keeps TPACKET_V3 block batching: the kernel hands over a block
     when it is full or the timeout passes, not a packet at a time. */
  if (pcap_set_snaplen(p, snaplen) || pcap_set_buffer_size(p, buffer) || pcap_set_timeout(p, timeout > 0 ? timeout : 1) ||
      pcap_set_promisc(p, promisc ? 1 : 0)) {
    pcap_close(p);
    napi_throw_error(env, NULL, "sealtap-capture: cannot set the capture options");
    return NULL;
  }
  int rc = pcap_activate(p);
  if (rc < 0) {
    char msg[PCAP_ERRBUF_SIZE + 64];
    snprintf(msg, sizeof msg, "%s: %s", dev, rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc));
    pcap_close(p);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  if (pcap_setnonblock(p, 1, err) < 0) {
    pcap_close(p);
    napi_throw_error(env, NULL, err);
    return NULL;
  }
  return wrap(env, p, 0, 0, NULL);
}

static napi_value set_filter(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  handle_t *h = handle_args(env, info, &argc, argv);
  if (!h) return NULL;
  char expr[8192];
  if (argc < 2 || get_string(env, argv[1], expr, sizeof expr) < 0) return NULL;
  struct bpf_program prog;
  if (pcap_compile(h->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
    napi_throw_error(env, NULL, pcap_geterr(h->p));
    return NULL;
  }
  int rc = pcap_setfilter(h->p, &prog);
  pcap_freecode(&prog);
  /* libpcap's filter sees every packet of a savefile: no more blocks past it. */
  if (rc == 0 && h->bulk) {
    h->bulk = 0;
    if (fseeko(pcap_file(h->p), h->off, SEEK_SET) != 0) {
      napi_throw_error(env, NULL, "sealtap-capture: cannot seek in the savefile");
      return NULL;
    }
  }
  if (rc < 0) napi_throw_error(env, NULL, pcap_geterr(h->p));
  return NULL;
}

/* What one dispatch() call fills, for the pcap_dispatch callback. */
typedef struct {
  handle_t *h;
  uint8_t *out;
  size_t length;
  size_t at;
  size_t last;
  uint32_t packets;
  uint32_t maxCaplen;
  int full; /* the room is full: the packet that did not fit waits in h->pending */
  int oom;
} batch_t;

/* libpcap's callback, once per packet: the record goes straight into the room. */
static void on_packet(u_char *user, const struct pcap_pkthdr *hdr, const u_char *bytes) {
  batch_t *b = (batch_t *)user;
  uint32_t caplen = hdr->caplen < b->maxCaplen ? hdr->caplen : b->maxCaplen;
  size_t need = RECORD_HEADER + (size_t)caplen;
  if (b->at + need <= b->length) {
    put_record(b->out + b->at, hdr, caplen, bytes);
    b->last = b->at;
    b->at += need;
    b->packets++;
    return;
  }
  handle_t *h = b->h;
  if (need > h->pendingCap) {
    uint8_t *grown = realloc(h->pending, need);
    if (!grown) {
      b->oom = 1;
      pcap_breakloop(h->p);
      return;
    }
    h->pending = grown;
    h->pendingCap = need;
  }
  put_record(h->pending, hdr, caplen, bytes);
  h->pendingLen = need;
  b->full = 1;
  pcap_breakloop(h->p);
}

/* Bytes bulk_read asks pread(2) for at a time: the records past the caller's limit are read again next call. */
#define BULK_CHUNK (128 * 1024)

/*
 * 1 when the record header r is one bulk_read takes as it is: its captured length within
 * the file's snapshot, the caller's cut and its own original length.
 */
static int plain_record(const handle_t *h, const batch_t *b, const uint8_t *r) {
  uint32_t caplen = get32le(r + 8);
  return caplen <= h->snapshot && caplen <= b->maxCaplen && caplen <= get32le(r + 12);
}

/*
 * The record at h->off read into h->pending, as on_packet holds a packet the room cannot
 * take: 0, or -1 when it is not a plain record there whole (libpcap takes it then).
 */
static int hold_next(handle_t *h, batch_t *b) {
  int fd = fileno(pcap_file(h->p));
  uint8_t head[RECORD_HEADER];
  ssize_t n;
  do n = pread(fd, head, sizeof head, h->off); while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof head || !plain_record(h, b, head)) return -1;
  uint32_t caplen = get32le(head + 8);
  size_t need = RECORD_HEADER + (size_t)caplen;
  if (need > h->pendingCap) {
    uint8_t *grown = realloc(h->pending, need);
    if (!grown) return -1;
    h->pending = grown;
    h->pendingCap = need;
  }
  memcpy(h->pending, head, sizeof head);
  do n = pread(fd, h->pending + RECORD_HEADER, caplen, h->off + RECORD_HEADER); while (n < 0 && errno == EINTR);
  if (n != (ssize_t)caplen) return -1;
  h->pendingLen = need;
  h->off += (off_t)need;
  b->full = 1;
  return 0;
}

/*
 * dispatch's work on a savefile with h->bulk: records are read with pread(2) from
 * h->off straight into the room, where they already have the box's record layout, and
 * each is only checked there. A record that is not plain (caplen above the file's
 * snapshot or maxCaplen, or above its own len), one the room cannot take whole, the
 * end of the file or a read error go through libpcap instead, one packet at a time at
 * that offset: it cuts, holds (h->pending), ends or reports exactly as it does for
 * every packet of other files. Measured on the 1M-packet IMIX trace (370 MB), a loop
 * of dispatch calls of 4,096 packets into a 4 MiB room: 196-211 CPU-ms through libpcap
 * (stdio's read into its buffer, libpcap's copy out of it, the callback's copy into the
 * room), 46-47 ms in blocks (docs/benchmarks.md). Returns dispatch's status; b->at,
 * b->last and b->packets say what was written.
 */
static int bulk_read(handle_t *h, batch_t *b, uint32_t max) {
  FILE *f = pcap_file(h->p);
  size_t valid = 0; /* bytes of the file from h->off on, read to b->out + b->at */
  while (b->packets < max) {
    uint8_t *r = b->out + b->at;
    size_t need = RECORD_HEADER;
    if (valid >= RECORD_HEADER) {
      if (!plain_record(h, b, r)) goto by_libpcap;
      need = RECORD_HEADER + (size_t)get32le(r + 8);
      if (valid >= need) {
        b->last = b->at;
        b->at += need;
        h->off += (off_t)need;
        valid -= need;
        b->packets++;
        continue;
      }
    }
    if (b->at + need > b->length) { /* the room cannot take it whole: it waits in the handle */
      if (hold_next(h, b) == 0) return 2;
      goto by_libpcap;
    }
    size_t want = b->length - b->at - valid;
    if (want > BULK_CHUNK) want = BULK_CHUNK;
    if (max - b->packets == 1 && need - valid < want) want = need - valid; /* one packet: no more than it */
    ssize_t n = pread(fileno(f), r + valid, want, h->off + (off_t)valid);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) goto by_libpcap; /* the end, a record cut short by it, or a read error */
    valid += (size_t)n;
    continue;
  by_libpcap:;
    if (fseeko(f, h->off, SEEK_SET) != 0) {
      snprintf(pcap_geterr(h->p), PCAP_ERRBUF_SIZE, "cannot seek in the savefile: %s", strerror(errno));
      return 3;
    }
    int full = b->full;
    int rc;
    do rc = pcap_dispatch(h->p, 1, on_packet, (u_char *)b); while (rc == PCAP_ERROR_BREAK && !b->oom && b->full == full);
    off_t at = ftello(f);
    if (at >= 0) h->off = at;
    valid = 0;
    if (b->oom || b->full) return 2;
    if (rc < 0) return 3;
    if (rc == 0) return 1;
  }
  return 0;
}

/*
 * dispatch(h, buf, offset, maxPackets[, maxCaplen]) -> [packets, endOffset, status, lastOffset]
 * Writes up to maxPackets records into buf from offset; lastOffset is where the last
 * record written starts (offset when none was). A packet longer than maxCaplen (when
 * given) is cut to it, its original length kept. status: 0 nothing more right now (a
 * live capture with an empty ring) or maxPackets reached, 1 end of file, 2 the room is
 * full (the next packet waits in the handle), 3 a libpcap error (a damaged file): the
 * records before it are written and counted, its message is element 4.
 */
static napi_value dispatch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  handle_t *h = handle_args(env, info, &argc, argv);
  if (!h) return NULL;
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "sealtap-capture: dispatch(handle, buffer, offset, maxPackets[, maxCaplen])");
    return NULL;
  }
  void *data;
  size_t length;
  CHECK(env, napi_get_buffer_info(env, argv[1], &data, &length));
  int64_t offset = 0;
  int32_t max = 0;
  uint32_t maxCaplen = UINT32_MAX;
  CHECK(env, napi_get_value_int64(env, argv[2], &offset));
  CHECK(env, napi_get_value_int32(env, argv[3], &max));
  if (argc >= 5) CHECK(env, napi_get_value_uint32(env, argv[4], &maxCaplen));
  if (offset < 0 || (uint64_t)offset > length || max < 1 || maxCaplen < 1) {
    napi_throw_range_error(env, NULL, "sealtap-capture: offset outside the buffer, maxPackets < 1 or maxCaplen < 1");
    return NULL;
  }
  uint8_t *out = (uint8_t *)data;
  size_t at = (size_t)offset;
  size_t last = at;
  uint32_t packets = 0;
  int status = 0;
  if (h->pendingLen) {
    if (at + h->pendingLen > length) {
      status = 2;
      goto done;
    }
    memcpy(out + at, h->pending, h->pendingLen);
    last = at;
    at += h->pendingLen;
    h->pendingLen = 0;
    packets++;
  }
  batch_t b = { .h = h, .out = out, .length = length, .at = at, .last = last, .maxCaplen = maxCaplen };
  if (h->bulk) {
    b.packets = packets;
    status = bulk_read(h, &b, (uint32_t)max);
    if (b.oom) {
      napi_throw_error(env, NULL, "sealtap-capture: out of memory");
      return NULL;
    }
    packets = b.packets;
    at = b.at;
    last = b.last;
    goto done;
  }
  while (packets + b.packets < (uint32_t)max) {
    int want = (int)((uint32_t)max - packets - b.packets);
    int rc = pcap_dispatch(h->p, want, on_packet, (u_char *)&b);
    if (b.oom) {
      napi_throw_error(env, NULL, "sealtap-capture: out of memory");
      return NULL;
    }
    if (b.full) {
      status = 2;
      break;
    }
    if (rc == PCAP_ERROR_BREAK) {
      /* A savefile's reader leaves the break flag of the previous call's full room set
       * when that call had delivered packets; this call cleared it. Read on. */
      if (h->offline) continue;
      break;
    }
    if (rc < 0) {
      status = 3;
      break;
    }
    /* Live: the ring is empty for now, or the batch is complete. A savefile delivers
     * all it was asked for unless it ended. */
    if (!h->offline) break;
    if (rc < want) {
      status = 1;
      break;
    }
  }
  packets += b.packets;
  at = b.at;
  last = b.last;
done:;
  napi_value res;
  CHECK(env, napi_create_array_with_length(env, status == 3 ? 5 : 4, &res));
  napi_set_element(env, res, 0, num(env, packets));
  napi_set_element(env, res, 1, num(env, (double)at));
  napi_set_element(env, res, 2, num(env, status));
  napi_set_element(env, res, 3, num(env, (double)last));
  if (status == 3) {
    napi_value msg;
    napi_create_string_utf8(env, pcap_geterr(h->p), NAPI_AUTO_LENGTH, &msg);
    napi_set_element(env, res, 4, msg);
  }
  return res;
}

/*
 * wait(h, timeoutMs) -> true when the capture descriptor is readable, false when the
 * time passed first (or a signal interrupted the wait). The capture thread blocks here
 * instead of waking on a timer: with TPACKET_V3 the descriptor becomes readable when
 * the kernel retires a block, full or at the read timeout.
 */
static napi_value wait_readable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  handle_t *h = handle_args(env, info, &argc, argv);
  if (!h) return NULL;
  int32_t timeout = 0;
  if (argc < 2 || napi_get_value_int32(env, argv[1], &timeout) != napi_ok || timeout < 0) {
    napi_throw_type_error(env, NULL, "sealtap-capture: wait(handle, timeoutMs >= 0)");
    return NULL;
  }
  int fd = pcap_get_selectable_fd(h->p);
  if (fd < 0) {
    napi_throw_error(env, NULL, "sealtap-capture: this capture has no descriptor to wait on");
    return NULL;
  }
  struct pollfd pfd = { .fd = fd, .events = POLLIN, .revents = 0 };
  int rc = poll(&pfd, 1, timeout);
  if (rc < 0 && errno != EINTR) {
    char msg[128];
    snprintf(msg, sizeof msg, "sealtap-capture: poll on the capture descriptor failed: %s", strerror(errno));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_value v;
  napi_get_boolean(env, rc > 0, &v);
  return v;
}

/*
 * joinFanout(h, groupId): puts a live handle's packet socket into PACKET_FANOUT group
 * groupId (1..65535) in hash mode, IP fragments defragmented first: the kernel gives
 * each packet to exactly one socket of the group, the same socket for both directions
 * of a flow (its flow hash is symmetric). Throws with the system's reason.
 */
static napi_value join_fanout(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  handle_t *h = handle_args(env, info, &argc, argv);
  if (!h) return NULL;
  int32_t group = 0;
  if (argc < 2 || napi_get_value_int32(env, argv[1], &group) != napi_ok || group < 1 || group > 0xffff) {
    napi_throw_type_error(env, NULL, "sealtap-capture: joinFanout(handle, groupId 1..65535)");
    return NULL;
  }
  int arg = (group & 0xffff) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
  if (setsockopt(pcap_fileno(h->p), SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "cannot join packet fanout group %d: %s", group, strerror(errno));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  return NULL;
}

/* The first n arguments as Buffers (data and length each); false, with a TypeError thrown, otherwise. */
static int buffer_args(napi_env env, napi_callback_info info, size_t n, void **ptr, size_t *len, const char *usage) {
  size_t argc = 6;
  napi_value argv[6];
  if (n > 6 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (napi_get_buffer_info(env, argv[i], &ptr[i], &len[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, usage);
      return 0;
    }
  }
  return 1;
}

#define SEAL_CHUNK (64 * 1024)

/* Walks the records that start before `end` from *off (counting them in *n); false when one runs past len. */
static int walk_records(const uint8_t *b, size_t len, size_t end, size_t *off, double *n) {
  while (*off < end) {
    if (len - *off < 16) return 0;
    uint32_t caplen = (uint32_t)b[*off + 8] | (uint32_t)b[*off + 9] << 8 | (uint32_t)b[*off + 10] << 16 | (uint32_t)b[*off + 11] << 24;
    if ((size_t)caplen > len - *off - 16) return 0;
    *off += 16 + (size_t)caplen;
    (*n)++;
  }
  return 1;
}

/*
 * gcmSeal(key, iv, ad, body, out): AES-256-GCM of body under key (32 bytes) and iv (12
 * bytes), ad authenticated; out receives the ciphertext and then the 16-byte tag, in
 * the caller's buffer (node:crypto's update() returns a new buffer per call: 0.7-1.0
 * GB/s on a 4 MiB segment against 3.4-3.7 here; docs/benchmarks.md). Built against the
 * system's OpenSSL headers; batch-binding.ts loads this addon with RTLD_DEEPBIND so that
 * the EVP calls bind to the system's libcrypto.so.3, which those headers describe, and
 * not to the OpenSSL the node binary exports under the same names. cryptoLibrary()
 * reports which one they run in. OpenSSL copies the key into its context, and clears
 * the context when it is freed at the end of the call. Throws on a wrong size or a
 * failure.
 *
 * Returns the number of pcap records that tile body (as countRecords does), or -1.
 * The body is sealed a chunk at a time and each chunk's record headers are walked
 * while the cipher has just pulled it into this core's cache; walked after the whole
 * segment was sealed, each header was a cache miss again (a profile of the supervisor
 * at 200,000 IMIX packets/s: that walk took 12% of its thread, 40% as much as the
 * cipher).
 */
static napi_value gcm_seal(napi_env env, napi_callback_info info) {
  void *ptr[5];
  size_t len[5];
  if (!buffer_args(env, info, 5, ptr, len, "sealtap-capture: gcmSeal(key, iv, ad, body, out) takes Buffers")) return NULL;
  if (len[0] != 32 || len[1] != 12 || len[4] < len[3] + 16 || len[3] > INT32_MAX || len[2] > INT32_MAX) {
    napi_throw_range_error(env, NULL, "sealtap-capture: gcmSeal needs a 32-byte key, a 12-byte iv and out of body + 16 bytes");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int outl = 0, ok = ctx != NULL;
  uint8_t *out = (uint8_t *)ptr[4];
  ok = ok && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1;
  ok = ok && EVP_EncryptInit_ex(ctx, NULL, NULL, ptr[0], ptr[1]) == 1;
  int adl = 0;
  ok = ok && (len[2] == 0 || EVP_EncryptUpdate(ctx, NULL, &adl, ptr[2], (int)len[2]) == 1);
  const uint8_t *body = (const uint8_t *)ptr[3];
  size_t at = 0, rec = 0;
  double records = 0;
  int tiled = 1;
  while (ok && at < len[3]) {
    size_t n = len[3] - at < SEAL_CHUNK ? len[3] - at : SEAL_CHUNK;
    int l = 0;
    ok = EVP_EncryptUpdate(ctx, out + at, &l, body + at, (int)n) == 1 && (size_t)l == n;
    at += n;
    if (tiled) tiled = walk_records(body, len[3], at, &rec, &records);
  }
  outl = (int)at;
  int fin = 0;
  ok = ok && EVP_EncryptFinal_ex(ctx, out + outl, &fin) == 1 && (size_t)(outl + fin) == len[3];
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + len[3]) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    napi_throw_error(env, NULL, "sealtap-capture: AES-256-GCM sealing failed in OpenSSL");
    return NULL;
  }
  return num(env, tiled ? records : -1);
}

/*
 * gcmOpen(key, iv, ad, cipher, tag, out): the inverse of gcmSeal, for the analysis
 * process that opens every segment: verifies the 16-byte tag over ad and cipher and
 * decrypts cipher into out (the same length), in the caller's buffer. node:crypto's
 * update() returns a new buffer per call, which the caller then copies: a fresh 4 MiB
 * of page faults and clearing per segment and shard (docs/benchmarks.md). Returns
 * false, with out zeroed, when the tag does not verify; throws on a wrong size.
 */
static napi_value gcm_open(napi_env env, napi_callback_info info) {
  void *ptr[6];
  size_t len[6];
  if (!buffer_args(env, info, 6, ptr, len, "sealtap-capture: gcmOpen(key, iv, ad, cipher, tag, out) takes Buffers")) return NULL;
  if (len[0] != 32 || len[1] != 12 || len[4] != 16 || len[5] != len[3] || len[3] > INT32_MAX || len[2] > INT32_MAX) {
    napi_throw_range_error(env, NULL, "sealtap-capture: gcmOpen needs a 32-byte key, a 12-byte iv, a 16-byte tag and out as long as cipher");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int outl = 0, adl = 0, fin = 0, ok = ctx != NULL;
  uint8_t *out = (uint8_t *)ptr[5];
  ok = ok && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1;
  ok = ok && EVP_DecryptInit_ex(ctx, NULL, NULL, ptr[0], ptr[1]) == 1;
  ok = ok && (len[2] == 0 || EVP_DecryptUpdate(ctx, NULL, &adl, ptr[2], (int)len[2]) == 1);
  ok = ok && (len[3] == 0 || EVP_DecryptUpdate(ctx, out, &outl, ptr[3], (int)len[3]) == 1);
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, ptr[4]) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx, out + outl, &fin) == 1 && (size_t)(outl + fin) == len[3];
  EVP_CIPHER_CTX_free(ctx);
  if (!ok && len[5] > 0) memset(out, 0, len[5]);
  napi_value r;
  CHECK(env, napi_get_boolean(env, ok, &r));
  return r;
}

/*
 * countRecords(body): the number of pcap records (16-byte little-endian header, then
 * caplen bytes) that exactly tile body, or -1 if one runs past its end: the check a
 * segment's body gets before it is sealed and after it is opened, at a few ns a record
 * where the JavaScript walk (spool/pcap-records.ts) takes 17.
 */
static napi_value count_records(napi_env env, napi_callback_info info) {
  void *p = NULL;
  size_t len = 0;
  if (!buffer_args(env, info, 1, &p, &len, "sealtap-capture: countRecords(body) takes a Buffer")) return NULL;
  size_t off = 0;
  double n = 0;
  return num(env, walk_records((const uint8_t *)p, len, len, &off, &n) ? n : -1);
}

/*
 * keepFromChildren(buf, keep) -> 0 or an errno: madvise(MADV_DONTFORK), or MADV_DOFORK
 * when keep is false, over the whole pages of buf. A fork (libuv starts every child
 * process with one) write-protects the parent's private pages until the child execs;
 * each page the capture thread then writes takes a fault. Pages kept from children are
 * never shared that way, and the raw packets in them are never mapped into a child,
 * even for the instant before its exec. The flag outlives the buffer: memory the
 * allocator hands out again would be missing in the next child (its exec fails with
 * EFAULT), so the owner clears it (keep false) before it lets the buffer go.
 */
static napi_value keep_from_children(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p = NULL;
  size_t len = 0;
  bool keep = true;
  if (argc < 2 || napi_get_buffer_info(env, argv[0], &p, &len) != napi_ok || napi_get_value_bool(env, argv[1], &keep) != napi_ok) {
    napi_throw_type_error(env, NULL, "sealtap-capture: keepFromChildren(buffer, keep) takes a Buffer and a boolean");
    return NULL;
  }
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
  uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);
  int rc = 0;
  if (end > start && madvise((void *)start, end - start, keep ? MADV_DONTFORK : MADV_DOFORK) != 0) rc = errno;
  return num(env, rc);
}

/*
 * prefault(buf) -> 0 or an errno: madvise(MADV_POPULATE_WRITE) over the buffer's whole
 * pages, so the kernel allocates and maps them now, writable, in one call: no page
 * fault on a later write. Where the kernel has no MADV_POPULATE_WRITE (before Linux
 * 5.14: EINVAL) the caller writes the pages itself.
 */
static napi_value prefault(napi_env env, napi_callback_info info) {
  void *p = NULL;
  size_t len = 0;
  if (!buffer_args(env, info, 1, &p, &len, "sealtap-capture: prefault(buffer) takes a Buffer")) return NULL;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
  uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
  int rc = 0;
  if (end > start && madvise((void *)start, end - start, MADV_POPULATE_WRITE) != 0) rc = errno;
  return num(env, rc);
}

/*
 * checkFilter(linkType, snaplen, bpf): compiles a capture filter for a LINKTYPE_ without
 * opening a device, so a configuration is refused before the box starts. Throws
 * libpcap's message.
 */
static napi_value check_filter(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t linktype = 0, snap = 0;
  char expr[8192];
  if (argc < 3 || napi_get_value_int32(env, argv[0], &linktype) != napi_ok || napi_get_value_int32(env, argv[1], &snap) != napi_ok) {
    napi_throw_type_error(env, NULL, "sealtap-capture: checkFilter(linkType, snaplen, bpf)");
    return NULL;
  }
  if (get_string(env, argv[2], expr, sizeof expr) < 0) return NULL;
  pcap_t *p = pcap_open_dead(dlt_of(linktype), snap);
  if (!p) {
    napi_throw_error(env, NULL, "sealtap-capture: out of memory");
    return NULL;
  }
  struct bpf_program prog;
  if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
    napi_throw_error(env, NULL, pcap_geterr(p));
    pcap_close(p);
    return NULL;
  }
  pcap_freecode(&prog);
  pcap_close(p);
  return NULL;
}

static napi_value stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  handle_t *h = handle_args(env, info, &argc, argv);
  if (!h) return NULL;
  struct pcap_stat s;
  memset(&s, 0, sizeof s);
  if (pcap_stats(h->p, &s) < 0) {
    napi_throw_error(env, NULL, pcap_geterr(h->p));
    return NULL;
  }
  napi_value out;
  CHECK(env, napi_create_array_with_length(env, 3, &out));
  napi_set_element(env, out, 0, num(env, s.ps_recv));
  napi_set_element(env, out, 1, num(env, s.ps_drop));
  napi_set_element(env, out, 2, num(env, s.ps_ifdrop));
  return out;
}

static napi_value int_of(napi_env env, napi_callback_info info, int which) {
  size_t argc = 1;
  napi_value argv[1];
  handle_t *h = handle_args(env, info, &argc, argv);
  if (!h) return NULL;
  int v = which == 0 ? linktype_of(pcap_datalink(h->p)) : which == 1 ? pcap_snapshot(h->p) : pcap_get_selectable_fd(h->p);
  return num(env, v);
}

static napi_value link_type(napi_env env, napi_callback_info info) { return int_of(env, info, 0); }
static napi_value snaplen(napi_env env, napi_callback_info info) { return int_of(env, info, 1); }
static napi_value selectable_fd(napi_env env, napi_callback_info info) { return int_of(env, info, 2); }

static napi_value close_handle(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  handle_t *h = handle_args(env, info, &argc, argv);
  if (!h) return NULL;
  pcap_close(h->p);
  h->p = NULL;
  h->closed = 1;
  return NULL;
}

static napi_value lib_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &v);
  return v;
}

/* cryptoLibrary(): [file of the shared object that gcmSeal's EVP calls run in, its OpenSSL version] */
static napi_value crypto_library(napi_env env, napi_callback_info info) {
  (void)info;
  Dl_info di;
  const char *file = dladdr((void *)&EVP_EncryptUpdate, &di) && di.dli_fname ? di.dli_fname : "";
  napi_value arr, f, v;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_string_utf8(env, file, NAPI_AUTO_LENGTH, &f);
  napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, arr, 0, f);
  napi_set_element(env, arr, 1, v);
  return arr;
}

/*
 * allocate(fd, length): fallocate(2), mode 0: the file's blocks up to `length` are
 * reserved now (no ENOSPC later) and read as zeros, without writing them. Returns 0,
 * or the errno (EOPNOTSUPP where the file system cannot: the caller writes zeros).
 */
static napi_value allocate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  int64_t length = -1;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &length) != napi_ok || fd < 0 || length <= 0) {
    napi_throw_type_error(env, NULL, "sealtap-capture: allocate(fd, length) takes an open fd and a positive length");
    return NULL;
  }
  int rc = 0;
  while (fallocate(fd, 0, 0, (off_t)length) != 0) {
    if (errno == EINTR) continue;
    rc = errno;
    break;
  }
  return num(env, rc);
}

/* The (src, out) Uint8Arrays of cobsEncode and cobsDecode; false (a TypeError thrown) otherwise. */
static int src_and_out(napi_env env, napi_callback_info info, const char *usage, uint8_t **src, size_t *n, uint8_t **out, size_t *cap) {
  size_t argc = 2;
  napi_value argv[2];
  napi_typedarray_type t1 = napi_int8_array, t2 = napi_int8_array;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_typedarray_info(env, argv[0], &t1, n, (void **)src, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &t2, cap, (void **)out, NULL, NULL) != napi_ok ||
      t1 != napi_uint8_array || t2 != napi_uint8_array) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

/* v as a typed array of `type` with at least `min` elements into *p, *len; 0 when it is not one. */
static int typed_arg(napi_env env, napi_value v, napi_typedarray_type type, size_t min, void **p, size_t *len) {
  napi_typedarray_type t = napi_int8_array;
  return napi_get_typedarray_info(env, v, &t, len, p, NULL, NULL) == napi_ok && t == type && *len >= min;
}

/* v as a whole number from 0 to max into *out; 0 when it is not one. */
static int index_arg(napi_env env, napi_value v, double max, size_t *out) {
  double d = -1;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || !(d <= max) || d != (double)(size_t)d) return 0;
  *out = (size_t)d;
  return 1;
}

/*
 * The COBS decoder's word steps: eight bytes loaded at once (unaligned, little-endian, so
 * the first byte is the lowest), with zero_bytes flagging the top bit of every byte
 * that is zero. A borrow can flag a byte above a zero, never one below, so the lowest
 * flag is always the first zero.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define COBS_WORDS 1
static inline uint64_t zero_bytes(uint64_t v) {
  return (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;
}
#else
#define COBS_WORDS 0
#endif

/*
 * The zeros of src[base, base + 16) as a bit mask, bit i for byte base + i (SSE2, which
 * every x86-64 has); cobs_shifted_encode and cobs_shifted_decode scan with it.
 */
#ifdef __SSE2__
#define COBS_SHIFTED 1
static inline unsigned zeros16(const uint8_t *p) {
  return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), _mm_setzero_si128()));
}

/*
 * COBS where no block is full (every run of non-zero bytes, the last included, at most
 * 253 long): then the output is src one byte further on, each zero replaced by the code
 * of the block after it, and a code first. One copy, then a store per zero found 16
 * bytes at a time. Returns the length (n + 1), or 0 for a run too long (the caller
 * encodes byte by byte then). On the frames of a packets line, whose headers hold a
 * zero every few bytes, the byte loop ran at 1 GB/s.
 */
static size_t cobs_shifted_encode(const uint8_t *src, size_t n, uint8_t *out) {
  memcpy(out + 1, src, n);
  size_t code_at = 0, base = 0;
  for (; base + 16 <= n; base += 16) {
    for (unsigned m = zeros16(src + base); m != 0; m &= m - 1) {
      size_t z = base + (size_t)__builtin_ctz(m);
      if (z + 1 - code_at > 254) return 0;
      out[code_at] = (uint8_t)(z + 1 - code_at);
      code_at = z + 1;
    }
  }
  for (size_t z = base; z < n; z++) {
    if (src[z] != 0) continue;
    if (z + 1 - code_at > 254) return 0;
    out[code_at] = (uint8_t)(z + 1 - code_at);
    code_at = z + 1;
  }
  if (n + 1 - code_at > 254) return 0;
  out[code_at] = (uint8_t)(n + 1 - code_at);
  return n + 1;
}

/*
 * The decoder's counterpart, for a block with no 0x00 in it: src after its first byte is
 * copied whole, then each code's block is walked and the byte where the next code stood
 * becomes the implied zero. Stops before the first full block (code 0xff: no zero
 * implied, so what follows is no longer one byte back). Returns the src offset of the
 * code it stopped at (n when done) and sets *o to the bytes decoded; -1 for a code past
 * the end.
 */
static long cobs_shifted_decode(const uint8_t *src, size_t n, uint8_t *out, size_t *o) {
  memcpy(out, src + 1, n - 1);
  size_t i = 0;
  while (i < n) {
    size_t code = src[i];
    if (code == 0xff) break;
    size_t end = i + code;
    if (end > n) return -1;
    if (end < n) out[end - 1] = 0;
    i = end;
  }
  *o = i < n ? i : n - 1;
  return (long)i;
}
#else
#define COBS_SHIFTED 0
#endif

/*
 * cobsEncode(src, out): COBS of src (a Uint8Array) into out, which must hold
 * src.length + ceil(src.length / 254) + 1 bytes; returns the bytes written. Blocks of
 * at most 254 non-zero bytes, each after a code byte: 0xff for a full block (no zero
 * implied), else its length + 1 (a zero implied unless it ends the input). The
 * byte-at-a-time definition in test/channel/cobs.test.ts is the reference.
 */
static napi_value cobs_encode(napi_env env, napi_callback_info info) {
  uint8_t *src = NULL, *out = NULL;
  size_t n = 0, cap = 0;
  if (!src_and_out(env, info, "sealtap-capture: cobsEncode(src, out) takes two Uint8Arrays", &src, &n, &out, &cap)) return NULL;
  if (cap < n + (n + 253) / 254 + 1) {
    napi_throw_range_error(env, NULL, "sealtap-capture: cobsEncode's out is smaller than src.length + ceil(src.length / 254) + 1");
    return NULL;
  }
#if COBS_SHIFTED
  size_t shifted = cobs_shifted_encode(src, n, out);
  if (shifted > 0) return num(env, (double)shifted);
#endif
  /* Byte by byte: record frames hold a zero every few bytes (packet headers), where a
   * memchr and a memcpy per run cost twice this loop, and eight-byte steps (as the
   * decoder's) a third more: most of them find a zero and fall back (measured on the
   * frames of a packets line). */
  size_t o = 1, code_at = 0;
  unsigned code = 1;
  for (size_t i = 0; i < n;) {
    uint8_t b = src[i++];
    if (b == 0) {
      out[code_at] = (uint8_t)code;
      code = 1;
      code_at = o++;
      continue;
    }
    out[o++] = b;
    if (++code == 0xff) {
      out[code_at] = 0xff;
      code = 1;
      code_at = o++;
    }
  }
  out[code_at] = (uint8_t)code;
  return num(env, (double)o);
}

/*
 * cobsDecode(src, out): decodes one COBS block (the bytes between two 0x00 delimiters)
 * into out, which must hold src.length bytes; returns the decoded length, or -1 when
 * src is not a block the encoder makes (a 0x00 in it, or a code that runs past its
 * end). The receiver decodes every frame of the line here; cobsDecode in
 * firmware/channel/cobs.ts is the definition, and the tests compare the two.
 */
static napi_value cobs_decode(napi_env env, napi_callback_info info) {
  uint8_t *src = NULL, *out = NULL;
  size_t n = 0, cap = 0;
  if (!src_and_out(env, info, "sealtap-capture: cobsDecode(src, out) takes two Uint8Arrays", &src, &n, &out, &cap)) return NULL;
  if (cap < n) {
    napi_throw_range_error(env, NULL, "sealtap-capture: cobsDecode's out is smaller than src");
    return NULL;
  }
  /* Eight bytes at a time where both buffers have eight to spare (a group's tail is
   * stored whole and the excess written over by what follows), else byte by byte:
   * either way one pass that copies and finds a zero. On the frames of a packets line
   * 42 ms against the byte loop's 50-66 (a memchr and a memcpy per group cost twice the
   * byte loop: packet headers make groups of a few bytes). */
  size_t i = 0, o = 0;
#if COBS_SHIFTED
  if (n > 0) {
    /* No 0x00 anywhere (what the byte loop finds as it goes), then the blocks before
     * the first full one in place. */
    if (memchr(src, 0, n) != NULL) return num(env, -1);
    long at = cobs_shifted_decode(src, n, out, &o);
    if (at < 0) return num(env, -1);
    i = (size_t)at;
  }
#endif
  while (i < n) {
    size_t code = src[i++];
    if (code == 0) return num(env, -1);
    size_t end = i + code - 1;
    if (end > n) return num(env, -1);
#if COBS_WORDS
    while (end - i >= 8 && o + 8 <= cap) {
      uint64_t v;
      memcpy(&v, src + i, 8);
      if (zero_bytes(v)) return num(env, -1);
      memcpy(out + o, &v, 8);
      i += 8;
      o += 8;
    }
    size_t r = end - i;
    if (r > 0 && r < 8 && i + 8 <= n && o + 8 <= cap) {
      uint64_t v;
      memcpy(&v, src + i, 8);
      if (zero_bytes(v) & ((1ull << (8 * r)) - 1)) return num(env, -1);
      memcpy(out + o, &v, 8);
      i += r;
      o += r;
    }
#endif
    for (; i < end; i++) {
      uint8_t b = src[i];
      if (b == 0) return num(env, -1);
      out[o++] = b;
    }
    /* A code below 0xff stands for a zero after its bytes, unless it ends the block. */
    if (code != 0xff && i < n) out[o++] = 0;
  }
  return num(env, (double)o);
}

/*
 * CRC-32C (Castagnoli, reflected 0x82F63B78, init and final XOR 0xFFFFFFFF), the check
 * value of every frame: firmware/channel/crc32c.ts is the definition and the receiver's
 * copy. The box's writer computes it here: with the SSE 4.2 crc32 instruction where the
 * CPU has it (8 bytes a step), else a byte at a time from a table.
 */
static uint32_t crc_table[256];

static void crc_table_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[n] = c;
  }
}

static uint32_t crc_bytes(uint32_t c, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c, const uint8_t *p, size_t n) {
  uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c64 = __builtin_ia32_crc32di(c64, v);
  }
  c = (uint32_t)c64;
  for (; n > 0; n--, p++) c = __builtin_ia32_crc32qi(c, *p);
  return c;
}
#endif

#if defined(__x86_64__)
static int crc_hw = 0;
#endif
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* The table, and whether the CPU has the instruction: once per process, whichever thread asks first. */
static void crc_init(void) {
  crc_table_init();
#if defined(__x86_64__)
  __builtin_cpu_init();
  crc_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

static uint32_t crc32c(const uint8_t *p, size_t n) {
  pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
  if (crc_hw) return crc_sse42(0xFFFFFFFFu, p, n) ^ 0xFFFFFFFFu;
#endif
  return crc_bytes(0xFFFFFFFFu, p, n) ^ 0xFFFFFFFFu;
}

/* crc32c(buf, start, end): CRC-32C of buf[start, end). */
static napi_value crc32c_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *p = NULL;
  size_t len = 0, start = 0, end = 0;
  if (argc < 3 || !typed_arg(env, argv[0], napi_uint8_array, 0, (void **)&p, &len) || !index_arg(env, argv[2], (double)len, &end) ||
      !index_arg(env, argv[1], (double)end, &start)) {
    napi_throw_range_error(env, NULL, "sealtap-capture: crc32c(buf, start, end) takes a Uint8Array and 0 <= start <= end <= its length");
    return NULL;
  }
  return num(env, (double)crc32c(p + start, end - start));
}

/*
 * packRecords(run, off, count, body, bodyOff, room, res): the box's framer for a run of
 * PACKET records (pcap records back to back, as the analysis sent them and the outbox
 * keeps them). From run[off], packs at most `count` records into body[bodyOff..], each
 * behind its u16 big-endian length, while each (with its length) fits in what is left
 * of `room` bytes; stops before the first that does not. res (an Int32Array of 3) gets
 * the records packed, where they end in run, and the bytes written to body. The
 * outbox's walk with the sequencer's packTaken (firmware/channel/outbox.ts,
 * sequencer.ts) is the definition, and the tests compare the two.
 */
static napi_value pack_records(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *run = NULL, *body = NULL;
  int32_t *res = NULL;
  size_t runLen = 0, bodyLen = 0, resLen = 0, off = 0, count = 0, bodyOff = 0, room = 0;
  if (argc < 7 || !typed_arg(env, argv[0], napi_uint8_array, 0, (void **)&run, &runLen) || !index_arg(env, argv[1], (double)runLen, &off) ||
      !index_arg(env, argv[2], 4294967295.0, &count) || !typed_arg(env, argv[3], napi_uint8_array, 0, (void **)&body, &bodyLen) ||
      !index_arg(env, argv[4], (double)bodyLen, &bodyOff) || !index_arg(env, argv[5], 4294967295.0, &room) ||
      !typed_arg(env, argv[6], napi_int32_array, 3, (void **)&res, &resLen)) {
    napi_throw_range_error(env, NULL, "sealtap-capture: packRecords(run, off, count, body, bodyOff, room, res) takes a Uint8Array and 0 <= off <= its length, a count, a Uint8Array and 0 <= bodyOff <= its length, a room, and an Int32Array of 3");
    return NULL;
  }
  size_t pos = off, o = bodyOff, left = room, n = count, k = 0;
  while (k < n && pos + 16 <= runLen) {
    const uint8_t *r = run + pos;
    uint64_t len = 16 + ((uint64_t)r[8] | ((uint64_t)r[9] << 8) | ((uint64_t)r[10] << 16) | ((uint64_t)r[11] << 24));
    if (len > 0xffff || pos + len > runLen || len + 2 > left || o + 2 + len > bodyLen) break;
    body[o] = (uint8_t)(len >> 8);
    body[o + 1] = (uint8_t)len;
    memcpy(body + o + 2, r, (size_t)len);
    o += 2 + (size_t)len;
    pos += (size_t)len;
    left -= 2 + (size_t)len;
    k++;
  }
  res[0] = (int32_t)k;
  res[1] = (int32_t)pos;
  res[2] = (int32_t)(o - bodyOff);
  return NULL;
}

/*
 * pcapUnpack(body, start, out, outStart, res): the receiver's trace.pcap writer for a
 * PACKET frame's body (records each behind a u16 big-endian length, already checked to
 * tile the body). From body[start], copies each record whose pcap header matches its
 * length (caplen = length - 16, caplen <= 262144, origlen >= caplen) to out[outStart..]
 * back to back, and skips, counting them, those that do not; stops at the end of the
 * body or before a record that does not fit in out. res (an Int32Array of 4) gets where
 * it stopped in body and in out, the records copied and the records skipped.
 * PcapFileWriter.writeRange in firmware/receiver/pcap-file.ts is the definition, and
 * the tests compare the two.
 */
#define PCAP_UNPACK_SNAPLEN 262144

static napi_value pcap_unpack(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *body = NULL, *out = NULL;
  int32_t *res = NULL;
  size_t bodyLen = 0, outLen = 0, resLen = 0, pos = 0, o = 0;
  if (argc < 5 || !typed_arg(env, argv[0], napi_uint8_array, 0, (void **)&body, &bodyLen) || !index_arg(env, argv[1], (double)bodyLen, &pos) ||
      !typed_arg(env, argv[2], napi_uint8_array, 0, (void **)&out, &outLen) || !index_arg(env, argv[3], (double)outLen, &o) ||
      !typed_arg(env, argv[4], napi_int32_array, 4, (void **)&res, &resLen)) {
    napi_throw_range_error(env, NULL, "sealtap-capture: pcapUnpack(body, start, out, outStart, res) takes a Uint8Array and 0 <= start <= its length, a Uint8Array and 0 <= outStart <= its length, and an Int32Array of 4");
    return NULL;
  }
  int32_t packets = 0, skipped = 0;
  while (pos + 2 <= bodyLen) {
    size_t len = ((size_t)body[pos] << 8) | body[pos + 1];
    size_t rec = pos + 2;
    if (rec + len > bodyLen) break; /* not a tiling body: the caller checked, so never */
    const uint8_t *r = body + rec;
    int valid = 0;
    if (len >= 16) {
      uint32_t caplen = (uint32_t)r[8] | ((uint32_t)r[9] << 8) | ((uint32_t)r[10] << 16) | ((uint32_t)r[11] << 24);
      uint32_t origlen = (uint32_t)r[12] | ((uint32_t)r[13] << 8) | ((uint32_t)r[14] << 16) | ((uint32_t)r[15] << 24);
      valid = caplen == len - 16 && caplen <= PCAP_UNPACK_SNAPLEN && origlen >= caplen;
    }
    if (valid) {
      if (o + len > outLen) break;
      memcpy(out + o, r, len);
      o += len;
      packets++;
    } else {
      skipped++;
    }
    pos = rec + len;
  }
  res[0] = (int32_t)pos;
  res[1] = (int32_t)o;
  res[2] = packets;
  res[3] = skipped;
  return NULL;
}

/*
 * guardRun(run, off, count, linkType, entries, shift, known, res): the egress guard's
 * check of the common PACKET record, in one call for a run of them (firmware/egress/
 * guard.ts passesRunAt says when it is used; passesPacketAt is the definition, and
 * test/egress/guard-run.test.ts holds the two together). From run[off], up to `count`
 * records are passed while each is, exactly: a whole pcap record (caplen the bytes after
 * its header, within origlen) of an Ethernet frame (linkType 1) of IPv4 (not a later
 * fragment) or IPv6 (no extension header), carrying a whole TCP header or a UDP header
 * to a port the decoder does not follow into a tunnel (VXLAN 4789, Geneve 6081), with
 * nothing but zeros after that header; and whose two MACs and two addresses each name no
 * host (all zero, or the broadcast MAC) or sit in the guard's cache of checked values
 * (`entries`, firmware/egress/checked-values.ts: 8 words an entry, sets of 4 picked by
 * the top 32 - shift bits of the hash) with a verdict taken at the raw table's present
 * size `known`. The first record that is not all that ends the call: passing nothing,
 * refusing nothing, it is the caller's to check in full. res (an Int32Array of 2) gets
 * the records passed and the run position after them.
 */
#define GUARD_ENTRY 8
#define GUARD_WAYS 4

static inline uint32_t be16(const uint8_t *b) { return ((uint32_t)b[0] << 8) | b[1]; }
static inline uint32_t be32(const uint8_t *b) { return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3]; }

/* analysis/addresses.ts namesNoHost. */
static int names_no_host(const uint8_t *v, size_t len) {
  uint8_t b0 = v[0];
  if (b0 != 0 && !(len == 6 && b0 == 0xff)) return 0;
  for (size_t i = 1; i < len; i++) if (v[i] != b0) return 0;
  return 1;
}

/* CheckedValues.find, then its verdict: 1 when the value is cached as not raw at table size `known`. */
static int checked_clean(const uint32_t *e, uint32_t shift, uint32_t known, const uint8_t *v, size_t len) {
  uint32_t a, b = 0, c = 0, d = 0;
  if (len == 6) {
    a = be32(v + 2);
    b = be16(v);
  } else {
    a = be32(v);
    if (len == 16) { b = be32(v + 4); c = be32(v + 8); d = be32(v + 12); }
  }
  uint32_t h = (a * 0x9e3779b1u) ^ (b * 0x85ebca6bu) ^ (c * 0xc2b2ae35u) ^ (d * 0x27d4eb2fu) ^ (uint32_t)len;
  h = (h ^ (h >> 16)) * 0x85ebca6bu;
  h = (h ^ (h >> 13)) * 0xc2b2ae35u;
  h ^= h >> 16;
  uint32_t slot = (h >> shift) & ~(uint32_t)(GUARD_WAYS - 1);
  for (uint32_t w = 0; w < GUARD_WAYS; w++) {
    const uint32_t *x = e + (size_t)(slot + w) * GUARD_ENTRY;
    if (x[4] == len && x[0] == a && x[1] == b && x[2] == c && x[3] == d) return x[5] == known;
  }
  return 0;
}

static int value_passes(const uint32_t *e, uint32_t shift, uint32_t known, const uint8_t *v, size_t len) {
  return known == 0 || names_no_host(v, len) || checked_clean(e, shift, known, v, len);
}

/* 1 when the record r[0, n) passes as described above. */
/* r[0, n) is a whole record: n is 16 + its caplen (guard_run took it from there). */
static int guard_record(const uint8_t *r, size_t n, const uint32_t *e, uint32_t shift, uint32_t known) {
  size_t caplen = n - 16;
  uint32_t origlen = (uint32_t)r[12] | ((uint32_t)r[13] << 8) | ((uint32_t)r[14] << 16) | ((uint32_t)r[15] << 24);
  if (caplen > origlen) return 0;
  const uint8_t *p = r + 16;
  size_t end = caplen, limit = caplen;
  if (end < 14) return 0;
  uint32_t type = be16(p + 12);
  size_t q = 14, t, addr1, addr2, alen;
  uint8_t proto;
  if (type == 0x0800) {
    if (q + 20 > limit || (p[q] >> 4) != 4) return 0;
    size_t ihl = (size_t)(p[q] & 15) * 4;
    if (ihl < 20 || q + ihl > limit) return 0;
    size_t total = be16(p + q + 2);
    if (total != 0 && total < ihl) return 0;
    if ((be16(p + q + 6) & 0x1fff) != 0) return 0;
    proto = p[q + 9];
    if (total != 0 && q + total < limit) limit = q + total;
    addr1 = q + 12; addr2 = q + 16; alen = 4;
    t = q + ihl;
  } else if (type == 0x86dd) {
    if (q + 40 > limit || (p[q] >> 4) != 6) return 0;
    size_t plen = be16(p + q + 4);
    proto = p[q + 6];
    if (plen != 0 && q + 40 + plen < limit) limit = q + 40 + plen;
    addr1 = q + 8; addr2 = q + 24; alen = 16;
    t = q + 40;
  } else {
    return 0;
  }
  size_t last;
  if (proto == 6) {
    if (t + 20 > limit) return 0;
    size_t hlen = (size_t)(p[t + 12] >> 4) * 4;
    if (hlen < 20 || t + hlen > limit) return 0;
    last = t + hlen;
  } else if (proto == 17) {
    if (t + 8 > limit) return 0;
    uint32_t dport = be16(p + t + 2);
    if (dport == 4789 || dport == 6081) return 0;
    last = t + 8;
  } else {
    return 0;
  }
  for (size_t k = last; k < end; k++) if (p[k] != 0) return 0;
  return value_passes(e, shift, known, p, 6) && value_passes(e, shift, known, p + 6, 6) &&
         value_passes(e, shift, known, p + addr1, alen) && value_passes(e, shift, known, p + addr2, alen);
}

static napi_value guard_run(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *run = NULL;
  uint32_t *entries = NULL;
  int32_t *res = NULL;
  size_t runLen = 0, entriesLen = 0, resLen = 0, off = 0, count = 0, linkType = 0, shift = 0, known = 0;
  if (argc < 8 || !typed_arg(env, argv[0], napi_uint8_array, 0, (void **)&run, &runLen) || !index_arg(env, argv[1], (double)runLen, &off) ||
      !index_arg(env, argv[2], 4294967295.0, &count) || !index_arg(env, argv[3], 4294967295.0, &linkType) ||
      !typed_arg(env, argv[4], napi_uint32_array, 0, (void **)&entries, &entriesLen) || !index_arg(env, argv[5], 31, &shift) || shift < 8 ||
      entriesLen != ((size_t)GUARD_ENTRY << (32 - shift)) || !index_arg(env, argv[6], 4294967295.0, &known) ||
      !typed_arg(env, argv[7], napi_int32_array, 2, (void **)&res, &resLen)) {
    napi_throw_range_error(env, NULL, "sealtap-capture: guardRun(run, off, count, linkType, entries, shift, known, res) takes a Uint8Array and 0 <= off <= its length, a count, a link type, a Uint32Array of 8 << (32 - shift) words and 8 <= shift <= 31, a table size, and an Int32Array of 2");
    return NULL;
  }
  size_t pos = off, k = 0;
  if (linkType == 1) {
    while (k < count && pos + 16 <= runLen) {
      const uint8_t *r = run + pos;
      size_t len = 16 + ((size_t)r[8] | ((size_t)r[9] << 8) | ((size_t)r[10] << 16) | ((size_t)r[11] << 24));
      if (len > runLen - pos || !guard_record(r, len, entries, (uint32_t)shift, (uint32_t)known)) break;
      pos += len;
      k++;
    }
  }
  res[0] = (int32_t)k;
  res[1] = (int32_t)pos;
  return NULL;
}

/*
 * The packets output's rewrite of its most common packet in C: an Ethernet frame of an
 * IPv4 header without options carrying a TCP header (and its options, unless the policy
 * drops one of them) or a UDP header,
 * decoded by the analysis (its PacketView says so) and rewritten exactly as
 * firmware/analysis/builtin/packets/rewriter.ts rewrites it, which stays the definition
 * (test/analysis/packets-common.test.ts compares the two byte for byte): MACs through
 * the MAC permutation's cache, addresses through Crypto-PAn's IPv4 cache, sequence and
 * acknowledgement numbers through the offset cache, numeric fields kept, zeroed or
 * bucketed, TCP options kept, zeroed, padded over or their SACK edges offset,
 * checksums updated incrementally (RFC 1624), the payload dropped or zeroed.
 * A value missing from a cache ends the call with -1 and the JavaScript rewriter
 * rewrites the packet (and fills the cache); so does every other kind of packet.
 *
 * A context holds the rewriter's arrays (rewriterBind): the input buffer, the output
 * record, the argument and result cells, the field codes, the TTL's bucket edges and
 * the three caches, each as its typed array (kept alive by a reference, rebound when
 * the rewriter replaces it); the packet loops (packetsRun, flowsRun, below) bind more
 * slots of the same context: the sets of reported values, the packed output, their
 * cells, the flow store's arrays. rewriterRun(ctx) then takes its arguments from the cells:
 *   io[0] start, io[1] end (of the captured packet in the input), io[2] the UDP (17) or
 *   TCP (6) header's kind, io[3] 1 when the payload is zeroed rather than dropped;
 * and leaves there io[4] the record's length (header included) or -1, then io[5..7]
 * the lookups it made in the IPv4, MAC and offset caches (counted by the caller, as
 * the JavaScript caches count theirs). The record header is the caller's to write.
 */
enum { RW_IN, RW_OUT, RW_IO, RW_CODES, RW_TTL, RW_V4, RW_MAC, RW_OFFS, RW_COMMON_SLOTS,
       RW_SEEN4 = RW_COMMON_SLOTS, RW_SEEN4_USED, RW_SEENMAC, RW_SEENMAC_USED, RW_PACKED, RW_RUN, RW_TIME, RW_PACKETS_SLOTS,
       /* flowsRun's: the flow store's arrays (FlowStore). */
       FS_ADDR = RW_PACKETS_SLOTS, FS_PORTA, FS_PORTB, FS_PROTO, FS_VERSION, FS_HASH, FS_FIRST, FS_LAST, FS_PKTSA, FS_PKTSB,
       FS_BYTESA, FS_BYTESB, FS_FLAGSA, FS_FLAGSB, FS_STATE, FS_PREV, FS_NEXT, FS_INDEX, RW_SEEN6, RW_SEEN6_USED, RW_SLOTS };
/* Field codes, in this order (the rewriter's Act values). */
enum { RF_ETH_DST, RF_ETH_SRC, RF_IP4_TOS, RF_IP4_ID, RF_IP4_TTL, RF_IP4_SRC, RF_IP4_DST, RF_TCP_SPORT, RF_TCP_DPORT,
       RF_TCP_SEQ, RF_TCP_ACK, RF_TCP_WINDOW, RF_UDP_SPORT, RF_UDP_DPORT, RF_PAYLOAD,
       RF_OPT_TIMESTAMP, RF_OPT_SACK, RF_OPT_MSS, RF_OPT_WSCALE, RF_OPT_UNKNOWN, RF_COUNT };
enum { ACT_KEEP = 0, ACT_ZERO = 1, ACT_DROP = 2, ACT_CRYPTOPAN = 3, ACT_MAC = 4, ACT_BUCKET = 6, ACT_OFFSET = 7, ACT_NOP = 10 };
#define RW_RECORD 16
#define RW_MAX_OUTPUT 262144
#define OFFS_WORDS 12
#define RUN_CELLS 12

typedef struct {
  napi_ref ref[RW_SLOTS];
  void *ptr[RW_SLOTS];
  size_t len[RW_SLOTS]; /* elements */
  uint32_t bits[RW_SLOTS];
} rw_ctx;

static void rw_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  rw_ctx *c = data;
  for (int i = 0; i < RW_SLOTS; i++) if (c->ref[i]) napi_delete_reference(env, c->ref[i]);
  free(c);
}

static napi_value rewriter_new(napi_env env, napi_callback_info info) {
  (void)info;
  rw_ctx *c = calloc(1, sizeof *c);
  napi_value v;
  if (!c) { napi_throw_error(env, NULL, "sealtap-capture: out of memory"); return NULL; }
  if (napi_create_external(env, c, rw_finalize, NULL, &v) != napi_ok) { free(c); napi_throw_error(env, NULL, "sealtap-capture: Node-API call failed"); return NULL; }
  return v;
}

static int log2_exact(size_t n, uint32_t *bits) {
  uint32_t b = 0;
  while (b < 31 && ((size_t)1 << b) < n) b++;
  if (((size_t)1 << b) != n || b < 4) return 0;
  *bits = b;
  return 1;
}

/* rewriterBind(ctx, slot, array): the array of a slot, of the type and size it must have. */
static napi_value rewriter_bind(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  rw_ctx *c = NULL;
  size_t slot = 0, n = 0;
  void *p = NULL;
  static const napi_typedarray_type types[RW_SLOTS] = { napi_uint8_array, napi_uint8_array, napi_int32_array, napi_uint8_array, napi_int32_array, napi_uint32_array, napi_uint32_array, napi_uint32_array,
                                                         napi_uint32_array, napi_uint8_array, napi_uint32_array, napi_uint8_array, napi_uint8_array, napi_int32_array, napi_float64_array,
                                                         napi_uint8_array, napi_int32_array, napi_int32_array, napi_uint8_array, napi_uint8_array, napi_int32_array, napi_float64_array, napi_float64_array,
                                                         napi_float64_array, napi_float64_array, napi_float64_array, napi_float64_array, napi_uint16_array, napi_uint16_array, napi_uint8_array,
                                                         napi_int32_array, napi_int32_array, napi_int32_array, napi_uint32_array, napi_uint8_array };
  if (argc < 3 || napi_get_value_external(env, argv[0], (void **)&c) != napi_ok || !c || !index_arg(env, argv[1], RW_SLOTS - 1, &slot) ||
      !typed_arg(env, argv[2], types[slot], 0, &p, &n)) {
    napi_throw_range_error(env, NULL, "sealtap-capture: rewriterBind(ctx, slot, array) takes a rewriter context, a slot 0-34 and that slot's typed array");
    return NULL;
  }
  uint32_t bits = 0;
  int ok = 1;
  if (slot == RW_OUT) ok = n >= RW_RECORD + RW_MAX_OUTPUT;
  else if (slot == RW_IO) ok = n >= 8;
  else if (slot == RW_CODES) ok = n >= RF_COUNT;
  else if (slot == RW_TTL) ok = n >= 1;
  else if (slot == RW_V4 || slot == RW_MAC) ok = n % 4 == 0 && log2_exact(n / 4, &bits);
  else if (slot == RW_OFFS) ok = n % OFFS_WORDS == 0 && log2_exact(n / OFFS_WORDS, &bits);
  else if (slot == RW_SEEN4_USED || slot == RW_SEENMAC_USED || slot == RW_SEEN6_USED) ok = log2_exact(n, &bits);
  else if (slot == RW_RUN) ok = n >= RUN_CELLS;
  else if (slot == RW_TIME) ok = n >= 4;
  else if (slot == FS_INDEX) ok = log2_exact(n, &bits);
  if (!ok) {
    napi_throw_range_error(env, NULL, "sealtap-capture: rewriterBind: the array is not of the size its slot needs");
    return NULL;
  }
  napi_ref ref;
  CHECK(env, napi_create_reference(env, argv[2], 1, &ref));
  if (c->ref[slot]) napi_delete_reference(env, c->ref[slot]);
  c->ref[slot] = ref;
  c->ptr[slot] = p;
  c->len[slot] = n;
  c->bits[slot] = bits;
  return NULL;
}

/* Crypto-PAn's IPv4 cache (CryptoPan.anonymizeV4): the anonymized address, or 0 with *hit 0. */
static uint32_t rw_v4(const rw_ctx *c, uint32_t addr, int *hit) {
  const uint32_t *t = c->ptr[RW_V4];
  size_t at = (size_t)(((addr * 0x9e3779b1u) >> (32 - c->bits[RW_V4])) & ~1u) * 4;
  if (t[at + 2] == 1 && t[at] == addr) { *hit = 1; return t[at + 1]; }
  if (t[at + 6] == 1 && t[at + 4] == addr) { *hit = 1; return t[at + 5]; }
  *hit = 0;
  return 0;
}

/* The MAC permutation's cache (MacPermutation.anonymizeMacInto), in place; 0 on a miss. */
static int rw_mac(const rw_ctx *c, uint8_t *m) {
  const uint32_t *t = c->ptr[RW_MAC];
  uint32_t hi = be16(m), lo = be32(m + 2);
  size_t at = (size_t)((((hi * 0x85ebca6bu) ^ lo) * 0x9e3779b1u) >> (32 - c->bits[RW_MAC]) & ~1u) * 4;
  uint32_t key = hi | 0x10000u;
  const uint32_t *e = NULL;
  if (t[at] == key && t[at + 1] == lo) e = t + at;
  else if (t[at + 4] == key && t[at + 5] == lo) e = t + at + 4;
  if (!e) return 0;
  m[0] = (uint8_t)(e[2] >> 8); m[1] = (uint8_t)e[2];
  m[2] = (uint8_t)(e[3] >> 24); m[3] = (uint8_t)(e[3] >> 16); m[4] = (uint8_t)(e[3] >> 8); m[5] = (uint8_t)e[3];
  return 1;
}

/* The offset cache (OffsetCache.lookup) for IPv4: forward and reverse, or 0 on a miss. */
static int rw_offsets(const rw_ctx *c, uint32_t src, uint32_t dst, uint32_t sport, uint32_t dport, uint32_t *fwd, uint32_t *rev) {
  const uint32_t *t = c->ptr[RW_OFFS];
  uint32_t w0 = (sport << 16) | dport;
  uint32_t h = (w0 ^ 4u) * 0x9e3779b1u;
  h = ((h ^ src) * 0x85ebca6bu) ^ (dst * 0xc2b2ae35u);
  h ^= h >> 15;
  size_t base = (size_t)((h >> (32 - c->bits[RW_OFFS])) & ~1u) * OFFS_WORDS;
  for (int way = 0; way < 2; way++) {
    const uint32_t *e = t + base + (size_t)way * OFFS_WORDS;
    if (e[11] == 4 && e[0] == w0 && e[1] == src && e[2] == dst) { *fwd = e[9]; *rev = e[10]; return 1; }
  }
  return 0;
}

static inline void put16be(uint8_t *b, uint32_t v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
static inline void put32be(uint8_t *b, uint32_t v) { b[0] = (uint8_t)(v >> 24); b[1] = (uint8_t)(v >> 16); b[2] = (uint8_t)(v >> 8); b[3] = (uint8_t)v; }

/* checksum.ts: ones' complement sum of b[0, n) as 16-bit words, not folded. */
static uint64_t rw_sum(const uint8_t *b, size_t n) {
  uint64_t s = 0;
  size_t i = 0;
  for (; i + 1 < n; i += 2) s += ((uint32_t)b[i] << 8) | b[i + 1];
  if (i < n) s += (uint32_t)b[i] << 8;
  return s;
}
static uint32_t rw_fold(uint64_t s) {
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return (uint32_t)s;
}
/* ChecksumScopes.settle for one scope: the field at `field`, covering in[0, n) and out[0, n), pseudo-header words added. */
static void rw_settle(const uint8_t *in, uint8_t *out, size_t n, size_t field, uint64_t oldPseudo, uint64_t newPseudo, int udp) {
  if (field + 2 > n) return;
  uint32_t hc = be16(in + field);
  if (udp && hc == 0) return;
  uint32_t oldSum = rw_fold(rw_sum(in, n) + oldPseudo), newSum = rw_fold(rw_sum(out, n) + newPseudo);
  uint32_t sum = (~rw_fold((uint64_t)(~hc & 0xffff) + (~oldSum & 0xffff) + newSum)) & 0xffff;
  if (udp && sum == 0) sum = 0xffff;
  put16be(out + field, sum);
}

static uint32_t rw_numeric(uint8_t code, uint32_t value) { return code == ACT_KEEP ? value : 0; }

/*
 * tcpFields.ts rewriteTcpOptions, for options none of which is dropped: in[0, n) into
 * out[0, n), each option by its field's action (nop, keep, zero after kind and length,
 * SACK edges offset by rev), end-of-list padding after the last. -1 when one would be
 * dropped (the header would shrink: rewriter.ts does that).
 */
static int rw_tcp_options(const uint8_t *code, const uint8_t *in, uint8_t *out, size_t n, uint32_t rev) {
  size_t i = 0, w = 0;
  while (i < n) {
    uint8_t kind = in[i];
    if (kind == 0) break;
    if (kind == 1) { out[w++] = 1; i++; continue; }
    size_t len = i + 1 < n ? in[i + 1] : 0;
    if (len < 2 || i + len > n) {
      /* A malformed length leaves the rest unparseable: one unknown option. */
      uint8_t c = code[RF_OPT_UNKNOWN];
      if (c == ACT_KEEP) { memcpy(out + w, in + i, n - i); w += n - i; }
      else if (c == ACT_NOP) { memset(out + w, 1, n - i); w += n - i; }
      else return -1;
      break;
    }
    uint8_t c;
    switch (kind) {
      case 2: c = code[RF_OPT_MSS]; break;
      case 3: c = code[RF_OPT_WSCALE]; break;
      case 4: case 5: c = code[RF_OPT_SACK]; break;
      case 8: c = code[RF_OPT_TIMESTAMP]; break;
      default: c = code[RF_OPT_UNKNOWN]; break;
    }
    if (kind == 4 && c == ACT_OFFSET) c = ACT_KEEP;
    if (c == ACT_NOP) {
      memset(out + w, 1, len);
    } else if (c != ACT_DROP) {
      memcpy(out + w, in + i, len);
      if (kind == 5 && c == ACT_OFFSET) {
        for (size_t e = w + 2; e + 4 <= w + len; e += 4) put32be(out + e, be32(out + e) + rev);
      } else if (c == ACT_ZERO) {
        memset(out + w + 2, 0, len - 2);
      }
    } else {
      return -1;
    }
    w += len;
    i += len;
  }
  memset(out + w, 0, n - w);
  return 0;
}

/* The rewrite into the record at outBuf (its 16-byte header left to the caller). */
static int rewrite_common(rw_ctx *c, int32_t *io, uint8_t *outBuf) {
  const uint8_t *in = c->ptr[RW_IN];
  const uint8_t *code = c->ptr[RW_CODES];
  const int32_t *ttlEdges = c->ptr[RW_TTL];
  size_t nEdges = c->len[RW_TTL];
  if (io[0] < 0 || io[1] < io[0] || (size_t)io[1] > c->len[RW_IN]) return -1;
  size_t start = (size_t)io[0], end = (size_t)io[1];
  int tcp = io[2] == 6;
  if (!tcp && io[2] != 17) return -1;
  size_t l3 = start + 14, l4 = l3 + 20;
  if (l4 + (tcp ? 20 : 8) > end) return -1;
  size_t thl = tcp ? (size_t)(in[l4 + 12] >> 4) * 4 : 8;
  size_t hdr = l4 + thl;
  if ((tcp && thl < 20) || hdr > end || end - start > RW_MAX_OUTPUT) return -1;
  size_t kept = io[3] ? end : hdr;
  size_t n = kept - start;
  uint8_t *o = outBuf + RW_RECORD;
  memcpy(o, in + start, hdr - start);
  if (kept > hdr) memset(o + (hdr - start), 0, kept - hdr);
  int32_t lookups4 = 0, lookupsMac = 0, lookupsOffs = 0;
  /* Ethernet */
  for (int k = 0; k < 2; k++) {
    uint8_t *m = o + (k == 0 ? 0 : 6);
    if (code[k == 0 ? RF_ETH_DST : RF_ETH_SRC] == ACT_MAC) {
      lookupsMac++;
      if (!rw_mac(c, m)) return -1;
    } else {
      memset(m, 0, 6);
    }
  }
  /* IPv4: the datagram ends at its total length, when that is inside the capture. */
  const uint8_t *ip = in + l3;
  uint8_t *oip = o + 14;
  size_t ipEnd = end;
  uint32_t total = be16(ip + 2);
  if (total != 0 && l3 + total < ipEnd) ipEnd = l3 + total;
  if (code[RF_IP4_TOS] != ACT_KEEP) oip[1] = 0;
  put16be(oip + 4, rw_numeric(code[RF_IP4_ID], be16(ip + 4)));
  uint32_t ttl = ip[8];
  if (code[RF_IP4_TTL] == ACT_BUCKET) {
    int32_t lo = ttlEdges[0];
    for (size_t i = 1; i < nEdges; i++) { if ((uint32_t)ttlEdges[i] > ttl) break; lo = ttlEdges[i]; }
    oip[8] = (uint8_t)lo;
  } else {
    oip[8] = (uint8_t)rw_numeric(code[RF_IP4_TTL], ttl);
  }
  for (int k = 0; k < 2; k++) {
    uint8_t *a = oip + 12 + 4 * k;
    if (code[k == 0 ? RF_IP4_SRC : RF_IP4_DST] == ACT_CRYPTOPAN) {
      int hit;
      lookups4++;
      uint32_t v = rw_v4(c, be32(a), &hit);
      if (!hit) return -1;
      put32be(a, v);
    } else {
      memset(a, 0, 4);
    }
  }
  /* TCP or UDP */
  const uint8_t *th = in + l4;
  uint8_t *oth = o + 34;
  uint32_t sport = be16(th), dport = be16(th + 2);
  size_t scopeEnd;
  if (tcp) {
    put16be(oth, rw_numeric(code[RF_TCP_SPORT], sport));
    put16be(oth + 2, rw_numeric(code[RF_TCP_DPORT], dport));
    uint32_t fwd = 0, rev = 0;
    int hasAck = (th[13] & 0x10) != 0;
    int seqOff = code[RF_TCP_SEQ] == ACT_OFFSET, ackOff = code[RF_TCP_ACK] == ACT_OFFSET;
    int sackOff = code[RF_OPT_SACK] == ACT_OFFSET && thl > 20;
    if (seqOff || (ackOff && hasAck) || sackOff) {
      lookupsOffs++;
      if (!rw_offsets(c, be32(ip + 12), be32(ip + 16), sport, dport, &fwd, &rev)) return -1;
    }
    if (seqOff) put32be(oth + 4, be32(th + 4) + fwd);
    else if (code[RF_TCP_SEQ] != ACT_KEEP) put32be(oth + 4, 0);
    if (ackOff) put32be(oth + 8, hasAck ? be32(th + 8) + rev : 0);
    else if (code[RF_TCP_ACK] != ACT_KEEP) put32be(oth + 8, 0);
    put16be(oth + 14, rw_numeric(code[RF_TCP_WINDOW], be16(th + 14)));
    if (thl > 20 && rw_tcp_options(code, th + 20, oth + 20, thl - 20, rev) < 0) return -1;
    scopeEnd = ipEnd;
  } else {
    put16be(oth, rw_numeric(code[RF_UDP_SPORT], sport));
    put16be(oth + 2, rw_numeric(code[RF_UDP_DPORT], dport));
    uint32_t udpLen = be16(th + 4);
    scopeEnd = udpLen >= 8 && l4 + udpLen < ipEnd ? l4 + udpLen : ipEnd;
  }
  /* Checksums, the transport's (with its pseudo-header's addresses) before the IP header's. */
  size_t covered = (scopeEnd < kept ? scopeEnd : kept);
  if (covered > l4) {
    uint64_t oldP = rw_sum(ip + 12, 8), newP = rw_sum(oip + 12, 8);
    rw_settle(th, oth, covered - l4, tcp ? 16 : 6, oldP, newP, !tcp);
  }
  rw_settle(ip, oip, 20, 10, 0, 0, 0);
  io[4] = (int32_t)(RW_RECORD + n);
  io[5] = lookups4;
  io[6] = lookupsMac;
  io[7] = lookupsOffs;
  return 0;
}

/* The rewriter context that is a loop's only argument, or NULL with a TypeError (usage) thrown. */
static rw_ctx *ctx_arg(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  rw_ctx *c = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_external(env, argv[0], (void **)&c) != napi_ok || !c) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return c;
}

static napi_value rewriter_run(napi_env env, napi_callback_info info) {
  rw_ctx *c = ctx_arg(env, info, "sealtap-capture: rewriterRun(ctx) takes a rewriter context");
  if (!c) return NULL;
  for (int i = 0; i < RW_COMMON_SLOTS; i++) {
    if (!c->ptr[i]) { napi_throw_error(env, NULL, "sealtap-capture: rewriterRun: the context lacks an array (rewriterBind every slot first)"); return NULL; }
  }
  int32_t *io = c->ptr[RW_IO];
  if (rewrite_common(c, io, c->ptr[RW_OUT]) < 0) io[4] = -1;
  return NULL;
}

/* SeenAddresses.addIfNew's lookup, without the add: 1 when the value's words are in the set. */
static int seen_has(const uint32_t *table, const uint8_t *used, uint32_t bits, int words, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  uint32_t mask = ((uint32_t)1 << bits) - 1;
  uint32_t h = words == 2 ? a ^ (b << 16) : a ^ b ^ c ^ d;
  uint32_t i = (h * 0x9e3779b1u) >> (32 - bits);
  /* The set is never full (it grows or starts over at three quarters); bounded all the same. */
  for (uint32_t probes = 0; probes <= mask && used[i] == 1; probes++) {
    const uint32_t *t = table + (size_t)i * words;
    if (t[0] == a && (words == 1 || (t[1] == b && (words == 2 || (t[2] == c && t[3] == d))))) return 1;
    i = (i + 1) & mask;
  }
  return 0;
}

/* A MAC at m: it names no host, or the analysis has reported it (AddressCollector.note). */
static int mac_seen(const rw_ctx *c, const uint8_t *m) {
  return names_no_host(m, 6) || seen_has(c->ptr[RW_SEENMAC], c->ptr[RW_SEENMAC_USED], c->bits[RW_SEENMAC_USED], 2, be32(m + 2), be16(m), 0, 0);
}

static int v4_seen(const rw_ctx *c, const uint8_t *a) {
  return names_no_host(a, 4) || seen_has(c->ptr[RW_SEEN4], c->ptr[RW_SEEN4_USED], c->bits[RW_SEEN4_USED], 1, be32(a), 0, 0, 0);
}

static int v6_seen(const rw_ctx *c, const uint8_t *a) {
  return names_no_host(a, 16) || seen_has(c->ptr[RW_SEEN6], c->ptr[RW_SEEN6_USED], c->bits[RW_SEEN6_USED], 4, be32(a), be32(a + 4), be32(a + 8), be32(a + 12));
}

/*
 * The transport header at p[t] of protocol `proto`, within p[0, limit): a whole TCP header
 * (*tcp 1), or a UDP header (*tcp 0) to a port the decoder does not follow into a tunnel.
 */
static int common_transport(const uint8_t *p, size_t t, size_t limit, uint8_t proto, int *tcp) {
  *tcp = proto == 6;
  if (*tcp) {
    if (t + 20 > limit) return 0;
    size_t hlen = (size_t)(p[t + 12] >> 4) * 4;
    return hlen >= 20 && t + hlen <= limit;
  }
  if (proto != 17 || t + 8 > limit) return 0;
  uint32_t dport = be16(p + t + 2);
  return dport != 4789 && dport != 6081;
}

/*
 * 1 when p[0, n) is, exactly, what decodePacket makes a common packet of (rewriter.ts
 * isCommon): an Ethernet frame of an IPv4 header of 20 bytes, not a later fragment, its
 * total length 0 or at least 20, carrying a whole TCP header (*tcp 1) or a UDP header
 * (*tcp 0) to a port the decoder does not follow into a tunnel, at most RW_MAX_OUTPUT
 * bytes captured.
 */
static int common_packet(const uint8_t *p, size_t n, int *tcp) {
  if (n < 34 || n > RW_MAX_OUTPUT || be16(p + 12) != 0x0800) return 0;
  const uint8_t *ip = p + 14;
  if (ip[0] != 0x45 || (be16(ip + 6) & 0x1fff) != 0) return 0;
  size_t total = be16(ip + 2), limit = n;
  if (total != 0 && total < 20) return 0;
  if (total != 0 && 14 + total < limit) limit = 14 + total;
  return common_transport(p, 34, limit, ip[9], tcp);
}

/*
 * 1 when p[0, n) is what decodePacket makes the common IPv6 packet of: an Ethernet frame
 * of an IPv6 header (next header TCP, *tcp 1, or UDP, *tcp 0: no extension header)
 * carrying a whole TCP header or a UDP header to a port the decoder does not follow into
 * a tunnel, within the payload length where it is not 0.
 */
static int common_packet6(const uint8_t *p, size_t n, int *tcp) {
  if (n < 54 || be16(p + 12) != 0x86dd) return 0;
  const uint8_t *ip = p + 14;
  if ((ip[0] >> 4) != 6) return 0;
  size_t plen = be16(ip + 4), limit = n;
  if (plen != 0 && 54 + plen < limit) limit = 54 + plen;
  return common_transport(p, 54, limit, ip[6], tcp);
}

/* The common packet's two MACs and two addresses each name no host or are reported. */
static int values_seen(const rw_ctx *c, const uint8_t *p) {
  return mac_seen(c, p) && mac_seen(c, p + 6) && v4_seen(c, p + 14 + 12) && v4_seen(c, p + 14 + 16);
}

/* ticks.ts tickDue and nextTickUs: periodic work is due at ts, and the next whole second after it. */
static inline int tick_due(double ts, double next) { return ts >= next || ts < next - 2e6; }
static inline double next_tick(double ts) { return (floor(ts / 1e6) + 1) * 1e6; }

static inline uint32_t le32(const uint8_t *b) { return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24); }

/*
 * packetsRun(ctx): the analysis' packet loop for the packets output alone, over a run
 * of an opened segment's records (firmware/analysis/builtin/packets/packetsRun.ts says
 * when the runtime uses it; the loop of firmware/analysis/child.ts with decode.ts,
 * AddressCollector.note and rewriter.ts stays the definition, and
 * test/analysis/packets-common.test.ts holds the two together). From the record at
 * run[0] of the input (RW_IN, the segment body) of link type run[1], up to run[2]
 * records are taken (none unless the link type is Ethernet's, 1) while
 * each is, exactly, what decodePacket makes a common packet of (rewriter.ts isCommon:
 * an Ethernet frame of an IPv4 header of 20 bytes, not a later fragment, carrying a
 * whole TCP header or a UDP header to a port the decoder does not follow into a
 * tunnel, at most RW_MAX_OUTPUT bytes captured), whose two MACs and two addresses each
 * name no host or are in the analysis' sets of reported values (RW_SEEN*: nothing to
 * report), which rewrite_common rewrites from its caches, and whose shifted, coarsened
 * time is not before 1970. Each is written as a pcap record at RW_PACKED[run[3]], while
 * it fits. The first record that is not all that ends the call, nothing of it kept:
 * the runtime takes it the JavaScript way.
 *   run[0] in: the record's offset; run[1] in: the pcap link type; run[2] in: records at most; run[3] in: the packed
 *   offset; run[4] in: 1 when the payload is zeroed rather than dropped; out: run[5]
 *   records taken, run[6] the offset after them, run[7] the packed offset after them,
 *   run[8..10] lookups made in the IPv4, MAC and offset caches.
 *   time[0], time[1] in and out: PacketClock's lastUs and nextUs; time[2] in: the time
 *   shift; time[3] in: the time granularity (1 for none), both in µs.
 */
static napi_value packets_run(napi_env env, napi_callback_info info) {
  rw_ctx *c = ctx_arg(env, info, "sealtap-capture: packetsRun(ctx) takes a rewriter context");
  if (!c) return NULL;
  for (int i = 0; i < RW_PACKETS_SLOTS; i++) {
    if (!c->ptr[i]) { napi_throw_error(env, NULL, "sealtap-capture: packetsRun: the context lacks an array (rewriterBind every slot first)"); return NULL; }
  }
  if (c->len[RW_SEEN4] != c->len[RW_SEEN4_USED] || c->len[RW_SEENMAC] != 2 * c->len[RW_SEENMAC_USED] || c->len[RW_RUN] < 11 || c->len[RW_TIME] < 4) {
    napi_throw_range_error(env, NULL, "sealtap-capture: packetsRun: a seen-value table and its used flags differ in size, or the run or time cells are too few");
    return NULL;
  }
  int32_t *run = c->ptr[RW_RUN];
  double *time = c->ptr[RW_TIME];
  const uint8_t *body = c->ptr[RW_IN];
  size_t bodyLen = c->len[RW_IN];
  uint8_t *packed = c->ptr[RW_PACKED];
  size_t packedLen = c->len[RW_PACKED];
  if (run[0] < 0 || (size_t)run[0] > bodyLen || run[2] < 0 || run[3] < 0 || (size_t)run[3] > packedLen) {
    napi_throw_range_error(env, NULL, "sealtap-capture: packetsRun: an offset is outside its buffer");
    return NULL;
  }
  size_t o = (size_t)run[0], at = (size_t)run[3];
  /* Ethernet only (pcap link type 1): another link type takes the JavaScript way. */
  int32_t max = run[1] == 1 ? run[2] : 0, k = 0, kept = run[4] != 0;
  int32_t l4s = 0, macs = 0, offs = 0;
  double lastUs = time[0], nextUs = time[1], shiftUs = time[2], granUs = time[3];
  while (k < max && o + 16 <= bodyLen) {
    const uint8_t *r = body + o;
    size_t start = o + 16, caplen = le32(r + 8);
    size_t end = caplen < bodyLen - start ? start + caplen : bodyLen;
    uint32_t origLen = le32(r + 12);
    const uint8_t *p = body + start;
    size_t n = end - start;
    int tcp;
    if (!common_packet(p, n, &tcp) || !values_seen(c, p)) break;
    /* Room for the record: its header and, at most, every captured byte. */
    if (packedLen - at < RW_RECORD + n) break;
    int32_t io[8] = { (int32_t)start, (int32_t)end, tcp ? 6 : 17, kept, 0, 0, 0, 0 };
    if (rewrite_common(c, io, packed + at) < 0) break;
    double tsUs = (double)le32(r) * 1e6 + (double)le32(r + 4);
    double t = floor((tsUs + shiftUs) / granUs) * granUs;
    if (!(t >= 0) || t > 9007199254740991.0) break;
    double s0 = floor(t / 1e6);
    uint32_t sec = s0 < 4294967295.0 ? (uint32_t)s0 : 4294967295u;
    uint32_t usec = (uint32_t)floor(t - s0 * 1e6);
    uint32_t outCap = (uint32_t)io[4] - RW_RECORD;
    uint8_t *h = packed + at;
    put32le(h, sec);
    put32le(h + 4, usec);
    put32le(h + 8, outCap);
    put32le(h + 12, outCap > origLen ? outCap : origLen);
    /* PacketClock.packet (ticks.ts): the packets output has no timer, so a due tick only moves the next one. */
    lastUs = tsUs;
    if (nextUs < 0 || tick_due(tsUs, nextUs)) nextUs = next_tick(tsUs);
    at += (size_t)io[4];
    o = end;
    l4s += io[5];
    macs += io[6];
    offs += io[7];
    k++;
  }
  run[5] = k;
  run[6] = (int32_t)o;
  run[7] = (int32_t)at;
  run[8] = l4s;
  run[9] = macs;
  run[10] = offs;
  time[0] = lastUs;
  time[1] = nextUs;
  return NULL;
}

/* flowKey.ts endpointHash: FNV-1a over an address, then its port's two halves. */
static uint32_t flow_endpoint_hash(const uint8_t *a, size_t len, uint32_t port) {
  uint32_t h = 0x811c9dc5u;
  for (size_t i = 0; i < len; i++) h = (h ^ a[i]) * 0x01000193u;
  h = (h ^ (port & 0xffff)) * 0x01000193u;
  return (h ^ (port >> 16)) * 0x01000193u;
}

/* flowKey.ts flowHash, for addresses of `len` bytes (4 or 16, IP version 4 or 6) at src and dst. */
static int32_t flow_hash(const uint8_t *src, const uint8_t *dst, size_t len, uint32_t sport, uint32_t dport, uint32_t proto) {
  uint32_t h = flow_endpoint_hash(src, len, sport) + flow_endpoint_hash(dst, len, dport);
  h = (h ^ (uint32_t)((uint64_t)proto * 0x9e3779b1u + (len == 16 ? 6u : 4u))) * 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return (int32_t)(h ^ (h >> 16));
}

/*
 * shard.ts halfSipHash: HalfSipHash-2-4 with a 32-bit result, the key's two words k0, k1.
 */
#define HSIP_ROUND(v0, v1, v2, v3) do { \
    v0 += v1; v1 = (v1 << 5) | (v1 >> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >> 16); \
    v2 += v3; v3 = (v3 << 8) | (v3 >> 24); v3 ^= v2; \
    v0 += v3; v3 = (v3 << 7) | (v3 >> 25); v3 ^= v0; \
    v2 += v1; v1 = (v1 << 13) | (v1 >> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >> 16); \
  } while (0)

static uint32_t half_siphash(uint32_t k0, uint32_t k1, const uint8_t *m, size_t len) {
  uint32_t v0 = k0, v1 = k1, v2 = 0x6c796765u ^ k0, v3 = 0x74656462u ^ k1;
  size_t i = 0, words = len & ~(size_t)3;
  for (; i < words; i += 4) {
    uint32_t w = le32(m + i);
    v3 ^= w;
    HSIP_ROUND(v0, v1, v2, v3);
    HSIP_ROUND(v0, v1, v2, v3);
    v0 ^= w;
  }
  uint32_t w = (uint32_t)len << 24;
  switch (len & 3) {
    case 3: w |= (uint32_t)m[i + 2] << 16; /* fall through */
    case 2: w |= (uint32_t)m[i + 1] << 8; /* fall through */
    case 1: w |= m[i];
  }
  v3 ^= w;
  HSIP_ROUND(v0, v1, v2, v3);
  HSIP_ROUND(v0, v1, v2, v3);
  v0 ^= w;
  v2 ^= 0xff;
  for (int r = 0; r < 4; r++) HSIP_ROUND(v0, v1, v2, v3);
  return v1 ^ v3;
}

/*
 * shard.ts ShardMap.of for the common packet of flows_run: its addresses of `len`
 * bytes at src and dst, its ports, its protocol; the lower endpoint first.
 */
static uint32_t shard_of(uint32_t k0, uint32_t k1, uint32_t count, const uint8_t *src, const uint8_t *dst, size_t len, uint32_t sport, uint32_t dport, uint32_t proto) {
  int c = memcmp(src, dst, len);
  if (c == 0) c = (int)sport - (int)dport;
  const uint8_t *a = c <= 0 ? src : dst, *b = c <= 0 ? dst : src;
  uint32_t ap = c <= 0 ? sport : dport, bp = c <= 0 ? dport : sport;
  uint8_t t[2 + 2 * (16 + 4)];
  t[0] = len == 16 ? 6 : 4;
  t[1] = (uint8_t)proto;
  memcpy(t + 2, a, len);
  put32le(t + 2 + len, ap);
  memcpy(t + 6 + len, b, len);
  put32le(t + 6 + 2 * len, bp);
  return half_siphash(k0, k1, t, 10 + 2 * len) % count;
}

/*
 * flowsRun(ctx): the analysis' packet loop for the flows output alone, over a run of an
 * opened segment's records (firmware/analysis/builtin/flows/flowsRun.ts says when the
 * runtime uses it; child.ts work with decode.ts, AddressCollector.note and
 * flowTable.ts onPacket stays the definition, and test/analysis/flows-run.test.ts holds
 * the two together). From the record at run[0] of the body (RW_IN) of link type run[1],
 * up to run[2] records are taken (none unless the link type is Ethernet's) while each
 * is the common IPv4 packet (common_packet) or, with the IPv6 set bound (RW_SEEN6), the
 * common IPv6 packet (common_packet6), its values are reported (values_seen, v6_seen), no
 * sweep of the table is due at its time (time[4], the table's next sweep), and it joins
 * a flow of the store that is open, neither idle nor older than the active timeout at
 * its time, without a FIN or RST: then exactly what FlowTable.onPacket does to that
 * flow is done here (its last time, its packets, bytes and flags one way, its place at
 * the tail of the least recently seen list). The first record that is not all that
 * ends the call, nothing of it done: the runtime takes it the JavaScript way (which
 * creates, restarts, closes and sweeps flows).
 *   run[0], run[1], run[2] as packetsRun's; out: run[5] records taken, run[6] the
 *   offset after them; in and out: run[3], run[4] the least recently seen list's head
 *   and tail. time[0], time[1] in and out: PacketClock's lastUs and nextUs; time[4] in:
 *   the table's next sweep; time[5] in: its idle timeout, time[6] its active timeout (µs).
 *   With shards, run[7] in: their count (more than 1), run[8] this process's shard,
 *   run[9], run[10] ShardMap's key words: a common packet of another shard is only
 *   passed (the clock sees it, as the runtime's loop does), whatever its values; out:
 *   run[11] the records taken of this shard (all of them without shards).
 */
static napi_value flows_run(napi_env env, napi_callback_info info) {
  rw_ctx *c = ctx_arg(env, info, "sealtap-capture: flowsRun(ctx) takes a rewriter context");
  if (!c) return NULL;
  static const int needed[] = { RW_IN, RW_RUN, RW_TIME, RW_SEEN4, RW_SEEN4_USED, RW_SEENMAC, RW_SEENMAC_USED };
  for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
    if (!c->ptr[needed[i]]) { napi_throw_error(env, NULL, "sealtap-capture: flowsRun: the context lacks an array (rewriterBind every slot first)"); return NULL; }
  }
  for (int i = FS_ADDR; i < RW_SLOTS; i++) {
    if (!c->ptr[i]) { napi_throw_error(env, NULL, "sealtap-capture: flowsRun: the context lacks an array (rewriterBind every slot first)"); return NULL; }
  }
  size_t cap = c->len[FS_HASH];
  int sizes = c->len[FS_ADDR] == 32 * cap && c->len[FS_INDEX] >= 2 * cap;
  static const int per_flow[] = { FS_PORTA, FS_PORTB, FS_PROTO, FS_VERSION, FS_FIRST, FS_LAST, FS_PKTSA, FS_PKTSB, FS_BYTESA, FS_BYTESB, FS_FLAGSA, FS_FLAGSB, FS_STATE, FS_PREV, FS_NEXT };
  for (size_t i = 0; i < sizeof per_flow / sizeof per_flow[0]; i++) sizes = sizes && c->len[per_flow[i]] == cap;
  /* The IPv6 set is optional: without it, IPv6 packets are the JavaScript's. */
  if ((c->ptr[RW_SEEN6] != NULL) != (c->ptr[RW_SEEN6_USED] != NULL) || (c->ptr[RW_SEEN6] && c->len[RW_SEEN6] != 4 * c->len[RW_SEEN6_USED])) sizes = 0;
  if (!sizes || c->len[RW_SEEN4] != c->len[RW_SEEN4_USED] || c->len[RW_SEENMAC] != 2 * c->len[RW_SEENMAC_USED] || c->len[RW_TIME] < 7 || c->len[RW_RUN] < 12) {
    napi_throw_range_error(env, NULL, "sealtap-capture: flowsRun: the flow store's arrays or the seen-value tables differ in size");
    return NULL;
  }
  int32_t *run = c->ptr[RW_RUN];
  double *time = c->ptr[RW_TIME];
  const uint8_t *body = c->ptr[RW_IN];
  size_t bodyLen = c->len[RW_IN];
  if (run[0] < 0 || (size_t)run[0] > bodyLen || run[2] < 0 || run[3] < -1 || run[3] >= (int64_t)cap || run[4] < -1 || run[4] >= (int64_t)cap) {
    napi_throw_range_error(env, NULL, "sealtap-capture: flowsRun: an offset or a list end is outside its array");
    return NULL;
  }
  const uint8_t *addr = c->ptr[FS_ADDR];
  const int32_t *portA = c->ptr[FS_PORTA], *portB = c->ptr[FS_PORTB], *hashes = c->ptr[FS_HASH], *index = c->ptr[FS_INDEX];
  const uint8_t *proto = c->ptr[FS_PROTO], *version = c->ptr[FS_VERSION], *state = c->ptr[FS_STATE];
  const double *firstUs = c->ptr[FS_FIRST];
  double *lastUs = c->ptr[FS_LAST], *pktsA = c->ptr[FS_PKTSA], *pktsB = c->ptr[FS_PKTSB], *bytesA = c->ptr[FS_BYTESA], *bytesB = c->ptr[FS_BYTESB];
  uint16_t *flagsA = c->ptr[FS_FLAGSA], *flagsB = c->ptr[FS_FLAGSB];
  int32_t *prev = c->ptr[FS_PREV], *next = c->ptr[FS_NEXT];
  uint32_t mask = (uint32_t)c->len[FS_INDEX] - 1;
  int32_t head = run[3], tail = run[4];
  size_t o = (size_t)run[0];
  int32_t max = run[1] == 1 ? run[2] : 0, k = 0, mine = 0;
  uint32_t shards = run[7] > 1 ? (uint32_t)run[7] : 1, shard = (uint32_t)run[8], k0 = (uint32_t)run[9], k1 = (uint32_t)run[10];
  double clockLast = time[0], clockNext = time[1], sweepUs = time[4], idleUs = time[5], activeUs = time[6];
  while (k < max && o + 16 <= bodyLen) {
    const uint8_t *r = body + o;
    size_t start = o + 16, caplen = le32(r + 8);
    size_t end = caplen < bodyLen - start ? start + caplen : bodyLen;
    const uint8_t *p = body + start;
    const uint8_t *ip = p + 14;
    int tcp, v6 = 0;
    if (common_packet(p, end - start, &tcp)) {
    } else if (c->ptr[RW_SEEN6] && common_packet6(p, end - start, &tcp)) {
      v6 = 1;
    } else {
      break;
    }
    double tsUs = (double)le32(r) * 1e6 + (double)le32(r + 4);
    size_t alen = v6 ? 16 : 4;
    const uint8_t *src = v6 ? ip + 8 : ip + 12, *dst = src + alen, *th = p + 14 + (v6 ? 40 : 20);
    uint32_t pr = v6 ? ip[6] : ip[9], sport = be16(th), dport = be16(th + 2);
    if (shards > 1 && shard_of(k0, k1, shards, src, dst, alen, sport, dport, pr) != shard) {
      /* Another shard's: the runtime's loop decodes it, ticks the clock and passes it. */
      clockLast = tsUs;
      if (clockNext < 0 || tick_due(tsUs, clockNext)) clockNext = next_tick(tsUs);
      o = end;
      k++;
      continue;
    }
    if (v6 ? !mac_seen(c, p) || !mac_seen(c, p + 6) || !v6_seen(c, ip + 8) || !v6_seen(c, ip + 24) : !values_seen(c, p)) break;
    /* The table sweeps at this packet. */
    if (tick_due(tsUs, sweepUs)) break;
    int32_t hash = flow_hash(src, dst, alen, sport, dport, pr);
    int32_t id = -1;
    int forward = 1;
    /* The index is at most half full (FlowStore); the probes are bounded all the same. */
    for (uint32_t slot = (uint32_t)hash & mask, probes = 0; probes <= mask; slot = (slot + 1) & mask, probes++) {
      int32_t cand = index[slot];
      if (cand < 0) break;
      if ((size_t)cand >= cap) { id = -1; break; }
      if (hashes[cand] != hash || proto[cand] != pr || version[cand] != (v6 ? 6 : 4)) continue;
      const uint8_t *a = addr + (size_t)cand * 32;
      if ((uint32_t)portA[cand] == sport && (uint32_t)portB[cand] == dport && memcmp(a, src, alen) == 0 && memcmp(a + 16, dst, alen) == 0) { id = cand; break; }
      if ((uint32_t)portA[cand] == dport && (uint32_t)portB[cand] == sport && memcmp(a, dst, alen) == 0 && memcmp(a + 16, src, alen) == 0) { id = cand; forward = 0; break; }
    }
    if (id < 0) break;
    uint32_t flags = tcp ? (uint32_t)th[13] | ((uint32_t)(th[12] & 1) << 8) : 0;
    /* FlowTable.mustRestart and the FIN/RST state machine stay the JavaScript's. */
    if (state[id] != 0 || lastUs[id] + idleUs <= tsUs || firstUs[id] + activeUs <= tsUs || (flags & 0x05) != 0) break;
    /* The flow's links in the least recently seen list, checked before anything is counted. */
    int32_t pv = prev[id], nx = next[id];
    if (pv >= (int32_t)cap || nx >= (int32_t)cap) break;
    /* PacketView.ipTotalLen: IPv4's total length; IPv6's payload length + 40, 0 when it is 0. */
    uint32_t total = v6 ? (be16(ip + 4) == 0 ? 0 : be16(ip + 4) + 40u) : be16(ip + 2);
    uint32_t origLen = le32(r + 12);
    double bytes = total > 0 ? (double)total : (origLen > 14 ? (double)(origLen - 14) : 0);
    if (tsUs > lastUs[id]) lastUs[id] = tsUs;
    if (forward) { pktsA[id] += 1; bytesA[id] += bytes; flagsA[id] |= (uint16_t)flags; }
    else { pktsB[id] += 1; bytesB[id] += bytes; flagsB[id] |= (uint16_t)flags; }
    /* FlowList.moveToTail on the least recently seen list. */
    if (tail != id) {
      if (pv < 0) head = nx; else next[pv] = nx;
      if (nx < 0) tail = pv; else prev[nx] = pv;
      prev[id] = tail;
      next[id] = -1;
      if (tail < 0) head = id; else next[tail] = id;
      tail = id;
    }
    clockLast = tsUs;
    /* PacketClock.packet, as packetsRun's. */
    if (clockNext < 0 || tick_due(tsUs, clockNext)) clockNext = next_tick(tsUs);
    o = end;
    k++;
    mine++;
  }
  run[3] = head;
  run[4] = tail;
  run[5] = k;
  run[6] = (int32_t)o;
  run[11] = mine;
  time[0] = clockLast;
  time[1] = clockNext;
  return NULL;
}

/*
 * mapSlotFile(fd, length): the first `length` bytes of an open spool slot file, mapped
 * shared and read-only, as a Buffer (unmapped if it is ever collected). The analysis
 * maps each slot file once and reads its segments there instead of copying them out
 * with pread (firmware/analysis/child.ts readSealed): the supervisor's writes show in
 * the mapping as they do in the page cache, and openSegment authenticates whatever it
 * reads. Slot files are preallocated at full size and never shrink during a run, so no
 * read of the mapping is past the end of its file. Throws with the errno's text.
 */
/* The mappings mapSlotFile made and not yet unmapped: slotPages acts on nothing else. */
#define MAX_SLOT_MAPS 65536
static struct { uint8_t *p; size_t len; } slot_maps[MAX_SLOT_MAPS];
static size_t slot_map_count = 0;
static pthread_mutex_t slot_maps_lock = PTHREAD_MUTEX_INITIALIZER;

static void unmap_slot(napi_env env, void *data, void *hint) {
  (void)env;
  pthread_mutex_lock(&slot_maps_lock);
  for (size_t i = 0; i < slot_map_count; i++) {
    if (slot_maps[i].p == data) { slot_maps[i] = slot_maps[--slot_map_count]; break; }
  }
  pthread_mutex_unlock(&slot_maps_lock);
  munmap(data, (size_t)(uintptr_t)hint);
}

/* 1 when [p, p + n) lies in one mapping of mapSlotFile's. */
static int in_slot_map(const uint8_t *p, size_t n) {
  int ok = 0;
  pthread_mutex_lock(&slot_maps_lock);
  for (size_t i = 0; i < slot_map_count && !ok; i++) ok = p >= slot_maps[i].p && n <= slot_maps[i].len && (size_t)(p - slot_maps[i].p) <= slot_maps[i].len - n;
  pthread_mutex_unlock(&slot_maps_lock);
  return ok;
}

static napi_value map_slot_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t fd = 0, len = 0;
  if (argc < 2 || !index_arg(env, argv[0], 2147483647.0, &fd) || !index_arg(env, argv[1], 2147483647.0, &len) || len == 0) {
    napi_throw_range_error(env, NULL, "sealtap-capture: mapSlotFile(fd, length) takes a file descriptor and a length from 1 to 2^31 - 1");
    return NULL;
  }
  struct stat st;
  if (fstat((int)fd, &st) != 0 || st.st_size < 0 || (size_t)st.st_size < len) {
    napi_throw_error(env, NULL, "sealtap-capture: mapSlotFile: the file is shorter than the length asked for");
    return NULL;
  }
  pthread_mutex_lock(&slot_maps_lock);
  int full = slot_map_count == MAX_SLOT_MAPS;
  pthread_mutex_unlock(&slot_maps_lock);
  if (full) {
    napi_throw_error(env, NULL, "sealtap-capture: mapSlotFile: too many slot files mapped");
    return NULL;
  }
  void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, (int)fd, 0);
  if (m == MAP_FAILED) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  pthread_mutex_lock(&slot_maps_lock);
  slot_maps[slot_map_count].p = m;
  slot_maps[slot_map_count].len = len;
  slot_map_count++;
  pthread_mutex_unlock(&slot_maps_lock);
  napi_value buf;
  if (napi_create_external_buffer(env, len, m, unmap_slot, (void *)(uintptr_t)len, &buf) != napi_ok) {
    unmap_slot(env, m, (void *)(uintptr_t)len);
    napi_throw_error(env, NULL, "sealtap-capture: mapSlotFile: Node-API would not wrap the mapping");
    return NULL;
  }
  return buf;
}

/*
 * slotPages(buf, end, read): over the whole pages of buf[0, end) of a mapped slot file,
 * read 1 maps them in at once (MADV_POPULATE_READ, one call instead of a fault per
 * page; a kernel without it faults them in as they are read), read 0 lets them go
 * (MADV_DONTNEED: the page cache keeps them, the process's resident set does not).
 * Returns 0 or the errno.
 */
static napi_value slot_pages(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p = NULL;
  size_t len = 0, end = 0;
  bool read = false;
  if (argc < 3 || napi_get_buffer_info(env, argv[0], &p, &len) != napi_ok || !index_arg(env, argv[1], (double)len, &end) ||
      napi_get_value_bool(env, argv[2], &read) != napi_ok) {
    napi_throw_type_error(env, NULL, "sealtap-capture: slotPages(buffer, end, read) takes a mapped slot file, 0 <= end <= its length, and a boolean");
    return NULL;
  }
  /* Never another buffer's pages: MADV_DONTNEED would zero anonymous memory. */
  if (!in_slot_map(p, len) || ((uintptr_t)p & ((uintptr_t)sysconf(_SC_PAGESIZE) - 1)) != 0) {
    napi_throw_range_error(env, NULL, "sealtap-capture: slotPages: the buffer is not a slot file mapSlotFile mapped");
    return NULL;
  }
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t start = (uintptr_t)p & ~(page - 1);
  uintptr_t stop = ((uintptr_t)p + end + page - 1) & ~(page - 1);
  int rc = 0;
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
  if (stop > start && madvise((void *)start, stop - start, read ? MADV_POPULATE_READ : MADV_DONTNEED) != 0) rc = errno;
  return num(env, rc);
}

/*
 * sha256(buf, start, end, out): SHA-256 of buf[start, end) into out[0, 32), by OpenSSL
 * (the SHA extensions where the CPU has them): the digest of every frame on the line,
 * which the box takes of each frame it writes and the receiver of each frame it reads
 * (firmware/channel/checkpoint.ts; node:crypto's SHA-256 there is the definition). One
 * context per thread, made at its first call and kept.
 */
static EVP_MD *sha256_md = NULL;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static __thread EVP_MD_CTX *sha256_ctx = NULL;

static void sha256_init(void) {
  sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static napi_value sha256_js(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *p = NULL, *out = NULL;
  size_t len = 0, outLen = 0, start = 0, end = 0;
  if (argc < 4 || !typed_arg(env, argv[0], napi_uint8_array, 0, (void **)&p, &len) || !index_arg(env, argv[2], (double)len, &end) ||
      !index_arg(env, argv[1], (double)end, &start) || !typed_arg(env, argv[3], napi_uint8_array, 32, (void **)&out, &outLen)) {
    napi_throw_range_error(env, NULL, "sealtap-capture: sha256(buf, start, end, out) takes a Uint8Array, 0 <= start <= end <= its length, and a Uint8Array of at least 32 bytes");
    return NULL;
  }
  pthread_once(&sha256_once, sha256_init);
  if (sha256_ctx == NULL) sha256_ctx = EVP_MD_CTX_new();
  unsigned int n = 0;
  if (sha256_md == NULL || sha256_ctx == NULL || EVP_DigestInit_ex(sha256_ctx, sha256_md, NULL) != 1 ||
      EVP_DigestUpdate(sha256_ctx, p + start, end - start) != 1 || EVP_DigestFinal_ex(sha256_ctx, out, &n) != 1 || n != 32) {
    napi_throw_error(env, NULL, "sealtap-capture: OpenSSL's SHA-256 failed");
    return NULL;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "openOffline", NULL, open_offline, NULL, NULL, NULL, napi_default, NULL },
    { "openLive", NULL, open_live, NULL, NULL, NULL, napi_default, NULL },
    { "setFilter", NULL, set_filter, NULL, NULL, NULL, napi_default, NULL },
    { "checkFilter", NULL, check_filter, NULL, NULL, NULL, napi_default, NULL },
    { "dispatch", NULL, dispatch, NULL, NULL, NULL, napi_default, NULL },
    { "wait", NULL, wait_readable, NULL, NULL, NULL, napi_default, NULL },
    { "joinFanout", NULL, join_fanout, NULL, NULL, NULL, napi_default, NULL },
    { "gcmSeal", NULL, gcm_seal, NULL, NULL, NULL, napi_default, NULL },
    { "gcmOpen", NULL, gcm_open, NULL, NULL, NULL, napi_default, NULL },
    { "countRecords", NULL, count_records, NULL, NULL, NULL, napi_default, NULL },
    { "becomeCaptureThread", NULL, become_capture_thread, NULL, NULL, NULL, napi_default, NULL },
    { "stats", NULL, stats, NULL, NULL, NULL, napi_default, NULL },
    { "linkType", NULL, link_type, NULL, NULL, NULL, napi_default, NULL },
    { "snaplen", NULL, snaplen, NULL, NULL, NULL, napi_default, NULL },
    { "selectableFd", NULL, selectable_fd, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, close_handle, NULL, NULL, NULL, napi_default, NULL },
    { "libVersion", NULL, lib_version, NULL, NULL, NULL, napi_default, NULL },
    { "cryptoLibrary", NULL, crypto_library, NULL, NULL, NULL, napi_default, NULL },
    { "allocate", NULL, allocate, NULL, NULL, NULL, napi_default, NULL },
    { "keepFromChildren", NULL, keep_from_children, NULL, NULL, NULL, napi_default, NULL },
    { "prefault", NULL, prefault, NULL, NULL, NULL, napi_default, NULL },
    { "cobsEncode", NULL, cobs_encode, NULL, NULL, NULL, napi_default, NULL },
    { "guardRun", NULL, guard_run, NULL, NULL, NULL, napi_default, NULL },
    { "rewriterNew", NULL, rewriter_new, NULL, NULL, NULL, napi_default, NULL },
    { "rewriterBind", NULL, rewriter_bind, NULL, NULL, NULL, napi_default, NULL },
    { "rewriterRun", NULL, rewriter_run, NULL, NULL, NULL, napi_default, NULL },
    { "packetsRun", NULL, packets_run, NULL, NULL, NULL, napi_default, NULL },
    { "flowsRun", NULL, flows_run, NULL, NULL, NULL, napi_default, NULL },
    { "mapSlotFile", NULL, map_slot_file, NULL, NULL, NULL, napi_default, NULL },
    { "slotPages", NULL, slot_pages, NULL, NULL, NULL, napi_default, NULL },
    { "cobsDecode", NULL, cobs_decode, NULL, NULL, NULL, napi_default, NULL },
    { "crc32c", NULL, crc32c_js, NULL, NULL, NULL, napi_default, NULL },
    { "sha256", NULL, sha256_js, NULL, NULL, NULL, napi_default, NULL },
    { "pcapUnpack", NULL, pcap_unpack, NULL, NULL, NULL, napi_default, NULL },
    { "packRecords", NULL, pack_records, NULL, NULL, NULL, napi_default, NULL },
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
