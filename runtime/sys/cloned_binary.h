// runtime/sys/cloned_binary.h: defence against the CVE-2019-5736 class of attacks.
// A container whose entrypoint is "#!/proc/self/exe" makes the kernel run the *vsrv binary*
// as the container's process; that process can then reopen /proc/self/exe for writing once vsrv
// exits and replace the host's vsrv. Before any verb that execve()s into a container, vsrv
// re-executes itself from a detached read-only bind mount of its own binary (no copy), or, where
// that is not allowed, from a sealed memfd copy (runc <= 1.1 cloned_binary.c), so /proc/self/exe
// of everything it starts cannot be opened for writing.
#pragma once

namespace vsrv::sys {

// True when this process already runs from a write-sealed memfd or a read-only mount.
bool running_from_sealed_copy() noexcept;
// Re-executes /proc/self/exe from a detached read-only bind mount of it (open_tree +
// mount_setattr + execveat). Returns only on failure (not permitted, old kernel).
void reexec_from_readonly_mount(char** argv) noexcept;
// Copies /proc/self/exe into a sealed memfd and fexecve()s it with the same argv/envp.
// Returns only on failure (errno set).
void reexec_from_sealed_copy(char** argv) noexcept;
// main() hands its argv over once; reexec_protected() re-executes with it later (exec decides
// only after reading the container's state: runtime/exec_guard.h). Tries the read-only mount,
// then (or with VSRV_SEALED_MEMFD set, only) the sealed copy. Returns only on failure.
void remember_argv(char** argv) noexcept;
void reexec_protected() noexcept;

}  // namespace vsrv::sys
