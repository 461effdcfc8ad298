// runtime/state.cpp: state.json persistence, locking and liveness (see state.h).
#include "runtime/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/cgroup/manager.h"
#include "runtime/json_text.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::runtime {

using nlohmann::json;

const char* status_name(Status s) {
  switch (s) {
    case Status::Creating: return "creating";
    case Status::Created: return "created";
    case Status::Running: return "running";
    case Status::Paused: return "paused";
    case Status::Stopped: return "stopped";
  }
  return "unknown";
}

static Status status_from(const std::string& s) {
  if (s == "created") return Status::Created;
  if (s == "running") return Status::Running;
  if (s == "paused") return Status::Paused;
  if (s == "stopped") return Status::Stopped;
  return Status::Creating;
}

Result<void> validate_id(const std::string& id) {
  if (id.empty()) return fail("container id must not be empty");
  if (id.size() > 1024) return fail("container id is longer than 1024 bytes");
  auto ok = [](char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' || c == '-'; };
  if (!isalnum(static_cast<unsigned char>(id[0])) && id[0] != '_')
    return fail("invalid container id '" + id + "': must start with a letter, digit or '_'");
  for (char c : id)
    if (!ok(c)) return fail("invalid container id '" + id + "': only [A-Za-z0-9_.+-] are allowed");
  return {};
}

std::string state_dir(const std::string& root, const std::string& id) { return root + "/" + id; }

// The lock is a flock on the container's directory itself: no lock file to create on the way
// in and unlink on the way out (two metadata writes per container on a disk-backed --root, ~0.05
// ms here). The fd is a host directory, which must never reach a container's process ("leaky
// vessels", CVE-2024-21626: a cwd or an *at() call through an inherited fd): it is O_CLOEXEC, and
// every child that enters a container closes it first (plan.close_in_child).
//
// A lock taken on a directory that was removed, or recycled as the spare (below), while we
// waited for it would guard nothing: it counts only while the fd is still the directory at the
// container's path (same inode, checked after flock()), and is taken again otherwise.
// O_NOFOLLOW: a symlink planted at <root>/<id> is not followed out of the root.
static Result<Lock> lock_dir(const std::string& dir, const std::string& id, int how = LOCK_EX) {
  for (;;) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return make_error(ENOENT, "container '" + id + "' does not exist");
      return errno_error("open '" + dir + "'");
    }
    sys::unique_fd owned(fd);
    while (::flock(fd, how) < 0)
      if (errno != EINTR) return errno == EWOULDBLOCK ? make_error(EWOULDBLOCK, "'" + dir + "' is locked") : errno_error("lock '" + dir + "'");
    struct stat held, now;
    if (::fstat(fd, &held) < 0) return errno_error("stat '" + dir + "'");
    if (::lstat(dir.c_str(), &now) < 0) {
      if (errno == ENOENT) return make_error(ENOENT, "container '" + id + "' does not exist");
      return errno_error("stat '" + dir + "'");
    }
    if (now.st_ino == held.st_ino && now.st_dev == held.st_dev) return Lock(std::move(owned));
  }
}

// The spare: <root>/.spare, an empty state directory kept by the last removal and renamed into
// place by the next create. On a disk-backed --root (this project's machines: ext4 mounted with
// `discard`), removing a directory frees its data block, and ext4 then sends the disk a
// synchronous discard as the last fd on it closes: one I/O round trip (0.1-0.25 ms here,
// measured) at the end of every `run` and `delete`, and a block allocation at every create.
// A rename frees and allocates nothing. ".spare" is no container id (ids start with a letter, a
// digit or '_'), `list` skips it, and there is one at most. VSRV_STATE_SPARE=0 turns it off.
static bool spare_wanted() {
  const char* e = ::getenv("VSRV_STATE_SPARE");
  return !(e && e[0] == '0' && !e[1]);
}
static std::string spare_path(const std::string& root) { return root + "/.spare"; }

// Empties the directory behind `fd` (its files and empty directories) in one pass: what a
// removal parks as the spare, and what a create takes as one, holds nothing.
static Result<void> empty_dir(int fd, const std::string& dir) {
  struct linux_dirent64 {
    ino64_t d_ino;
    off64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
  };
  alignas(8) char buf[1024];
  for (;;) {
    long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) return errno_error("read '" + dir + "'");
    if (n == 0) return {};
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<linux_dirent64*>(buf + off);
      off += d->d_reclen;
      std::string_view name = d->d_name;
      if (name == "." || name == "..") continue;
      if (::unlinkat(fd, d->d_name, d->d_type == DT_DIR ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT)
        return errno_error("remove '" + dir + "/" + std::string(name) + "'");
    }
  }
}

