/* probe: tiny static payload for vsrv integration tests (in the spirit of crun's tests/init.c).
 * Build: gcc -static -O2 -o probe probe.c
 * Every sub-command prints to stdout; a failing syscall prints "probe: <what>: <ERRNAME> (<msg>)"
 * to stderr and exits 1, so tests can assert the errno name. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *ename(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "EUNKNOWN";
}

static int fail(const char *what) {
  int e = errno;
  fprintf(stderr, "probe: %s: %s (%s)\n", what, ename(e), strerror(e));
  return 1;
}

static int cat(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(path);
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
  if (n < 0) return fail(path);
  close(fd);
  return 0;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int ls(const char *path) {
  DIR *d = opendir(path);
  if (!d) return fail(path);
  char *names[4096];
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) && n < 4096)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) names[n++] = strdup(de->d_name);
  closedir(d);
  qsort(names, n, sizeof *names, cmpstr);
  for (size_t i = 0; i < n; i++) puts(names[i]);
  return 0;
}

static int fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return fail("/proc/self/fd");
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d)) continue;
    char p[300], t[4096] = "";
    snprintf(p, sizeof p, "/proc/self/fd/%s", de->d_name);
    ssize_t n = readlink(p, t, sizeof t - 1);
    if (n >= 0) t[n] = 0;
    printf("%s -> %s\n", de->d_name, t);
  }
  closedir(d);
  return 0;
}

static int grep_status(const char *prefixes[]) {
  FILE *f = fopen("/proc/self/status", "re");
  if (!f) return fail("/proc/self/status");
  char line[512];
  while (fgets(line, sizeof line, f))
    for (int i = 0; prefixes[i]; i++)
      if (!strncmp(line, prefixes[i], strlen(prefixes[i]))) fputs(line, stdout);
  fclose(f);
  return 0;
}

static const struct { const char *n; int r; } rlims[] = {
    {"NOFILE", RLIMIT_NOFILE}, {"NPROC", RLIMIT_NPROC},     {"CORE", RLIMIT_CORE},
    {"AS", RLIMIT_AS},         {"STACK", RLIMIT_STACK},     {"MEMLOCK", RLIMIT_MEMLOCK},
    {"CPU", RLIMIT_CPU},       {"FSIZE", RLIMIT_FSIZE},     {"NICE", RLIMIT_NICE},
    {"MSGQUEUE", RLIMIT_MSGQUEUE}, {"RTPRIO", RLIMIT_RTPRIO}, {"SIGPENDING", RLIMIT_SIGPENDING},
};

static long try_syscall(const char *name) {
  char buf[4096];
  struct utsname u;
  if (!strcmp(name, "getcwd")) return syscall(SYS_getcwd, buf, sizeof buf);
  if (!strcmp(name, "uname")) return syscall(SYS_uname, &u);
  if (!strcmp(name, "getpid")) return syscall(SYS_getpid);
  if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
  if (!strcmp(name, "unshare")) return syscall(SYS_unshare, CLONE_NEWUTS);
  if (!strcmp(name, "mount")) return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0UL, NULL);
  if (!strcmp(name, "chroot")) return syscall(SYS_chroot, "/");
  if (!strcmp(name, "ptrace")) return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
  if (!strcmp(name, "setuid")) return syscall(SYS_setuid, 0);
  if (!strcmp(name, "sethostname")) return syscall(SYS_sethostname, "probe", 5);
  if (!strcmp(name, "mknod")) return syscall(SYS_mknodat, AT_FDCWD, "/tmp/.probe-null", S_IFCHR | 0600, makedev(1, 3));
  if (!strcmp(name, "personality")) return syscall(SYS_personality, 0xffffffffUL);
  errno = ENOSYS;
  fprintf(stderr, "probe: unknown syscall name %s\n", name);
  return -2;
}

static volatile sig_atomic_t got;
static void on_sig(int s) { got = s; }

static int notify(void) {
  const char *p = getenv("NOTIFY_SOCKET");
  if (!p || !*p) { fprintf(stderr, "probe: NOTIFY_SOCKET unset\n"); return 1; }
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  size_t len = strlen(p);
  if (len >= sizeof a.sun_path) { fprintf(stderr, "probe: NOTIFY_SOCKET too long\n"); return 1; }
  memcpy(a.sun_path, p, len);
  if (a.sun_path[0] == '@') a.sun_path[0] = 0;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket");
  const char msg[] = "READY=1";
  if (sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
    return fail("sendto");
  puts("sent");
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) { fprintf(stderr, "usage: probe CMD [ARGS]\n"); return 2; }
  const char *c = argv[1], *a1 = argc > 2 ? argv[2] : NULL, *a2 = argc > 3 ? argv[3] : NULL;
#define NEED(n) do { if (argc < 2 + (n)) { fprintf(stderr, "probe %s: missing argument\n", c); return 2; } } while (0)

  if (!strcmp(c, "hostname")) {
    struct utsname u;
    if (uname(&u)) return fail("uname");
    puts(u.nodename);
  } else if (!strcmp(c, "id")) {
    gid_t g[256];
    int n = getgroups(256, g);
    if (n < 0) return fail("getgroups");
    printf("uid=%u gid=%u groups=", getuid(), getgid());
    for (int i = 0; i < n; i++) printf("%s%u", i ? "," : "", g[i]);
    printf("\neuid=%u egid=%u\n", geteuid(), getegid());
  } else if (!strcmp(c, "caps")) {
    const char *p[] = {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", NULL};
    return grep_status(p);
  } else if (!strcmp(c, "seccomp")) {
    const char *p[] = {"Seccomp:", "Seccomp_filters:", "NoNewPrivs:", NULL};
    return grep_status(p);
  } else if (!strcmp(c, "cat")) {
    NEED(1); return cat(a1);
  } else if (!strcmp(c, "ls")) {
    NEED(1); return ls(a1);
  } else if (!strcmp(c, "write")) {
    NEED(2);
    int fd = open(a1, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(a1);
    if (write(fd, a2, strlen(a2)) < 0) return fail("write");
    if (close(fd)) return fail("close");
    puts("ok");
  } else if (!strcmp(c, "mounts")) {
    return cat("/proc/self/mountinfo");
  } else if (!strcmp(c, "rlimit")) {
    NEED(1);
    for (size_t i = 0; i < sizeof rlims / sizeof *rlims; i++) {
      if (strcmp(rlims[i].n, a1) && !(strncmp(a1, "RLIMIT_", 7) == 0 && !strcmp(rlims[i].n, a1 + 7))) continue;
      struct rlimit r;
      if (getrlimit(rlims[i].r, &r)) return fail("getrlimit");
      if (r.rlim_cur == RLIM_INFINITY) printf("unlimited "); else printf("%llu ", (unsigned long long)r.rlim_cur);
      if (r.rlim_max == RLIM_INFINITY) puts("unlimited"); else printf("%llu\n", (unsigned long long)r.rlim_max);
      return 0;
    }
    fprintf(stderr, "probe: unknown rlimit %s\n", a1);
    return 2;
  } else if (!strcmp(c, "syscall")) {
    NEED(1);
    errno = 0;
    long r = try_syscall(a1);
    if (r == -2) return 2;
    if (r < 0) puts(ename(errno)); else puts("ok");
  } else if (!strcmp(c, "fds")) {
    return fds();
  } else if (!strcmp(c, "cwd")) {
    char b[4096];
    if (!getcwd(b, sizeof b)) return fail("getcwd");
    puts(b);
  } else if (!strcmp(c, "sleep")) {
    /* As pid 1 of a pid namespace, signals without a handler are dropped: catch the usual ones and
     * exit 128+sig, so `kill TERM` stops the container. SIGKILL still kills outright. */
    NEED(1);
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], on_sig);
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += atol(a1);
    for (;;) {
      if (got) { printf("signal %d\n", (int)got); return 128 + got; }
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec)) break;
      struct timespec ts = {0, 20 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  } else if (!strcmp(c, "exit")) {
    NEED(1); return atoi(a1);
  } else if (!strcmp(c, "env")) {
    for (char **e = environ; *e; e++) puts(*e);
  } else if (!strcmp(c, "pid")) {
    printf("%d\n", (int)getpid());
  } else if (!strcmp(c, "umask")) {
    mode_t m = umask(0);
    umask(m);
    printf("%04o\n", (unsigned)m);
  } else if (!strcmp(c, "personality")) {
    int p = personality(0xffffffff);
    struct utsname u;
    uname(&u);
    printf("personality=0x%x machine=%s\n", (unsigned)p, u.machine);
  } else if (!strcmp(c, "stat")) {
    NEED(1);
    struct stat st;
    if (lstat(a1, &st)) return fail(a1);
    const char *t = S_ISREG(st.st_mode) ? "reg" : S_ISDIR(st.st_mode) ? "dir" : S_ISCHR(st.st_mode) ? "chr"
                  : S_ISBLK(st.st_mode) ? "blk" : S_ISLNK(st.st_mode) ? "lnk" : S_ISFIFO(st.st_mode) ? "fifo"
                  : S_ISSOCK(st.st_mode) ? "sock" : "other";
    printf("type=%s mode=%04o uid=%u gid=%u rdev=%u:%u size=%lld ino=%llu dev=%u:%u\n", t,
           (unsigned)(st.st_mode & 07777), st.st_uid, st.st_gid, major(st.st_rdev), minor(st.st_rdev),
           (long long)st.st_size, (unsigned long long)st.st_ino, major(st.st_dev), minor(st.st_dev));
  } else if (!strcmp(c, "grab-exes")) {
    /* The CVE-2019-5736 attack by /proc/PID/exe: for SECONDS, keep an O_PATH fd of the exe of
     * every other process that appears (the runtime's child while it sets up, say); then try to
     * reopen each for writing, as an attacker would once the runtime has exited. Prints
     * "OPENED <ino>" per new executable and "WRITABLE <ino>" per reopen that worked (it writes
     * nothing), then "done". */
    NEED(1);
    time_t end = time(NULL) + atoi(a1);
    int fds[512], n = 0;
    ino_t inos[512];
    pid_t self = getpid();
    while (time(NULL) < end && n < 512) {
      DIR *d = opendir("/proc");
      if (!d) return fail("/proc");
      struct dirent *e;
      while ((e = readdir(d)) && n < 512) {
        pid_t p = atoi(e->d_name);
        if (p <= 1 || p == self) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/exe", p);
        int fd = open(path, O_PATH | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st;
        int seen = fstat(fd, &st) < 0;
        for (int i = 0; i < n && !seen; i++) seen = inos[i] == st.st_ino;
        if (seen) { close(fd); continue; }
        inos[n] = st.st_ino;
        fds[n++] = fd;
        printf("OPENED %lu\n", (unsigned long)st.st_ino);
      }
      closedir(d);
    }
    sleep(1);  /* let the runtime exit */
    for (int i = 0; i < n; i++) {
      char path[64];
      snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
      int w = open(path, O_WRONLY | O_CLOEXEC);
      if (w >= 0) {
        printf("WRITABLE %lu\n", (unsigned long)inos[i]);
        close(w);
      }
    }
    puts("done");
    fflush(stdout);
  } else if (!strcmp(c, "readlink")) {
    NEED(1);
    char b[4096];
    ssize_t n = readlink(a1, b, sizeof b - 1);
    if (n < 0) return fail(a1);
    b[n] = 0;
    puts(b);
  } else if (!strcmp(c, "notify")) {
    return notify();
  } else if (!strcmp(c, "signal-wait")) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigprocmask(SIG_BLOCK, &s, NULL);
    puts("ready");
    int sig = 0;
    if (sigwait(&s, &sig)) return fail("sigwait");
    puts("got SIGTERM");
    return 0;
  } else if (!strcmp(c, "alloc")) {
    /* alloc MIB: allocate and touch MIB mebibytes, 1 MiB at a time, printing progress, then pause. */
    NEED(1);
    long n = atol(a1);
    for (long i = 1; i <= n; i++) {
      char *p = malloc(1 << 20);
      if (!p) { printf("alloc failed at %ld\n", i); return 1; }
      memset(p, 1, 1 << 20);
      if (i % 8 == 0 || i == n) { printf("allocated %ld\n", i); fflush(stdout); }
    }
    pause();
  } else if (!strcmp(c, "spin")) {
    /* spin SECONDS: a busy loop on one CPU. */
    NEED(1);
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += atol(a1);
    volatile unsigned long x = 0;
    do {
      for (int i = 0; i < 100000; i++) x++;
      clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
  } else if (!strcmp(c, "forks")) {
    /* forks N: fork N children that sleep; print how many forks succeeded and the first error. */
    NEED(1);
    long n = atol(a1), ok = 0;
    for (long i = 0; i < n; i++) {
      pid_t pid = fork();
      if (pid == 0) { pause(); _exit(0); }
      if (pid < 0) { printf("forked %ld, then %s\n", ok, ename(errno)); fflush(stdout); pause(); }
      ok++;
    }
    printf("forked %ld\n", ok);
    fflush(stdout);
    pause();
  } else if (!strcmp(c, "count")) {
    /* count FILE: writes an increasing counter to FILE every 10 ms, forever. */
    NEED(1);
    for (unsigned long i = 0;; i++) {
      int fd = open(a1, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) { dprintf(fd, "%lu\n", i); close(fd); }
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  } else if (!strcmp(c, "clock")) {
    struct timespec m, b;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_BOOTTIME, &b);
    printf("monotonic=%lld boottime=%lld\n", (long long)m.tv_sec, (long long)b.tv_sec);
  } else {
    fprintf(stderr, "probe: unknown command %s\n", c);
    return 2;
  }
  return 0;
}
