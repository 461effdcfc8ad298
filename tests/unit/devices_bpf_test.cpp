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
#include <vector>

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

// The instructions device_filter() emits, run as the kernel would on one request: the decision
// (1 allow, 0 deny), or -1 for anything outside that subset or a jump out of the program.
int run_filter(const std::vector<bpf_insn>& p, std::uint32_t type, std::uint32_t access, std::uint32_t major,
               std::uint32_t minor) {
  const std::uint32_t ctx[3] = {(access << 16) | type, major, minor};
  std::uint64_t r[11] = {};
  for (std::size_t pc = 0, steps = 0; pc < p.size() && steps < 10000; ++pc, ++steps) {
    const bpf_insn& i = p[pc];
    const std::uint64_t k = static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm));
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        if (i.src_reg != 1 || i.off < 0 || i.off > 8 || i.off % 4) return -1;
        r[i.dst_reg] = ctx[i.off / 4];
        break;
      case BPF_ALU64 | BPF_MOV | BPF_X: r[i.dst_reg] = r[i.src_reg]; break;
      case BPF_ALU64 | BPF_MOV | BPF_K: r[i.dst_reg] = k; break;
      case BPF_ALU64 | BPF_AND | BPF_K: r[i.dst_reg] &= k; break;
      case BPF_ALU64 | BPF_RSH | BPF_K: r[i.dst_reg] >>= i.imm; break;
      case BPF_ALU64 | BPF_XOR | BPF_K: r[i.dst_reg] ^= k; break;
      case BPF_ALU64 | BPF_OR | BPF_X: r[i.dst_reg] |= r[i.src_reg]; break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (r[i.dst_reg] != k) pc += static_cast<std::size_t>(i.off);
        break;
      case BPF_JMP | BPF_EXIT: return static_cast<int>(r[0]);
      default: return -1;
    }
  }
  return -1;
}

// What the rules mean (runc's semantics): from the last rule to the first, the first whose type,
// major and minor match and whose access covers every bit asked for decides; none denies.
int reference(const std::vector<oci::DeviceRule>& rules, std::uint32_t type, std::uint32_t access, std::uint32_t major,
              std::uint32_t minor) {
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const auto& r = *it;
    if (r.type == "c" && type != BPF_DEVCG_DEV_CHAR) continue;
    if (r.type == "b" && type != BPF_DEVCG_DEV_BLOCK) continue;
    if (r.major && *r.major >= 0 && static_cast<std::uint32_t>(*r.major) != major) continue;
    if (r.minor && *r.minor >= 0 && static_cast<std::uint32_t>(*r.minor) != minor) continue;
    std::uint32_t have = 0;
    for (char c : r.access.empty() ? std::string("rwm") : r.access)
      have |= c == 'm' ? BPF_DEVCG_ACC_MKNOD : c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : 0;
    if (access & ~have) continue;
    return r.allow ? 1 : 0;
  }
  return 0;
}

TEST(CgroupDevicesBpf, DecidesEveryRequestAsTheRulesSay) {
  // Random rule lists (a fixed seed) against every request over a small device space: the emitted
  // program, run instruction by instruction, decides as the rules' meaning does.
  std::uint64_t seed = 0x9e3779b97f4a7c15ULL;
  auto next = [&](std::uint32_t n) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    return static_cast<std::uint32_t>(seed % n);
  };
  const char* types[] = {"a", "c", "b"};
  const char* accesses[] = {"rwm", "r", "w", "m", "rw", "rm", "wm", ""};
  for (int round = 0; round < 300; ++round) {
    std::vector<oci::DeviceRule> rules;
    for (std::uint32_t n = next(8); n > 0; --n) {
      oci::DeviceRule x;
      x.allow = next(2) == 1;
      x.type = types[next(3)];
      if (next(3)) x.major = next(4) == 0 ? -1 : static_cast<std::int64_t>(next(3));
      if (next(3)) x.minor = next(4) == 0 ? -1 : static_cast<std::int64_t>(next(3));
      x.access = accesses[next(8)];
      rules.push_back(x);
    }
    auto p = device_filter(rules);
    for (std::uint32_t type : {BPF_DEVCG_DEV_CHAR, BPF_DEVCG_DEV_BLOCK})
      for (std::uint32_t access = 1; access <= 7; ++access)
        for (std::uint32_t major = 0; major < 4; ++major)
          for (std::uint32_t minor = 0; minor < 4; ++minor)
            ASSERT_EQ(run_filter(p, type, access, major, minor), reference(rules, type, access, major, minor))
                << "round " << round << " type " << type << " access " << access << " " << major << ":" << minor;
  }
}

TEST(CgroupDevicesBpf, OneJumpPerRuleSoTheVerifierWalksItOnce) {
  // Every rule costs the kernel's verifier one branch: its fields are folded into one register
  // and tested once (a jump per field made it walk each rule up to four times: ~2.5x the load
  // time, docs/performance.md). The default rules here: 15, so 15 conditional jumps.
  std::vector<oci::DeviceRule> rules = {rule(false, "a", std::nullopt, std::nullopt, "rwm")};
  for (int minor : {3, 5, 7, 8, 9}) rules.push_back(rule(true, "c", 1, minor, "rwm"));
  for (int minor : {0, 1, 2}) rules.push_back(rule(true, "c", 5, minor, "rwm"));
  rules.push_back(rule(true, "c", 136, std::nullopt, "rwm"));
  rules.push_back(rule(true, "c", 10, 200, "rwm"));
  rules.push_back(rule(true, "c", std::nullopt, std::nullopt, "m"));
  rules.push_back(rule(true, "b", std::nullopt, std::nullopt, "m"));
  auto p = device_filter(rules);
  int jumps = 0;
  for (const auto& i : p) jumps += BPF_CLASS(i.code) == BPF_JMP && BPF_OP(i.code) != BPF_EXIT;
  EXPECT_EQ(jumps, static_cast<int>(rules.size()) - 1);  // the deny-all at the end needs none
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
