// runtime/seccomp_eval.cpp: a classic-BPF interpreter for seccomp filters (seccomp_eval.h).
#include "runtime/seccomp_eval.h"

#include <linux/audit.h>

#include <cstring>

namespace vsrv::runtime {

std::uint32_t seccomp_eval(const struct sock_filter* prog, std::size_t len, const struct seccomp_data& data) noexcept {
  constexpr std::uint32_t kDeny = SECCOMP_RET_KILL_PROCESS;
  std::uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  unsigned char raw[sizeof data];
  std::memcpy(raw, &data, sizeof data);
  // Every jump goes forward (the kernel's checker refuses others), so this ends within len steps.
  for (std::size_t pc = 0; pc < len; ++pc) {
    const struct sock_filter& f = prog[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k % 4 || f.k + 4 > sizeof data) return kDeny;
        std::memcpy(&a, raw + f.k, 4);
        break;
      case BPF_LD | BPF_W | BPF_LEN: a = sizeof data; break;
      case BPF_LDX | BPF_W | BPF_LEN: x = sizeof data; break;
      case BPF_LD | BPF_IMM: a = f.k; break;
      case BPF_LDX | BPF_IMM: x = f.k; break;
      case BPF_LD | BPF_MEM:
        if (f.k >= BPF_MEMWORDS) return kDeny;
        a = mem[f.k];
        break;
      case BPF_LDX | BPF_MEM:
        if (f.k >= BPF_MEMWORDS) return kDeny;
        x = mem[f.k];
        break;
      case BPF_ST:
        if (f.k >= BPF_MEMWORDS) return kDeny;
        mem[f.k] = a;
        break;
      case BPF_STX:
        if (f.k >= BPF_MEMWORDS) return kDeny;
        mem[f.k] = x;
        break;
      case BPF_MISC | BPF_TAX: x = a; break;
      case BPF_MISC | BPF_TXA: a = x; break;
      case BPF_RET | BPF_K: return f.k;
      case BPF_RET | BPF_A: return a;
      case BPF_JMP | BPF_JA:
        if (pc + 1 + f.k >= len) return kDeny;
        pc += f.k;
        break;
      default: {
        std::uint32_t cls = BPF_CLASS(f.code);
        std::uint32_t src = (BPF_SRC(f.code) == BPF_X) ? x : f.k;
        if (cls == BPF_ALU) {
          switch (BPF_OP(f.code)) {
            case BPF_ADD: a += src; break;
            case BPF_SUB: a -= src; break;
            case BPF_MUL: a *= src; break;
            case BPF_DIV:
              if (!src) return kDeny;
              a /= src;
              break;
            case BPF_MOD:
              if (!src) return kDeny;
              a %= src;
              break;
            case BPF_AND: a &= src; break;
            case BPF_OR: a |= src; break;
            case BPF_XOR: a ^= src; break;
            case BPF_LSH: a = src < 32 ? a << src : 0; break;
            case BPF_RSH: a = src < 32 ? a >> src : 0; break;
            case BPF_NEG: a = 0u - a; break;
            default: return kDeny;
          }
          break;
        }
        if (cls == BPF_JMP) {
          bool t;
          switch (BPF_OP(f.code)) {
            case BPF_JEQ: t = a == src; break;
            case BPF_JGT: t = a > src; break;
            case BPF_JGE: t = a >= src; break;
            case BPF_JSET: t = (a & src) != 0; break;
            default: return kDeny;
          }
          std::size_t off = t ? f.jt : f.jf;
          if (pc + 1 + off >= len) return kDeny;
          pc += off;
          break;
        }
        return kDeny;
      }
    }
  }
  return kDeny;  // fell off the end: the kernel's checker would have refused the program
}

bool seccomp_allows(const std::vector<struct sock_filter>& prog, int nr,
                    const std::vector<std::vector<std::uint64_t>>& choices) noexcept {
#if defined(__x86_64__)
  constexpr std::uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
  constexpr std::uint32_t kArch = AUDIT_ARCH_AARCH64;
#else
  return false;
#endif
  struct seccomp_data d {};
  d.nr = nr;
  d.arch = kArch;
  // Every combination of the choices (a small product: a few values for a few arguments).
  std::size_t idx[6] = {};
  for (;;) {
    for (std::size_t i = 0; i < 6; ++i)
      d.args[i] = i < choices.size() && !choices[i].empty() ? choices[i][idx[i]] : 0;
    std::uint32_t action = seccomp_eval(prog.data(), prog.size(), d) & SECCOMP_RET_ACTION_FULL;
    if (action != SECCOMP_RET_ALLOW && action != SECCOMP_RET_LOG) return false;
    std::size_t i = 0;
    for (; i < 6; ++i) {
      if (i >= choices.size() || choices[i].size() <= 1) continue;
      if (++idx[i] < choices[i].size()) break;
      idx[i] = 0;
    }
    if (i == 6) return true;
  }
}

}  // namespace vsrv::runtime
