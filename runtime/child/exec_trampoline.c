/* runtime/child/exec_trampoline.c: the exec trampoline, a freestanding x86-64 program (no libc,
 * a few hundred bytes) that vsrv's child (of `exec`, and a container's init) runs from a sealed
 * memfd just before the container's program. It owns exactly this: mark the handshake socket
 * close-on-exec; for an init, say ChildReady and (unless it is `run`'s) wait on exec.fifo until
 * `start`; load the
 * seccomp filter it is given; execve() the target; report a failure of any of these.
 *
 * Why (security, the CVE-2019-5736 class): at the final execve a target such as a script with
 * "#!/proc/self/exe" makes the kernel execute whatever /proc/self/exe is. Were that vsrv's host
 * binary, the new process inside the container could reopen it for writing once vsrv exits.
 * Executed from here, /proc/self/exe is this sealed memfd: nothing can write it. Before, vsrv
 * re-executed its whole 4 MB self from a read-only copy for this; the trampoline starts with no
 * dynamic loader, no glibc start-up (whose CPUID probing alone costs ~0.2 ms in a VM) and no
 * relocation. The rest of the argument (the child is the host binary until here) is in
 * docs/security.md.
 *
 * Run by anything else (a container process can execute it through "#!/proc/self/exe"), it
 * only acts with the caller's own rights on the caller's own fds and arguments. */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <asm/unistd.h>

#include "runtime/child/trampoline_abi.h"

#define F_SETFD_ 2
#define FD_CLOEXEC_ 1
#define MAX_INSNS 4096 /* BPF_MAXINSNS */

static struct sock_filter filter_buf[MAX_INSNS];

static long sc3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static long sc4(long n, long a, long b, long c, long d) {
  long r;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return r;
}

static long sc6(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return r;
}

static __attribute__((noreturn)) void die(int code) {
  for (;;) sc3(__NR_exit_group, code, 0, 0);
}

/* Decimal, optional leading '-'; -2 when malformed (never a valid fd or count). */
static long num(const char* s) {
  long v = 0, sign = 1;
  if (!s || !*s) return -2;
  if (*s == '-') sign = -1, s++;
  if (!*s) return -2;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 100000000) return -2;
    v = v * 10 + (*s - '0');
  }
  return sign * v;
}

static void send_msg(long chan, struct vsrv_tr_wire_msg* m) {
  /* MSG_NOSIGNAL: with the parent gone, fail with EPIPE rather than die of SIGPIPE (which the
   * container's process gets at its default). */
  if (chan >= 0) sc6(__NR_sendto, chan, (long)m, sizeof *m, 0x4000 /* MSG_NOSIGNAL */, 0, 0);
}

static void zero(struct vsrv_tr_wire_msg* m) {
  char* p = (char*)m;
  for (unsigned i = 0; i < sizeof *m; i++) p[i] = 0;
}

static void report(long chan, unsigned step, long err, const char* what, const char* arg) {
  struct vsrv_tr_wire_msg m;
  zero(&m);
  m.type = VSRV_TR_MSG_ERROR;
  m.errnum = (int)-err;
  m.step = step;
  unsigned n = 0;
  for (; *what && n < sizeof m.text - 3; what++) m.text[n++] = *what;
  if (arg) {
    m.text[n++] = '\'';
    for (; *arg && n < sizeof m.text - 2; arg++) m.text[n++] = *arg;
    m.text[n++] = '\'';
  }
  send_msg(chan, &m);
}

/* A container's init: tell the parent we are here, so that its state says "created" (or, for
 * `run`, "running") only once the init is this sealed program, never while it is still vsrv. */
static void say_ready(long chan) {
  struct vsrv_tr_wire_msg m;
  zero(&m);
  m.type = VSRV_TR_MSG_CHILD_READY;
  if (sc6(__NR_sendto, chan, (long)&m, sizeof m, 0x4000 /* MSG_NOSIGNAL */, 0, 0) != (long)sizeof m)
    die(VSRV_TR_SETUP_FAILED); /* the parent, waiting for it, sees EOF instead */
}

