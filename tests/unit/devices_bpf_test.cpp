// The cgroup v2 device filter: its shape, and (as root, with a cgroup2 mount) its effect on a
// forked child placed in a scratch cgroup under the vsrv-unit prefix.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/magic.h>
#include <cstring>
#include <optional>
#include <string>

#include "runtime/cgroup/devices_bpf.h"

namespace vsrv::cgroup {
namespace {

oci::DeviceRule rule(bool allow, const char* type, std::optional<std::int64_t> major, std::optional<std::int64_t> minor,
                     const char* access) {
  return {allow, type, major, minor, access};
}

TEST(CgroupDevicesBpf, EmptyRulesDenyEverything) {
  auto p = device_filter({});
  ASSERT_GE(p.size(), 2u);
  EXPECT_EQ(p[p.size() - 2].code, BPF_ALU64 | BPF_MOV | BPF_K);
  EXPECT_EQ(p[p.size() - 2].imm, 0);
  EXPECT_EQ(p.back().code, BPF_JMP | BPF_EXIT);
}

TEST(CgroupDevicesBpf, CatchAllRuleEndsTheProgram) {
  auto p = device_filter({rule(true, "c", 1, 3, "rwm"), rule(true, "a", std::nullopt, std::nullopt, "rwm")});
  ASSERT_EQ(p.size(), 9u);  // 7 set-up instructions, then "allow; exit" and nothing unreachable
  EXPECT_EQ(p[7].imm, 1);
}

TEST(CgroupDevicesBpf, JumpsLandAfterTheirBlock) {
  auto p = device_filter({rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 3, "rw")});
  // Every conditional jump must land inside the program, on an instruction after itself.
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i].code != (BPF_JMP | BPF_JNE | BPF_K)) continue;
    std::size_t target = i + 1 + static_cast<std::size_t>(p[i].off);
    ASSERT_LT(target, p.size());
    EXPECT_GT(p[i].off, 0);
  }
  // The last rule in the config is checked first: its "allow" exit comes before the deny-all's.
  int first_exit_value = -1;
  for (std::size_t i = 1; i < p.size(); ++i)
    if (p[i].code == (BPF_JMP | BPF_EXIT)) {
      first_exit_value = p[i - 1].imm;
      break;
    }
  EXPECT_EQ(first_exit_value, 1);
}

std::string cgroup2_mount() {
  for (const char* m : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    struct statfs st {};
    if (::statfs(m, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) return m;
  }
  return {};
}

// Returns 0 when /dev/null opens read-write and /dev/zero is refused with EPERM.
int child_probe() {
  int a = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (a < 0) return 10;
  ::close(a);
  int b = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
  if (b >= 0) return 11;
  return errno == EPERM ? 0 : 12;
}

TEST(CgroupDevicesBpf, FilterIsEnforcedOnAForkedChild) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to load BPF and make a cgroup";
  std::string mount = cgroup2_mount();
  if (mount.empty()) GTEST_SKIP() << "no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified";
  std::string dir = mount + "/vsrv-unit-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dfd, 0);
  auto r = attach_device_filter(dfd, {rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 3, "rwm")});
  ::close(dfd);
  if (!r) {
    ::rmdir(dir.c_str());
    // No permission (a container without CAP_BPF) is a reason to skip; a verifier error is a bug.
    if (r.error().errnum == EPERM) GTEST_SKIP() << "not allowed to load BPF: " << r.error().message();
    FAIL() << r.error().message();
  }
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char c;
    ::close(go[1]);
    if (::read(go[0], &c, 1) != 1) ::_exit(20);
    ::_exit(child_probe());
  }
  ::close(go[0]);
  {
    int procs = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    std::string s = std::to_string(pid);
    bool moved = procs >= 0 && ::write(procs, s.data(), s.size()) == static_cast<ssize_t>(s.size());
    if (procs >= 0) ::close(procs);
    if (!moved) ::kill(pid, SIGKILL);
    EXPECT_TRUE(moved);
  }
  EXPECT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (int i = 0; i < 100 && ::rmdir(dir.c_str()) < 0 && errno == EBUSY; ++i) ::usleep(10000);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: /dev/null refused; 11: /dev/zero allowed; 12: wrong errno";
}

}  // namespace
}  // namespace vsrv::cgroup
