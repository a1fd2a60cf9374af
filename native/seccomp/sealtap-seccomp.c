/*
 * sealtap-seccomp: writes the analysis jail's seccomp filter, compiled to classic BPF,
 * on stdout -- the format bwrap's --seccomp FD reads (firmware/analysis/jail/).
 *
 *   sealtap-seccomp          BPF on stdout (what the jail uses)
 *   sealtap-seccomp --pfc    the same filter as readable text, for review
 *
 * The analysis process sees raw packets and must be assumed hostile. The filter is an
 * ALLOWLIST: every system call not named below fails with EPERM. The list is what node
 * 20 needs to run a script that reads stdin and writes stdout/stderr (found with strace
 * -f on node running an echo script, async fs, crypto, zlib, timers, a V8 heap
 * overflow and a failed Buffer allocation). Adding a call here widens the boundary of
 * every analysis module: say in a comment why it is needed and why it is safe.
 *
 * Deliberately absent (so EPERM): socket, socketpair, bind, connect, listen, accept,
 * accept4, sendto, sendmsg, recvfrom, recvmsg (node reads and writes its stdio
 * socketpairs with read/write, and a module has no business passing descriptors),
 * kill, tkill, tgkill (a V8 abort then ends in SIGSEGV instead of SIGABRT: still a
 * death), ptrace, process_vm_readv/writev, mount, umount2, bpf, perf_event_open,
 * keyctl, add_key, request_key, unshare, setns, fork, vfork, userfaultfd, personality,
 * chroot, pivot_root, reboot, init_module, finit_module, delete_module, kexec_*,
 * memfd_create (an executable file outside the read-only mounts), execveat, every
 * call that creates, renames, links or removes a file or changes its owner or mode.
 *
 * Built from source by `make build` (Makefile: build/sealtap-seccomp).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static scmp_filter_ctx ctx;

static void fail(const char *what, int rc) {
  fprintf(stderr, "sealtap-seccomp: %s: %s\n", what, strerror(-rc));
  seccomp_release(ctx);
  _exit(1);
}

static void allow(const char *name) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) fail(name, -EINVAL);
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
  if (rc < 0) fail(name, rc);
}

/* Calls the process may make but must believe do not exist, so libc falls back. */
static void enosys(const char *name) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) fail(name, -EINVAL);
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
  if (rc < 0) fail(name, rc);
}

static void check(const char *what, int rc) {
  if (rc < 0) fail(what, rc);
}

/* Plain allows: each needed by node, none able to reach outside the process. */
static const char *const plain[] = {
  /* bwrap installs the filter and then execs node, so execve must pass. That is safe:
   * the jail's filesystem holds only node, its libraries and the module's code, all
   * read-only (nothing can be written or created, memfd_create is refused), and the
   * filter survives exec, so whatever runs next is bound by this same list. */
  "execve",
  /* bwrap's pid 1 in the jail runs under the same filter: it reaps with wait4 until its
   * only child (node) is gone. Only a process's own children can be waited for. */
  "wait4",
  /* memory: the loader, malloc, V8's heap and JIT (mprotect to executable) */
  "brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
  "pkey_alloc", "pkey_free", "pkey_mprotect", /* V8 probes memory protection keys */
  /* files: openat is read-only (its flags are checked below), so write and writev reach
   * only descriptors the process was given: its stdio pipes */
  "read", "readv", "pread64", "write", "writev", "lseek", "close",
  "fstat", "newfstatat", "statx",
  "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64",
  "getcwd", "dup", "dup3",
  /* the event loop: epoll, its wake-up eventfd, the signal self-pipe */
  "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2", "pipe2",
  "poll", "ppoll",
  /* stdio: libuv gives a child socketpairs as stdio and asks what they are; these
   * act on descriptors the process already holds and cannot open a new one */
  "getsockname", "getsockopt", "getpeername", "shutdown",
  /* threads (clone itself is checked below) and their synchronisation */
  "futex", "set_robust_list", "set_tid_address", "rseq",
  "sched_yield", "sched_getaffinity", "arch_prctl",
  /* signals to itself only through the kernel (no kill family): handlers and masks */
  "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
  /* time */
  "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
  "time", "getrusage", "times",
  /* identity and limits, read-only */
  "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
  "getgroups", "capget", "uname", "sysinfo", "getrandom",
  /* the end */
  "exit", "exit_group",
};

int main(int argc, char **argv) {
  int pfc = argc == 2 && strcmp(argv[1], "--pfc") == 0;
  if (argc > 1 && !pfc) {
    fprintf(stderr, "usage: sealtap-seccomp [--pfc]   (BPF, or readable text, on stdout)\n");
    return 2;
  }
  ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (ctx == NULL) {
    fprintf(stderr, "sealtap-seccomp: seccomp_init failed\n");
    return 1;
  }
  /* A call made through another architecture's entry (int 0x80 on x86-64) would be
   * checked against the wrong numbers: kill the process instead. */
  check("badarch", seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS));

  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) allow(plain[i]);

  /* openat: read-only opens only. The mounts are read-only already; this second layer
   * keeps a write open from ever reaching a filesystem (O_TMPFILE needs write access
   * too, so it is refused with the rest). */
  check("openat", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                                   SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, 0)));

  /* clone: threads only. A thread shares memory, signal handlers and the thread group;
   * anything else (fork, vfork, a new namespace) is refused. glibc tries clone3 first,
   * whose flags sit in memory a filter cannot read, so clone3 reports ENOSYS and glibc
   * falls back to clone, where the flags are the first argument. */
  const scmp_datum_t thread = CLONE_THREAD | CLONE_VM | CLONE_SIGHAND;
  const scmp_datum_t clone_mask = thread | CLONE_VFORK | CLONE_PARENT | CLONE_PTRACE |
      CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
      CLONE_NEWNET | CLONE_NEWCGROUP;
  check("clone", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, clone_mask, thread)));
  enosys("clone3");

  /* io_uring would run reads, writes and socket calls behind the filter's back. */
  enosys("io_uring_setup");
  enosys("io_uring_enter");
  enosys("io_uring_register");

  /* ioctl: only what libuv uses on its stdio (is it a tty? non-blocking, close-on-exec).
   * Everything else, TIOCSTI (typing into a terminal) included, is refused. */
  const unsigned long ioctls[] = {TCGETS, FIONBIO, FIOCLEX, FIONCLEX, FIONREAD};
  for (size_t i = 0; i < sizeof ioctls / sizeof ioctls[0]; i++)
    check("ioctl", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, ioctls[i])));

  /* fcntl: descriptor flags and duplication; F_SETOWN/F_SETSIG (signals to another
   * process on I/O) and locks are refused. */
  const int fcntls[] = {F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC};
  for (size_t i = 0; i < sizeof fcntls / sizeof fcntls[0]; i++)
    check("fcntl", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1, SCMP_A1(SCMP_CMP_EQ, fcntls[i])));

  /* prlimit64: own limits only (pid 0). node reads RLIMIT_NOFILE and raises the soft
   * limit to the hard one; the kernel refuses anything above the hard limit the jail
   * set from outside. */
  check("prlimit64", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A0(SCMP_CMP_EQ, 0)));

  int rc = pfc ? seccomp_export_pfc(ctx, STDOUT_FILENO) : seccomp_export_bpf(ctx, STDOUT_FILENO);
  if (rc < 0) fail("export", rc);
  seccomp_release(ctx);
  return 0;
}