/* Then block until `start` opens exec.fifo for reading, as the child would have
 * (runtime/child/child_main.cpp, wait_exec_fifo). */
static void wait_fifo(long chan, long fifo) {
  char path[32] = "/proc/self/fd/";
  int n = 14, k = 0;
  char d[12];
  long v = fifo;
  do {
    d[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (k) path[n++] = d[--k];
  path[n] = 0;
  long fd = sc4(__NR_openat, -100 /* AT_FDCWD */, (long)path, 01 | 02000000 /* O_WRONLY|O_CLOEXEC */, 0);
  if (fd < 0) {
    report(chan, VSRV_TR_STEP_FIFO, fd, "open exec.fifo (is /proc mounted?)", 0);
    die(VSRV_TR_SETUP_FAILED);
  }
  long r = sc3(__NR_write, fd, (long)"0", 1);
  if (r != 1) {
    report(chan, VSRV_TR_STEP_FIFO, r < 0 ? r : -5, "write exec.fifo", 0);
    die(VSRV_TR_SETUP_FAILED);
  }
  sc3(__NR_close, fd, 0, 0);
  sc3(__NR_close, fifo, 0, 0);
}

__attribute__((used)) void trampoline_main(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  if (argc <= VSRV_TR_ARGV) die(VSRV_TR_SETUP_FAILED);
  long chan = num(argv[VSRV_TR_CHANNEL]);
  long ffd = num(argv[VSRV_TR_FILTER_FD]);
  long len = num(argv[VSRV_TR_FILTER_LEN]);
  long flags = num(argv[VSRV_TR_FILTER_FLAGS]);
  long fifo = num(argv[VSRV_TR_FIFO_FD]);
  if (chan < 0 || ffd < -1 || len < 0 || len > MAX_INSNS || flags < 0 || fifo < VSRV_TR_INIT_NO_FIFO)
    die(VSRV_TR_SETUP_FAILED);
  /* The socket must not reach the target: its EOF is how the parent learns the execve worked. */
  long r = sc3(__NR_fcntl, chan, F_SETFD_, FD_CLOEXEC_);
  if (r < 0) {
    report(chan, VSRV_TR_STEP_START, r, "trampoline: fcntl(FD_CLOEXEC) on the channel", 0);
    die(VSRV_TR_SETUP_FAILED);
  }
  if (fifo >= 0 || fifo == VSRV_TR_INIT_NO_FIFO) say_ready(chan);
  if (fifo >= 0) wait_fifo(chan, fifo);  /* before the filter, which need not allow it */
  if (ffd >= 0) {
    long want = len * (long)sizeof(struct sock_filter), got = 0;
    while (got < want) {
      r = sc4(__NR_pread64, ffd, (long)filter_buf + got, want - got, got);
      if (r == -4 /* EINTR */) continue;
      if (r <= 0) {
        report(chan, VSRV_TR_STEP_SECCOMP, r < 0 ? r : -5 /* EIO */, "read seccomp filter", 0);
        die(VSRV_TR_SETUP_FAILED);
      }
      got += r;
    }
    sc3(__NR_close, ffd, 0, 0);
    struct sock_fprog prog = {(unsigned short)len, filter_buf};
    r = sc3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, (long)&prog);
    if (r < 0) {
      report(chan, VSRV_TR_STEP_SECCOMP, r, "load seccomp filter", 0);
      die(VSRV_TR_SETUP_FAILED);
    }
  }
  r = sc3(__NR_execve, (long)argv[VSRV_TR_EXE], (long)(argv + VSRV_TR_ARGV), (long)envp);
  report(chan, VSRV_TR_STEP_EXEC, r, "exec ", argv[VSRV_TR_EXE]);
  die(VSRV_TR_EXEC_FAILED);
}

__asm__(
    ".text\n"
    ".global _start\n"
    "_start:\n"
    "  xor %rbp, %rbp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call trampoline_main\n"
    "  hlt\n");
