// runtime/seccomp_eval.h: runs a seccomp BPF program (classic BPF, as seccomp(2) takes it) on a
// syscall in user space, to learn what the filter would answer without making the call. `exec`
// asks it whether a filter loaded before the uid switch lets the trampoline's own calls through
// (runtime/exec_guard.h). Unknown or malformed instructions answer SECCOMP_RET_KILL_PROCESS, so a
// caller that wants ALLOW can never be told yes wrongly.
#pragma once
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vsrv::runtime {

// The filter's full return value (action and data) for `data`.
std::uint32_t seccomp_eval(const struct sock_filter* prog, std::size_t len, const struct seccomp_data& data) noexcept;

// True when the filter answers ALLOW or LOG for every combination given: syscall `nr` on the
// native architecture, with each args[i] taken from choices[i] (an empty choice means 0). For
// arguments the caller cannot know (pointers), pass several values: a filter whose answer
// depends on them is not trusted.
bool seccomp_allows(const std::vector<struct sock_filter>& prog, int nr,
                    const std::vector<std::vector<std::uint64_t>>& choices) noexcept;

}  // namespace vsrv::runtime
