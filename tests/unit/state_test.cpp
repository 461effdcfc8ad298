// Unit tests for container ids and the state directory (runtime/state.h), in a temp root.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

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

// A removed container's directory is kept, emptied, as <root>/.spare, and the next create
// renames it into place: no block freed and allocated (and on a `discard` mount no synchronous
// discard) per container. `list` never shows it; at most one is kept.
TEST_F(StateDir, ARemovedDirectoryIsTheNextCreatesSpare) {
  ::unsetenv("VSRV_STATE_SPARE");
  struct stat first, spare, st;
  {
    auto lk = create_dir_locked(root, "one");
    ASSERT_TRUE(lk);
    ASSERT_EQ(::fstat(lk->fd(), &first), 0);
    State s;
    s.id = "one";
    ASSERT_TRUE(save(root, s));
    for (const char* f : {"/one/state.json.tmp.123", "/one/exec.fifo"}) {
      int fd = ::open((root + f).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      ASSERT_GE(fd, 0);
      ::close(fd);
    }
  }
  ASSERT_TRUE(remove_dir(root, "one"));
  EXPECT_NE(::stat((root + "/one").c_str(), &st), 0);
  ASSERT_EQ(::stat((root + "/.spare").c_str(), &spare), 0);
  EXPECT_EQ(spare.st_ino, first.st_ino);
  EXPECT_EQ(spare.st_nlink, 2u) << "kept empty: every file in it went, listed or not";
  auto ids = list_ids(root);
  ASSERT_TRUE(ids);
  EXPECT_TRUE(ids->empty()) << "the spare is no container";
  auto two = create_dir_locked(root, "two");
  ASSERT_TRUE(two);
  ASSERT_EQ(::fstat(two->fd(), &st), 0);
  EXPECT_EQ(st.st_ino, first.st_ino) << "the spare was taken";
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  EXPECT_NE(::stat((root + "/.spare").c_str(), &st), 0);
  // Two removals: the first parks its directory, the second removes its own.
  auto three = create_dir_locked(root, "three");
  ASSERT_TRUE(three);
  ASSERT_TRUE(remove_dir(root, "two"));
  ASSERT_EQ(::stat((root + "/.spare").c_str(), &spare), 0);
  // A create of an existing id fails and leaves the spare where it is.
  auto dup = create_dir_locked(root, "three");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().context.find("already exists"), std::string::npos);
  EXPECT_EQ(::stat((root + "/.spare").c_str(), &st), 0);
  ASSERT_TRUE(remove_dir(root, "three"));
  EXPECT_NE(::stat((root + "/three").c_str(), &st), 0);
  ASSERT_EQ(::stat((root + "/.spare").c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, spare.st_ino) << "one spare at most";
  ids = list_ids(root);
  ASSERT_TRUE(ids);
  EXPECT_TRUE(ids->empty());
}

// Whatever is found in a spare (a person's file, an empty directory) is removed before a
// container gets it; something at .spare that is no directory is replaced by a new directory.
TEST_F(StateDir, ASpareIsEmptiedOrReplacedBeforeUse) {
  ::unsetenv("VSRV_STATE_SPARE");
  ASSERT_EQ(::mkdir((root + "/.spare").c_str(), 0711), 0);
  ASSERT_EQ(::mkdir((root + "/.spare/sub").c_str(), 0700), 0);
  int fd = ::open((root + "/.spare/junk").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto lk = create_dir_locked(root, "a");
  ASSERT_TRUE(lk) << lk.error().message();
  struct stat st;
  ASSERT_EQ(::stat((root + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u) << "emptied";
  EXPECT_NE(::stat((root + "/a/junk").c_str(), &st), 0);
  // Something that will not go (a directory with something in it): the spare goes back as it
  // was, and the container gets a new, empty directory.
  ASSERT_EQ(::mkdir((root + "/.spare").c_str(), 0711), 0);
  ASSERT_EQ(::mkdir((root + "/.spare/full").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((root + "/.spare/full/x").c_str(), 0700), 0);
  auto lk3 = create_dir_locked(root, "c");
  ASSERT_TRUE(lk3) << lk3.error().message();
  ASSERT_EQ(::stat((root + "/c").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u) << "a new, empty directory";
  EXPECT_EQ(::stat((root + "/.spare/full/x").c_str(), &st), 0) << "the spare, back as it was";
  ASSERT_EQ(::system(("rm -rf " + root + "/.spare").c_str()), 0);
  ASSERT_EQ(::symlink("/", (root + "/.spare").c_str()), 0);
  auto lk2 = create_dir_locked(root, "b");
  ASSERT_TRUE(lk2) << lk2.error().message();
  ASSERT_EQ(::lstat((root + "/b").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode)) << "a directory of its own, not the symlink";
  EXPECT_NE(::lstat((root + "/.spare").c_str(), &st), 0);
}

// VSRV_STATE_SPARE=0: a removal removes the directory, as before there was a spare.
TEST_F(StateDir, NoSpareWhenTurnedOff) {
  ::setenv("VSRV_STATE_SPARE", "0", 1);
  auto lk = create_dir_locked(root, "off");
  ASSERT_TRUE(lk);
  ASSERT_TRUE(remove_dir(root, "off"));
  ::unsetenv("VSRV_STATE_SPARE");
  struct stat st;
  EXPECT_NE(::stat((root + "/off").c_str(), &st), 0);
  EXPECT_NE(::stat((root + "/.spare").c_str(), &st), 0);
}

// A lock won on a directory that was meanwhile removed and recycled under another id guards
// nothing: lock() takes it again on what is at the path now, or says the container is gone.
TEST_F(StateDir, ALockOnARecycledDirectoryIsNotKept) {
  ::unsetenv("VSRV_STATE_SPARE");
  auto a = create_dir_locked(root, "a");
  ASSERT_TRUE(a);
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Waits for a's lock; meanwhile a is removed and its directory becomes b's. (Not holding
    // the parent's: a flock belongs to the open file, which fork shared.)
    ::close(a->fd());
    auto l = vsrv::runtime::lock(root, "a");
    char c = l ? 'k' : l.error().context == "container 'a' does not exist" ? 'g' : 'e';
    (void)!::write(pipefd[1], &c, 1);
    _exit(0);
  }
  ::close(pipefd[1]);
  ::usleep(100 * 1000);  // the child is blocked in flock() by now (if not, it finds a gone)
  ASSERT_TRUE(remove_dir(root, "a"));
  // What the next create does with the spare (create_dir_locked() itself would wait for our lock).
  ASSERT_EQ(::rename((root + "/.spare").c_str(), (root + "/b").c_str()), 0);
  *a = Lock{};  // the child wins the flock on the directory that is b's now
  char c = 0;
  ASSERT_EQ(::read(pipefd[0], &c, 1), 1);
  ::close(pipefd[0]);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(c, 'g') << "the child kept a lock on what is now b's directory";
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
