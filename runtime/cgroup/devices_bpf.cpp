// runtime/cgroup/devices_bpf.cpp: the cgroup v2 device filter (see devices_bpf.h). The program is
// emitted instruction by instruction; no libbpf, no clang at build time.
#include "runtime/cgroup/devices_bpf.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "runtime/sys/fd.h"

namespace vsrv::cgroup {

namespace {

bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

bpf_insn load_ctx_u32(std::uint8_t dst, std::int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, 1, off, 0); }
bpf_insn mov_reg(std::uint8_t dst, std::uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov_imm(std::uint8_t dst, std::int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn and_imm(std::uint8_t dst, std::int32_t imm) { return insn(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, imm); }
bpf_insn rsh_imm(std::uint8_t dst, std::int32_t imm) { return insn(BPF_ALU64 | BPF_RSH | BPF_K, dst, 0, 0, imm); }
bpf_insn xor_imm(std::uint8_t dst, std::int32_t imm) { return insn(BPF_ALU64 | BPF_XOR | BPF_K, dst, 0, 0, imm); }
bpf_insn or_reg(std::uint8_t dst, std::uint8_t src) { return insn(BPF_ALU64 | BPF_OR | BPF_X, dst, src, 0, 0); }
bpf_insn jne_imm(std::uint8_t dst, std::int32_t imm) { return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int access_bits(const std::string& access) {
  int a = 0;
  for (char c : access.empty() ? std::string("rwm") : access) {
    if (c == 'm') a |= BPF_DEVCG_ACC_MKNOD;
    if (c == 'r') a |= BPF_DEVCG_ACC_READ;
    if (c == 'w') a |= BPF_DEVCG_ACC_WRITE;
  }
  return a;
}

long bpf(int cmd, union bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

}  // namespace

std::vector<bpf_insn> device_filter(const std::vector<oci::DeviceRule>& rules) {
  // r2 = access_type; r3 = device type (low 16 bits); r4 = access (high 16); r5 = major; r6 = minor
  std::vector<bpf_insn> p = {load_ctx_u32(2, 0), mov_reg(3, 2), and_imm(3, 0xffff), mov_reg(4, 2),
                             rsh_imm(4, 16),     load_ctx_u32(5, 4), load_ctx_u32(6, 8)};
  constexpr int kAll = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const auto& r = *it;
    // r7 = the OR of each checked field's difference from the rule (XOR) and of the access bits
    // the rule lacks: zero exactly when the rule matches, so one jump per rule.
    std::vector<bpf_insn> block;
    auto add = [&](std::uint8_t reg, bpf_insn op) {
      const bool first = block.empty();
      block.push_back(mov_reg(first ? 7 : 8, reg));
      op.dst_reg = first ? 7 : 8;
      block.push_back(op);
      if (!first) block.push_back(or_reg(7, 8));
    };
    if (r.type == "c") add(3, xor_imm(0, BPF_DEVCG_DEV_CHAR));
    if (r.type == "b") add(3, xor_imm(0, BPF_DEVCG_DEV_BLOCK));
    if (r.major && *r.major >= 0) add(5, xor_imm(0, static_cast<std::int32_t>(*r.major)));
    if (r.minor && *r.minor >= 0) add(6, xor_imm(0, static_cast<std::int32_t>(*r.minor)));
    int acc = access_bits(r.access);
    if (acc != kAll) add(4, and_imm(0, ~acc & kAll));  // every bit asked for must be in the rule
    const bool matches_all = block.empty();
    if (!matches_all) {
      block.push_back(jne_imm(7, 0));
      block.back().off = 2;  // over "r0 = ..; exit"
    }
    block.push_back(mov_imm(0, r.allow ? 1 : 0));
    block.push_back(exit_insn());
    p.insert(p.end(), block.begin(), block.end());
    // A rule that matches everything ends the program: the verifier refuses unreachable code.
    if (matches_all) return p;
  }
  p.push_back(mov_imm(0, 0));
  p.push_back(exit_insn());
  return p;
}

Result<void> attach_device_filter(int cgroup_fd, const std::vector<oci::DeviceRule>& rules, int loaded) {
  if (loaded >= 0) {
    union bpf_attr att {};
    att.target_fd = static_cast<std::uint32_t>(cgroup_fd);
    att.attach_bpf_fd = static_cast<std::uint32_t>(loaded);
    att.attach_type = BPF_CGROUP_DEVICE;
    att.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, &att) == 0) return {};
    // Refused for a reason of its own? Load and attach the usual way, for the usual message.
  }
  auto prog = device_filter(rules);
  static const char kLicense[] = "GPL";
  static char log[4096];
  union bpf_attr load {};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<std::uint64_t>(prog.data());
  load.insn_cnt = static_cast<std::uint32_t>(prog.size());
  load.license = reinterpret_cast<std::uint64_t>(kLicense);
  long fd = bpf(BPF_PROG_LOAD, &load);
  if (fd < 0) {
    int e = errno;
    // Ask again with the verifier's log, for a message that says why.
    log[0] = 0;
    load.log_level = 1;
    load.log_buf = reinterpret_cast<std::uint64_t>(log);
    load.log_size = sizeof log;
    (void)bpf(BPF_PROG_LOAD, &load);
    std::string why = log[0] ? std::string(": ") + std::string(log, ::strnlen(log, sizeof log)).substr(0, 300) : "";
    return make_error(e, "devices: load the eBPF device filter" + why);
  }
  sys::unique_fd prog_fd(static_cast<int>(fd));
  union bpf_attr att {};
  att.target_fd = static_cast<std::uint32_t>(cgroup_fd);
  att.attach_bpf_fd = static_cast<std::uint32_t>(prog_fd.get());
  att.attach_type = BPF_CGROUP_DEVICE;
  att.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &att) < 0) return errno_error("devices: attach the eBPF device filter");
  // The attachment holds the program; it goes with the cgroup.
  return {};
}

}  // namespace vsrv::cgroup
