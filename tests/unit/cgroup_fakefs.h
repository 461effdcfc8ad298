// tests/unit/cgroup_fakefs.h: a FAKE cgroupfs for the cgroup unit tests: plain directories in a
// mkdtemp() tree laid out like v1, hybrid and v2 hierarchies (the real /sys/fs/cgroup is never
// touched). A plain directory holding regular files cannot be rmdir'd, so the fake puts files
// (cpuset.cpus, cgroup.controllers) only in directories that are expected to stay.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cgroup/hierarchy.h"
#include "runtime/cgroup/manager.h"

namespace vsrv::cgroup::fakefs {

inline bool contains(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

inline bool is_dir(const std::string& p) {
  struct stat sb;
  return ::stat(p.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode);
}
inline bool exists(const std::string& p) {
  struct stat sb;
  return ::lstat(p.c_str(), &sb) == 0;
}
inline void mkdir_p(const std::string& p) { ASSERT_EQ(std::system(("mkdir -p '" + p + "'").c_str()), 0) << p; }
inline void put(const std::string& p, const std::string& text) {
  std::ofstream f(p);
  f << text;
}
inline std::string slurp(const std::string& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
inline std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class CgroupFakeFs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vsrv-cgfake-XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    root = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + root + "'").c_str()); }

  // v1 hierarchies (cpu and cpuacct co-mounted), plus a unified cgroup2 mount when `with_unified`.
  Hierarchies v1_layout(bool with_unified) {
    Hierarchies h;
    h.layout = with_unified ? Layout::Hybrid : Layout::V1;
    auto mount = [&](const std::string& dir, std::initializer_list<const char*> ctrls) {
      mkdir_p(root + "/" + dir);
      for (const char* c : ctrls) h.v1[c] = root + "/" + dir;
    };
    mount("cpu,cpuacct", {"cpu", "cpuacct"});
    mount("cpuset", {"cpuset"});
    mount("memory", {"memory"});
    mount("pids", {"pids"});
    mount("freezer", {"freezer"});
    mount("devices", {"devices"});
    // The cpuset root has cpus and mems that new children inherit.
    put(root + "/cpuset/cpuset.cpus", "0-3\n");
    put(root + "/cpuset/cpuset.mems", "0\n");
    if (with_unified) {
      mkdir_p(root + "/unified");
      put(root + "/unified/cgroup.controllers", "\n");
      h.unified = root + "/unified";
    }
    return h;
  }
  Hierarchies v2_layout() {
    Hierarchies h;
    h.layout = Layout::V2;
    mkdir_p(root + "/v2");
    put(root + "/v2/cgroup.controllers", "cpuset cpu io memory pids\n");
    h.unified = root + "/v2";
    h.v2_controllers = {"cpuset", "cpu", "io", "memory", "pids"};
    return h;
  }
  // Every directory below root (relative), to check that nothing else was made or left.
  std::set<std::string> tree() {
    std::set<std::string> out;
    std::string cmd = "cd '" + root + "' && find . -mindepth 1 -type d";
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    while (p && ::fgets(buf, sizeof buf, p)) {
      std::string s(buf);
      if (!s.empty() && s.back() == '\n') s.pop_back();
      out.insert(s.substr(1));  // "./x" -> "/x"
    }
    if (p) ::pclose(p);
    return out;
  }
  std::string root;
  const std::map<std::string, std::string> no_own;
};


}  // namespace vsrv::cgroup::fakefs