Result<Lock> create_dir_locked(const std::string& root, const std::string& id) {
  VSRV_TRY(validate_id(id));
  std::string dir = state_dir(root, id);
  // The spare if there is one (RENAME_NOREPLACE: an existing container stays, EEXIST), else a
  // new directory. The root exists but for the first container: make it only when the
  // container's mkdir says it is missing (not one mkdir per component on every create).
  const bool spare = spare_wanted();
  int rc = spare ? ::renameat2(AT_FDCWD, spare_path(root).c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE) : -1;
  const bool recycled = rc == 0;
  if (rc < 0 && (!spare || errno != EEXIST)) rc = ::mkdir(dir.c_str(), 0711);
  if (rc < 0 && errno == ENOENT) {
    VSRV_TRY(sys::mkdir_p(root, 0711));
    rc = ::mkdir(dir.c_str(), 0711);
  }
  if (rc < 0) {
    if (errno == EEXIST) return make_error(EEXIST, "container '" + id + "' already exists");
    return errno_error("mkdir '" + dir + "'");
  }
  if (!recycled) return lock_dir(dir, id);
  // Not waiting for a lock on the spare: whoever removed the container it was may hold one
  // until it exits (run, delete). Then it goes back, and the container gets a new directory.
  auto lk = lock_dir(dir, id, LOCK_EX | LOCK_NB);
  if (lk) {
    auto emptied = empty_dir(lk->fd(), dir);
    if (emptied) return lk;
    // Something in it that will not go: it goes back, and the container gets a new directory.
    lk = Lock{};
    if (::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, spare_path(root).c_str(), RENAME_NOREPLACE) < 0)
      return forward(std::move(emptied.error()), "the spare state directory, now '" + dir + "'");
  } else if (const int e = lk.error().errnum; e == EWOULDBLOCK) {
    if (::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, spare_path(root).c_str(), RENAME_NOREPLACE) < 0) ::rmdir(dir.c_str());
  } else if (e == ENOTDIR || e == ELOOP) {
    ::unlink(dir.c_str());  // no directory (something else was put at .spare): out of the way
  } else {
    return lk;
  }
  if (::mkdir(dir.c_str(), 0711) < 0) {
    if (errno == EEXIST) return make_error(EEXIST, "container '" + id + "' already exists");
    return errno_error("mkdir '" + dir + "'");
  }
  return lock_dir(dir, id);
}

Result<Lock> lock(const std::string& root, const std::string& id) {
  VSRV_TRY(validate_id(id));
  return lock_dir(state_dir(root, id), id);
}

Result<Lock> lock_shared(const std::string& root, const std::string& id) {
  VSRV_TRY(validate_id(id));
  return lock_dir(state_dir(root, id), id, LOCK_SH);
}

Result<void> lock_upgrade(const Lock& l) {
  while (::flock(l.fd(), LOCK_EX) < 0)
    if (errno != EINTR) return errno_error("lock (exclusive)");
  return {};
}

Result<void> mark_exec_caps(const std::string& root, const std::string& id) {
  std::string path = state_dir(root, id) + "/exec-caps";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errno_error("create '" + path + "'");
  ::close(fd);
  return {};
}

bool has_exec_caps(const std::string& root, const std::string& id) {
  return ::access((state_dir(root, id) + "/exec-caps").c_str(), F_OK) == 0;
}

std::string state_file_path(const std::string& root, const std::string& id) { return state_dir(root, id) + "/state.json"; }

std::string state_file_text(const State& s) {
  // The keys in nlohmann's (sorted) order, so the file is what json::dump() wrote before
  // (runtime/json_text.h says why not through it; state_test.cpp compares the two).
  namespace jt = json_text;
  std::string out;
  out.reserve(s.config_json.size() + s.cgroup.size() + 512);
  bool first = true;
  out += '{';
  jt::append_key(out, "annotations", first);
  jt::append_object(out, s.annotations);
  jt::append_member(out, "bundle", s.bundle, first);
  jt::append_member(out, "cgroup", s.cgroup, first);
  jt::append_member(out, "config", s.config_json, first);
  jt::append_member(out, "created", s.created, first);
  jt::append_member(out, "id", s.id, first);
  jt::append_member(out, "network", s.network, first);
  jt::append_member(out, "owner", s.owner, first);
  jt::append_key(out, "pid", first);
  jt::append_int(out, s.pid);
  jt::append_member(out, "rootfs", s.rootfs, first);
  jt::append_key(out, "start_time", first);
  jt::append_uint(out, s.start_time);
  jt::append_member(out, "status", status_name(s.status), first);
  jt::append_key(out, "systemd_cgroup", first);
  out += s.systemd_cgroup ? "true" : "false";
  out += '}';
  return out;
}

Result<void> save(const std::string& root, const State& s) {
  return sys::write_file_atomic(state_file_path(root, s.id), state_file_text(s));
}

