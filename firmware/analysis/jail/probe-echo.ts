// The trial run's script inside the jail (probe.ts): copies stdin to stdout, so the
// trial proves node starts, reads its stdin pipe and writes its stdout pipe under the
// seccomp filter.
process.stdin.pipe(process.stdout);
