// Unit tests for path resolution inside a root (runtime/sys/rootfs.h): RootFs::mkdir_p, whose
// fast paths (whole path, then parent) must keep the walk's guarantee that nothing is made or
// opened outside the root.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/sys/rootfs.h"

using vsrv::sys::RootFs;

namespace {
struct TempRoot {
  std::string path;
  TempRoot() {
    char t[] = "/tmp/vsrv-rootfs-test.XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempRoot() { std::system(("rm -rf '" + path + "'").c_str()); }
  bool is_dir(const std::string& rel) const {
    struct stat st;
    return ::lstat((path + "/" + rel).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
};
ino_t ino_of_fd(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}
ino_t ino_of(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}
}  // namespace

TEST(RootFsMkdirP, ExistingMissingLastAndDeepPaths) {
  TempRoot t;
  auto r = RootFs::open(t.path.c_str());
  ASSERT_TRUE(r);
  ASSERT_EQ(::mkdir((t.path + "/dev").c_str(), 0755), 0);
  auto a = r->mkdir_p("/dev");  // exists
  ASSERT_TRUE(a);
  EXPECT_EQ(ino_of_fd(a->get()), ino_of(t.path + "/dev"));
  auto b = r->mkdir_p("/dev/pts/");  // only the last is missing
  ASSERT_TRUE(b);
  EXPECT_TRUE(t.is_dir("dev/pts"));
  EXPECT_EQ(ino_of_fd(b->get()), ino_of(t.path + "/dev/pts"));
  auto c = r->mkdir_p("sys/fs/cgroup/memory");  // several missing
  ASSERT_TRUE(c);
  EXPECT_TRUE(t.is_dir("sys/fs/cgroup/memory"));
}

TEST(RootFsMkdirP, AbsoluteSymlinkResolvesInsideTheRoot) {
  // Given a rootfs whose /evil points at "/" (the host's root, were it followed outside)
  TempRoot t;
  auto r = RootFs::open(t.path.c_str());
  ASSERT_TRUE(r);
  ASSERT_EQ(::symlink("/", (t.path + "/evil").c_str()), 0);
  std::string host_probe = "/tmp/vsrv-rootfs-escape-" + std::to_string(::getpid());
  // When a target under it is made (missing last component, then deeper)
  auto a = r->mkdir_p(("/evil" + host_probe).c_str());
  ASSERT_TRUE(a) << a.error().message();
  // Then it lands in the root, never on the host
  EXPECT_TRUE(t.is_dir(host_probe.substr(1)));
  EXPECT_EQ(::access(host_probe.c_str(), F_OK), -1);
  auto b = r->mkdir_p("/evil/etc/vsrv-rootfs-test/deeper");
  ASSERT_TRUE(b);
  EXPECT_TRUE(t.is_dir("etc/vsrv-rootfs-test/deeper"));
  EXPECT_EQ(::access("/etc/vsrv-rootfs-test", F_OK), -1);
}

TEST(RootFsMkdirP, SymlinkAsLastComponentIsFollowedInsideTheRoot) {
  TempRoot t;
  auto r = RootFs::open(t.path.c_str());
  ASSERT_TRUE(r);
  ASSERT_EQ(::mkdir((t.path + "/real").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("/real", (t.path + "/link").c_str()), 0);
  auto a = r->mkdir_p("/link");
  ASSERT_TRUE(a);
  EXPECT_EQ(ino_of_fd(a->get()), ino_of(t.path + "/real"));
}

TEST(RootFsMkdirP, FileInTheWayIsAnError) {
  TempRoot t;
  auto r = RootFs::open(t.path.c_str());
  ASSERT_TRUE(r);
  int fd = ::open((t.path + "/file").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto a = r->mkdir_p("/file");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().errnum, ENOTDIR);
  auto b = r->mkdir_p("/file/sub");
  ASSERT_FALSE(b);
}

#include <sys/utsname.h>

#include "runtime/sys/syscalls.h"

namespace {

// sys::features() probes with null paths (EFAULT where a call exists, ENOSYS where not): on any
// kernel vsrv's tests run on (>= 5.12) both calls are there.
TEST(SysFeatures, ProbesFindOpenat2AndTheNewMountApi) {
  struct utsname u;
  ASSERT_EQ(::uname(&u), 0);
  int major = 0, minor = 0;
  ASSERT_EQ(std::sscanf(u.release, "%d.%d", &major, &minor), 2);
  if (major < 5 || (major == 5 && minor < 12)) GTEST_SKIP() << "kernel " << u.release << " predates mount_setattr (5.12)";
  const auto& f = vsrv::sys::features();
  EXPECT_TRUE(f.openat2);
  EXPECT_TRUE(f.new_mount_api);
  EXPECT_EQ(&f, &vsrv::sys::features()) << "probed once";
}

}  // namespace

namespace {

std::string read_all(const std::string& p) {
  std::string out;
  if (FILE* f = std::fopen(p.c_str(), "r")) {
    char buf[256];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

// write_file_atomic() makes a new file with a rename, and replaces an existing one by swapping
// the new one in (RENAME_EXCHANGE) and unlinking the old: a new inode either way, readers see
// all or nothing, and no temporary is left beside it.
TEST(SysWriteFileAtomic, NewAndReplacedFilesLeaveNoTemporary) {
  TempRoot t;
  std::string p = t.path + "/state.json";
  ASSERT_TRUE(vsrv::sys::write_file_atomic(p, "first"));
  EXPECT_EQ(read_all(p), "first");
  ino_t before = ino_of(p);
  int reader = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);  // a reader that opened the old one
  ASSERT_GE(reader, 0);
  ASSERT_TRUE(vsrv::sys::write_file_atomic(p, "second, longer"));
  EXPECT_EQ(read_all(p), "second, longer");
  EXPECT_NE(ino_of(p), before) << "a new file, not the old one rewritten";
  char buf[16] = {};
  EXPECT_EQ(::pread(reader, buf, sizeof buf - 1, 0), 5);
  EXPECT_STREQ(buf, "first") << "the old one, whole, for whoever had it open";
  ::close(reader);
  int entries = 0;
  std::string cmd = "ls -A '" + t.path + "' | wc -l";
  FILE* ls = ::popen(cmd.c_str(), "r");
  ASSERT_NE(ls, nullptr);
  ASSERT_EQ(std::fscanf(ls, "%d", &entries), 1);
  ::pclose(ls);
  EXPECT_EQ(entries, 1) << "only state.json: no temporary left";
}

}  // namespace
