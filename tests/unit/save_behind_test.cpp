// Unit tests for runtime/save_behind.h: the state text written by a helper, which then closes the
// lock fd it was handed; and its failures reported by wait(), with nothing left behind.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "runtime/save_behind.h"

namespace vsrv::runtime {
namespace {

bool helpers_possible() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  return true;
#endif
}

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class SaveBehindTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/vsrv-savebehind-XXXXXX";
    ASSERT_NE(::mkdtemp(t), nullptr);
    dir = t;
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir).c_str()); }
  std::string dir;
};

TEST_F(SaveBehindTest, WritesOverTheOldFileAndThenClosesTheLock) {
  if (!helpers_possible()) GTEST_SKIP() << "a sanitizer build: SaveBehind starts no helper there (run saves inline)";
  const std::string path = dir + "/state.json";
  { std::ofstream(path) << "{\"status\":\"creating\"}"; }
  sys::unique_fd lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(lock);
  const int lock_no = lock.get();
  SaveBehind sb;
  std::string text(20000, 'x');  // more than one page, more than one write may take
  text.front() = '{', text.back() = '}';
  ASSERT_TRUE(sb.start(path, text, lock));
  EXPECT_FALSE(lock) << "the lock's fd belongs to the helper now";
  ASSERT_TRUE(sb.wait());
  EXPECT_EQ(slurp(path), text);
  EXPECT_EQ(::fcntl(lock_no, F_GETFD), -1) << "the helper closes the lock once the state is in place";
  EXPECT_EQ(errno, EBADF);
  struct stat st;
  EXPECT_NE(::stat((path + ".tmp." + std::to_string(::getpid())).c_str(), &st), 0) << "no temporary left";
}

TEST_F(SaveBehindTest, AFailedSaveIsReportedAndStillReleasesTheLock) {
  if (!helpers_possible()) GTEST_SKIP() << "a sanitizer build: SaveBehind starts no helper there (run saves inline)";
  sys::unique_fd lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(lock);
  const int lock_no = lock.get();
  SaveBehind sb;
  ASSERT_TRUE(sb.start(dir + "/missing/state.json", "{}", lock));
  auto r = sb.wait();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum, ENOENT);
  EXPECT_NE(r.error().message().find("open '" + dir + "/missing/state.json.tmp."), std::string::npos) << r.error().message();
  EXPECT_EQ(::fcntl(lock_no, F_GETFD), -1);
  EXPECT_TRUE(sb.wait()) << "a second wait has nothing left to report";
}

}  // namespace
}  // namespace vsrv::runtime
