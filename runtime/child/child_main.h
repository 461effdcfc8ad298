// runtime/child/child_main.h: entry point of the container's init (and of `exec`'s process)
// after clone3(). Never returns: it ends in execve() or _exit().
#pragma once
#include "runtime/plan.h"
#include "runtime/sync.h"

namespace vsrv::runtime::child {

constexpr int kSetupFailed = 125;
constexpr int kExecFailed = 127;

[[noreturn]] void child_main(const ChildPlan& plan, Channel& ch) noexcept;

}  // namespace vsrv::runtime::child