Result<State> load(const std::string& root, const std::string& id) {
  VSRV_TRY(validate_id(id));
  std::string path = state_dir(root, id) + "/state.json";
  auto text = sys::read_file(path);
  if (!text) {
    struct stat st;
    if (::stat(state_dir(root, id).c_str(), &st) < 0) return make_error(ENOENT, "container '" + id + "' does not exist");
    // The directory exists but create died before the first save: a "creating" container.
    State s;
    s.id = id;
    s.status = Status::Creating;
    return s;
  }
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("corrupt state file '" + path + "'");
  State s;
  try {
    s.id = j.value("id", id);
    s.status = status_from(j.value("status", "creating"));
    s.pid = j.value("pid", 0);
    s.start_time = j.value("start_time", 0ULL);
    s.bundle = j.value("bundle", "");
    s.rootfs = j.value("rootfs", "");
    s.created = j.value("created", "");
    s.owner = j.value("owner", "");
    if (j.contains("annotations")) s.annotations = j["annotations"].get<std::map<std::string, std::string>>();
    s.cgroup = j.value("cgroup", "");
    s.network = j.value("network", "");
    s.config_json = j.value("config", "");
    s.systemd_cgroup = j.value("systemd_cgroup", false);
  } catch (const json::exception& e) {
    return fail("corrupt state file '" + path + "': " + e.what());
  }
  return s;
}

// True when pid is alive and is still the process we started (same start time), and not a zombie.
static bool pid_is_ours(pid_t pid, unsigned long long start_time) {
  if (pid <= 0) return false;
  auto ps = sys::process_stat(pid);
  return ps && ps->state != 'Z' && ps->state != 'X' && ps->start_time == start_time;
}

Result<State> load_live(const std::string& root, const std::string& id, sys::unique_fd* pidfd) {
  auto s = load(root, id);
  if (!s) return s;
  if (s->status == Status::Creating && s->pid == 0) return s;
  // Opened before the check, the pidfd pins the pid: it is the checked process for as long as
  // the caller holds it, never a later one with the recycled number.
  sys::unique_fd fd;
  if (pidfd && s->pid > 0) fd.reset(sys::pidfd_open(s->pid));
  if (!pid_is_ours(s->pid, s->start_time) || (pidfd && !fd)) {
    s->status = Status::Stopped;
    return s;
  }
  if (pidfd) *pidfd = std::move(fd);
  if (s->status == Status::Created || s->status == Status::Creating) {
    // Still blocked on exec.fifo? If the fifo is gone, `start` consumed it.
    struct stat st;
    if (::stat((state_dir(root, id) + "/exec.fifo").c_str(), &st) < 0 && s->status == Status::Created)
      s->status = Status::Running;
  }
  if ((s->status == Status::Running || s->status == Status::Paused) && !s->cgroup.empty()) {
    if (auto m = cgroup::Manager::from_json(s->cgroup); m) {
      if (auto f = m->frozen(); f) s->status = *f ? Status::Paused : Status::Running;
    }
  }
  return s;
}

Result<Locked> lock_live(const std::string& root, const std::string& id) {
  auto lk = lock(root, id);
  if (!lk) return forward(std::move(lk.error()));
  auto st = load_live(root, id);
  if (!st) return forward(std::move(st.error()));
  return Locked{std::move(*lk), std::move(*st)};
}

Result<std::vector<std::string>> list_ids(const std::string& root) {
  std::vector<std::string> ids;
  DIR* d = ::opendir(root.c_str());
  if (!d) {
    if (errno == ENOENT) return ids;
    return errno_error("open '" + root + "'");
  }
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == ".spare") continue;
    if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) ids.push_back(name);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<void> remove_dir(const std::string& root, const std::string& id) {
  std::string dir = state_dir(root, id);
  // Emptied by one listing, whatever is in it (state.json, exec.fifo, exec-caps, a crashed save's
  // state.json.tmp.PID, the `lock` file of a vsrv before 2026-11-30, which locked that), then
  // kept as the spare (see create_dir_locked) unless there is one already, else removed.
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    return errno_error("open '" + dir + "'");
  }
  sys::unique_fd d(fd);
  VSRV_TRY(empty_dir(fd, dir));
  d.reset();
  if (spare_wanted() && ::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, spare_path(root).c_str(), RENAME_NOREPLACE) == 0)
    return {};
  if (::rmdir(dir.c_str()) < 0 && errno != ENOENT) return errno_error("rmdir '" + dir + "'");
  return {};
}

std::string oci_state_json(const State& s) {
  json j = {{"ociVersion", "1.2.0"},
            {"id", s.id},
            {"status", status_name(s.status)},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"created", s.created},
            {"owner", s.owner}};
  if (s.status != Status::Stopped && s.pid > 0) j["pid"] = s.pid;
  else j["pid"] = 0;
  j["annotations"] = s.annotations;
  return j.dump(2);
}

}  // namespace vsrv::runtime
