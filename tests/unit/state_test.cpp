// Unit tests for container ids and the state directory (runtime/state.h), in a temp root.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/state.h"

using namespace vsrv::runtime;

TEST(StateId, AcceptsRuncIds) {
  EXPECT_TRUE(validate_id("abc"));
  EXPECT_TRUE(validate_id("a.b_c-d+e"));
  EXPECT_TRUE(validate_id(std::string(64, 'f')));
}

TEST(StateId, RefusesPathCharacters) {
  for (const char* bad : {"", "..", ".", "a/b", "../x", "/abs", "a b", "-lead", "x\n"}) {
    auto r = validate_id(bad);
    EXPECT_FALSE(r) << bad;
  }
}

class StateDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vsrv-state-XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    root = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + root).c_str()); }
  std::string root;
};

TEST_F(StateDir, SaveLoadRoundTrip) {
  auto lk = create_dir_locked(root, "c1");
  ASSERT_TRUE(lk);
  State s;
  s.id = "c1";
  s.status = Status::Created;
  s.pid = 1234;
  s.start_time = 99;
  s.bundle = "/b";
  s.annotations = {{"k", "v"}};
  ASSERT_TRUE(save(root, s));
  auto l = load(root, "c1");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->status, Status::Created);
  EXPECT_EQ(l->pid, 1234);
  EXPECT_EQ(l->annotations.at("k"), "v");
}

// The root is made (0711, every missing level) when the first container's mkdir finds it missing.
TEST_F(StateDir, AMissingRootIsMadeForTheFirstContainer) {
  std::string deep = root + "/a/b/state";
  auto lk = create_dir_locked(deep, "first");
  ASSERT_TRUE(lk) << lk.error().message();
  struct stat st;
  ASSERT_EQ(::stat(deep.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  EXPECT_EQ(::stat((deep + "/first").c_str(), &st), 0);
  auto again = create_dir_locked(deep, "second");
  EXPECT_TRUE(again) << "and used as it is afterwards";
}

TEST_F(StateDir, DuplicateIdIsRefused) {
  auto a = create_dir_locked(root, "dup");
  ASSERT_TRUE(a);
  auto b = create_dir_locked(root, "dup");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().context.find("already exists"), std::string::npos);
}

// The lock is a flock on the container's directory: no file is made for it, the fd is a
// close-on-exec directory fd, and a second locker waits (here: is refused without blocking).
TEST_F(StateDir, TheLockIsTheDirectoryItselfAndExcludesOthers) {
  auto lk = create_dir_locked(root, "lk");
  ASSERT_TRUE(lk);
  struct stat st;
  EXPECT_NE(::stat((root + "/lk/lock").c_str(), &st), 0) << "no lock file";
  ASSERT_EQ(::fstat(lk->fd(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(::fcntl(lk->fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  int other = ::open((root + "/lk").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(other, 0);
  EXPECT_NE(::flock(other, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(errno, EWOULDBLOCK);
  *lk = Lock{};
  EXPECT_EQ(::flock(other, LOCK_EX | LOCK_NB), 0) << "released with the Lock";
  ::close(other);
  auto gone = vsrv::runtime::lock(root, "nope");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().context, "container 'nope' does not exist");
}

// A state dir left by an older vsrv, which locked a `lock` file in it, still goes.
TEST_F(StateDir, RemoveDirTakesAnOldLockFileToo) {
  ASSERT_EQ(::mkdir((root + "/old").c_str(), 0711), 0);
  for (const char* f : {"/old/lock", "/old/state.json"}) {
    int fd = ::open((root + f).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  ASSERT_TRUE(remove_dir(root, "old"));
  struct stat st;
  EXPECT_NE(::stat((root + "/old").c_str(), &st), 0);
}

TEST_F(StateDir, UnknownIdSaysDoesNotExist) {
  auto l = load(root, "nope");
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().context, "container 'nope' does not exist");
}

TEST_F(StateDir, DeadPidReadsAsStopped) {
  auto lk = create_dir_locked(root, "c2");
  ASSERT_TRUE(lk);
  State s;
  s.id = "c2";
  s.status = Status::Running;
  s.pid = getpid();
  s.start_time = 1;  // wrong start time: a recycled pid must not count as ours
  ASSERT_TRUE(save(root, s));
  auto l = load_live(root, "c2");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->status, Status::Stopped);
}

TEST_F(StateDir, RemoveDirLeavesNothing) {
  auto lk = create_dir_locked(root, "c3");
  ASSERT_TRUE(lk);
  State s;
  s.id = "c3";
  ASSERT_TRUE(save(root, s));
  ASSERT_TRUE(remove_dir(root, "c3"));
  struct stat st;
  EXPECT_NE(stat((root + "/c3").c_str(), &st), 0);
  // Files beyond the ones removed by name (a crashed save's temporary, an exec.fifo) are found
  // by listing the directory.
  auto lk2 = create_dir_locked(root, "c4");
  ASSERT_TRUE(lk2);
  s.id = "c4";
  ASSERT_TRUE(save(root, s));
  for (const char* f : {"/c4/state.json.tmp.123", "/c4/exec.fifo"}) {
    int fd = ::open((root + f).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  ASSERT_TRUE(remove_dir(root, "c4"));
  EXPECT_NE(stat((root + "/c4").c_str(), &st), 0);
  // An already removed directory is not an error.
  EXPECT_TRUE(remove_dir(root, "c4"));
}

TEST_F(StateDir, OciStateJsonHasSpecFields) {
  State s;
  s.id = "x";
  s.status = Status::Running;
  s.pid = 7;
  s.bundle = "/b";
  std::string j = oci_state_json(s);
  for (const char* f : {"\"ociVersion\"", "\"id\": \"x\"", "\"status\": \"running\"", "\"pid\": 7", "\"bundle\": \"/b\""})
    EXPECT_NE(j.find(f), std::string::npos) << f;
}
